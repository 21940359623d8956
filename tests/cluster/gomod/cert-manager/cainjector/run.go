package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apiext "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	kscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	cliflag "k8s.io/component-base/cli/flag"
	apireg "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	config "github.com/cert-manager/cert-manager/internal/apis/config/cainjector"
	"github.com/cert-manager/cert-manager/internal/kube"
	"github.com/cert-manager/cert-manager/mlflow-k8s-local/internal/cli"
	cmscheme "github.com/cert-manager/cert-manager/pkg/client/clientset/versioned/scheme"
	"github.com/cert-manager/cert-manager/pkg/controller/cainjector"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	servertls "github.com/cert-manager/cert-manager/pkg/server/tls"
	"github.com/cert-manager/cert-manager/pkg/util"
	"github.com/cert-manager/cert-manager/pkg/util/profiling"
)

const managedBy = "cert-manager-cainjector"

// run starts a controller-runtime manager with one reconciler per injectable kind; only the
// leader (Lease cert-manager-cainjector-leader-election) reconciles.
func run(ctx context.Context, c *config.CAInjectorConfiguration) error {
	log := logf.FromContext(ctx)
	cli.LogStart(log, component)

	restConfig, err := restConfig(c)
	if err != nil {
		return fmt.Errorf("error creating rest config: %w", err)
	}
	restConfig = util.RestConfigWithUserAgent(restConfig, component)

	metricsSource := cli.CertificateSource(log, c.MetricsTLSConfig, restConfig, managedBy)
	metrics, err := metricsOptions(c, metricsSource)
	if err != nil {
		return err
	}

	scheme := runtime.NewScheme()
	utilruntime.Must(kscheme.AddToScheme(scheme))
	utilruntime.Must(cmscheme.AddToScheme(scheme))
	utilruntime.Must(apiext.AddToScheme(scheme))
	utilruntime.Must(apireg.AddToScheme(scheme))

	var namespaces map[string]cache.Config
	if c.Namespace != "" {
		namespaces = map[string]cache.Config{c.Namespace: {}}
	}
	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme: scheme,
		Cache:  cache.Options{ReaderFailOnMissingInformer: true, DefaultNamespaces: namespaces},
		// Secrets are read directly, never cached: a cluster's Secrets (Helm releases, tokens)
		// can be many and large, and caching them all costs memory and a heavy initial LIST.
		Client:                        client.Options{Cache: &client.CacheOptions{DisableFor: []client.Object{&corev1.Secret{}}}},
		LeaderElection:                c.LeaderElectionConfig.Enabled,
		LeaderElectionNamespace:       c.LeaderElectionConfig.Namespace,
		LeaderElectionID:              "cert-manager-cainjector-leader-election",
		LeaderElectionReleaseOnCancel: true,
		LeaderElectionLabels:          map[string]string{"app.kubernetes.io/managed-by": managedBy},
		LeaderElectionResourceLock:    resourcelock.LeasesResourceLock,
		LeaseDuration:                 &c.LeaderElectionConfig.LeaseDuration,
		RenewDeadline:                 &c.LeaderElectionConfig.RenewDeadline,
		RetryPeriod:                   &c.LeaderElectionConfig.RetryPeriod,
		Metrics:                       metrics,
	})
	if err != nil {
		return fmt.Errorf("error creating manager: %w", err)
	}
	if metricsSource != nil {
		if err := mgr.Add(metricsSource); err != nil {
			return err
		}
	}
	if c.EnablePprof {
		if err := addProfiler(mgr, c.PprofAddress); err != nil {
			return err
		}
	}
	if c.EnableDataSourceConfig.Certificates {
		if err := waitForCertificateCRD(ctx, mgr); err != nil {
			return err
		}
	}

	err = cainjector.RegisterAllInjectors(ctx, mgr, cainjector.SetupOptions{
		Namespace:                    c.Namespace,
		IgnoreNamespaces:             c.IgnoreNamespaces,
		EnableCertificatesDataSource: c.EnableDataSourceConfig.Certificates,
		EnabledReconcilersFor: map[string]bool{
			cainjector.MutatingWebhookConfigurationName:   c.EnableInjectableConfig.MutatingWebhookConfigurations,
			cainjector.ValidatingWebhookConfigurationName: c.EnableInjectableConfig.ValidatingWebhookConfigurations,
			cainjector.APIServiceName:                     c.EnableInjectableConfig.APIServices,
			cainjector.CustomResourceDefinitionName:       c.EnableInjectableConfig.CustomResourceDefinitions,
		},
	})
	if err != nil {
		return fmt.Errorf("failed to register controllers: %w", err)
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("error running manager: %w", err)
	}
	return nil
}

// restConfig uses --kubeconfig when given, otherwise controller-runtime's lookup as upstream
// does: $KUBECONFIG, the in-cluster service account, then ~/.kube/config.
func restConfig(c *config.CAInjectorConfiguration) (*rest.Config, error) {
	if c.KubeConfig != "" {
		return kube.BuildClientConfig("", c.KubeConfig)
	}
	return ctrl.GetConfig()
}

func metricsOptions(c *config.CAInjectorConfiguration, source servertls.CertificateSource) (metricsserver.Options, error) {
	opts := metricsserver.Options{BindAddress: c.MetricsListenAddress}
	if source == nil {
		return opts, nil
	}
	suites, err := cliflag.TLSCipherSuites(c.MetricsTLSConfig.CipherSuites)
	if err != nil {
		return opts, err
	}
	minVersion, err := cliflag.TLSVersion(c.MetricsTLSConfig.MinTLSVersion)
	if err != nil {
		return opts, err
	}
	opts.SecureServing = true
	opts.TLSOpts = []func(*tls.Config){func(cfg *tls.Config) {
		cfg.CipherSuites = suites
		cfg.MinVersion = minVersion
		cfg.GetCertificate = source.GetCertificate
	}}
	return opts, nil
}

// waitForCertificateCRD gives the CRDs up to 5 minutes to appear: Certificates are a CA source.
func waitForCertificateCRD(ctx context.Context, mgr ctrl.Manager) error {
	log := logf.FromContext(ctx)
	direct, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
	if err != nil {
		return fmt.Errorf("failed to create client: %w", err)
	}
	err = wait.PollUntilContextTimeout(ctx, time.Second, 5*time.Minute, true, func(ctx context.Context) (bool, error) {
		var crd apiext.CustomResourceDefinition
		err := direct.Get(ctx, types.NamespacedName{Name: "certificates.cert-manager.io"}, &crd)
		if apierrors.IsNotFound(err) {
			log.Info("waiting for CRD certificates.cert-manager.io: Certificates are a CA source (enableDataSourceConfig.certificates)")
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return fmt.Errorf("error retrieving certificate.cert-manager.io CRDs: %w", err)
	}
	return nil
}

// addProfiler serves pprof on every replica, leader or not.
func addProfiler(mgr ctrl.Manager, addr string) error {
	mux := http.NewServeMux()
	profiling.Install(mux)
	return mgr.Add(everyReplica(func(ctx context.Context) error {
		var g errgroup.Group
		if err := cli.ServeHTTP(ctx, &g, addr, &http.Server{Handler: mux, ReadHeaderTimeout: cli.ReadHeaderTimeout}); err != nil {
			return fmt.Errorf("failed to listen on profiler address %s: %w", addr, err)
		}
		return g.Wait()
	}))
}

// everyReplica is a manager runnable that runs whether or not this replica leads.
type everyReplica func(context.Context) error

func (r everyReplica) Start(ctx context.Context) error { return r(ctx) }

func (everyReplica) NeedLeaderElection() bool { return false }
