package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"

	"golang.org/x/sync/errgroup"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"

	config "github.com/cert-manager/cert-manager/internal/apis/config/controller"
	"github.com/cert-manager/cert-manager/internal/controller/feature"
	"github.com/cert-manager/cert-manager/internal/pem"
	"github.com/cert-manager/cert-manager/mlflow-k8s-local/internal/cli"
	"github.com/cert-manager/cert-manager/pkg/controller"
	"github.com/cert-manager/cert-manager/pkg/healthz"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/server"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"
	"github.com/cert-manager/cert-manager/pkg/util/profiling"
)

// run serves metrics (:9402) and /livez (:9403) at once, and starts the control loops only
// once this instance leads (Lease cert-manager-controller), like upstream: the chart's
// liveness probe watches /livez, which fails when leader election stalls.
func run(ctx context.Context, c *config.ControllerConfiguration) error {
	log := logf.FromContext(ctx)
	cli.LogStart(log, component)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	limits := c.PEMSizeLimitsConfig
	pem.SetGlobalSizeLimits(pem.NewSizeLimitsFromConfig(limits.MaxCertificateSize, limits.MaxPrivateKeySize, limits.MaxChainLength, limits.MaxBundleSize))

	factory, err := newContextFactory(ctx, c)
	if err != nil {
		return err
	}
	base, err := factory.Build()
	if err != nil {
		return err
	}
	enabled := enabledControllers(c)
	log.Info(fmt.Sprintf("enabled controllers: %s", sets.List(enabled)))

	g, gctx := errgroup.WithContext(ctx)
	if err := serveMetrics(gctx, g, c, base); err != nil {
		return err
	}
	if c.EnablePprof {
		mux := http.NewServeMux()
		profiling.Install(mux)
		if err := cli.ServeHTTP(gctx, g, c.PprofAddress, &http.Server{Handler: mux, ReadHeaderTimeout: cli.ReadHeaderTimeout}); err != nil {
			return fmt.Errorf("failed to listen on profiler address %s: %w", c.PprofAddress, err)
		}
	}
	livez := healthz.NewServer(c.LeaderElectionConfig.HealthzTimeout)
	var lc net.ListenConfig
	healthzListener, err := lc.Listen(ctx, "tcp", c.HealthzListenAddress)
	if err != nil {
		return fmt.Errorf("failed to listen on healthz address %s: %w", c.HealthzListenAddress, err)
	}
	g.Go(func() error { return livez.Start(gctx, healthzListener) })

	elected := make(chan struct{})
	if c.LeaderElectionConfig.Enabled {
		g.Go(func() error { return leadOrFail(gctx, c, factory, livez.LeaderHealthzAdaptor, elected) })
	} else {
		close(elected)
	}
	select {
	case <-gctx.Done():
		return g.Wait()
	case <-elected:
	}

	for name, newController := range controller.Known() {
		if !enabled.Has(name) {
			log.V(logf.DebugLevel).Info("skipping disabled controller", "controller", name)
			continue
		}
		loop, err := newController(factory)
		if err != nil {
			cancel()
			return errors.Join(fmt.Errorf("error starting controller %s: %w", name, err), g.Wait())
		}
		g.Go(func() error {
			log.V(logf.InfoLevel).Info("starting controller", "controller", name)
			return loop.Run(c.NumberOfConcurrentWorkers, gctx)
		})
	}

	// The loops registered their informers on the shared factories while being built.
	base.SharedInformerFactory.Start(gctx.Done())
	base.KubeSharedInformerFactory.Start(gctx.Done())
	base.HTTP01ResourceMetadataInformersFactory.Start(gctx.Done())
	gateway := utilfeature.DefaultFeatureGate.Enabled(feature.ExperimentalGatewayAPISupport) && c.GatewayAPIConfig.Enabled
	if gateway {
		base.GWShared.Start(gctx.Done())
	}
	err = g.Wait()
	if gateway {
		base.GWShared.Shutdown()
	}
	base.HTTP01ResourceMetadataInformersFactory.Shutdown()
	base.KubeSharedInformerFactory.Shutdown()
	base.SharedInformerFactory.Shutdown()
	if err != nil {
		return fmt.Errorf("error running controllers: %w", err)
	}
	log.V(logf.InfoLevel).Info("control loops exited")
	return nil
}

// serveMetrics exposes the Prometheus registry, with the collectors that report on
// Certificates, Issuers, ClusterIssuers and Challenges from the shared informers' caches.
func serveMetrics(ctx context.Context, g *errgroup.Group, c *config.ControllerConfiguration, base *controller.Context) error {
	log := logf.FromContext(ctx)
	cm := base.SharedInformerFactory
	base.Metrics.SetupCertificateCollector(cm.Certmanager().V1().Certificates().Lister())
	base.Metrics.SetupIssuerCollector(cm.Certmanager().V1().Issuers().Lister())
	base.Metrics.SetupACMECollector(cm.Acme().V1().Challenges().Lister())
	if c.Namespace == "" {
		base.Metrics.SetupClusterIssuerCollector(cm.Certmanager().V1().ClusterIssuers().Lister())
	}

	source := cli.CertificateSource(log, c.MetricsTLSConfig, base.RESTConfig, "cert-manager")
	if source != nil {
		g.Go(func() error {
			if err := source.Start(ctx); err != nil && !errors.Is(err, context.Canceled) {
				return err
			}
			return nil
		})
	}
	ln, err := server.Listen(ctx, "tcp", c.MetricsListenAddress,
		server.WithCertificateSource(source),
		server.WithTLSCipherSuites(c.MetricsTLSConfig.CipherSuites),
		server.WithTLSMinVersion(c.MetricsTLSConfig.MinTLSVersion),
	)
	if err != nil {
		return fmt.Errorf("failed to listen on prometheus address %s: %w", c.MetricsListenAddress, err)
	}
	log.V(logf.InfoLevel).Info("starting metrics server", "address", ln.Addr(), "tls", source != nil)
	cli.Serve(ctx, g, base.Metrics.NewServer(ln), ln)
	return nil
}

// leadOrFail campaigns for the Lease and closes elected on winning; losing it later is an error,
// which stops the process so that the pod restarts and campaigns again.
func leadOrFail(ctx context.Context, c *config.ControllerConfiguration, factory *controller.ContextFactory, watchdog *leaderelection.HealthzAdaptor, elected chan<- struct{}) error {
	le, err := factory.Build("leader-election")
	if err != nil {
		return err
	}
	host, err := os.Hostname()
	if err != nil {
		return fmt.Errorf("error getting hostname: %w", err)
	}
	lock, err := resourcelock.New(resourcelock.LeasesResourceLock, c.LeaderElectionConfig.Namespace, "cert-manager-controller",
		le.Client.CoreV1(), le.Client.CoordinationV1(),
		resourcelock.ResourceLockConfig{Identity: host + "-external-cert-manager-controller", EventRecorder: le.Recorder})
	if err != nil {
		return fmt.Errorf("error creating leader election lock: %w", err)
	}
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   c.LeaderElectionConfig.LeaseDuration,
		RenewDeadline:   c.LeaderElectionConfig.RenewDeadline,
		RetryPeriod:     c.LeaderElectionConfig.RetryPeriod,
		ReleaseOnCancel: true,
		WatchDog:        watchdog,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) { close(elected) },
			OnStoppedLeading: func() {},
		},
	})
	if err != nil {
		return err
	}
	// Run returns when ctx ends or when the lease could not be renewed in time.
	elector.Run(ctx)
	if ctx.Err() != nil {
		return nil
	}
	return errors.New("leader election lost")
}
