package main

import (
	"strings"

	"github.com/spf13/pflag"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	cliflag "k8s.io/component-base/cli/flag"

	config "github.com/cert-manager/cert-manager/internal/apis/config/controller"
	defaults "github.com/cert-manager/cert-manager/internal/apis/config/controller/v1alpha1"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
)

// addFlags binds the flags the v1.21.2 chart's deployment.yaml can pass, plus those needed to
// run the controller outside a pod, under upstream's names and onto the same configuration
// fields. Every other setting is reachable through --config (a ControllerConfiguration file,
// which the chart writes from its `config` value); any other flag is an error.
func addFlags(fs *pflag.FlagSet, c *config.ControllerConfiguration, configPath *string) {
	fs.StringVar(configPath, "config", "", "ControllerConfiguration file (the chart mounts it from its config value); flags override it")

	// Out of a pod: where the API server is (in a pod the service account is used).
	fs.StringVar(&c.KubeConfig, "kubeconfig", c.KubeConfig, "kubeconfig of the API server; without it (and --master) the pod's service account is used")
	fs.StringVar(&c.APIServerHost, "master", c.APIServerHost, "API server address, overriding the kubeconfig's")
	fs.StringVar(&c.Namespace, "namespace", c.Namespace, "watch only this namespace (ClusterIssuers are then off); empty watches all")
	fs.StringVar(&c.ClusterResourceNamespace, "cluster-resource-namespace", c.ClusterResourceNamespace, "namespace holding the Secrets that ClusterIssuers refer to")

	fs.BoolVar(&c.LeaderElectionConfig.Enabled, "leader-elect", c.LeaderElectionConfig.Enabled, "run the control loops only while holding the Lease, so that one replica works at a time")
	fs.StringVar(&c.LeaderElectionConfig.Namespace, "leader-election-namespace", c.LeaderElectionConfig.Namespace, "namespace of the leader election Lease")
	fs.DurationVar(&c.LeaderElectionConfig.LeaseDuration, "leader-election-lease-duration", c.LeaderElectionConfig.LeaseDuration, "how long a Lease that is not renewed keeps other replicas waiting")
	fs.DurationVar(&c.LeaderElectionConfig.RenewDeadline, "leader-election-renew-deadline", c.LeaderElectionConfig.RenewDeadline, "how long the leader keeps trying to renew before it gives up leading (at most the lease duration)")
	fs.DurationVar(&c.LeaderElectionConfig.RetryPeriod, "leader-election-retry-period", c.LeaderElectionConfig.RetryPeriod, "interval between attempts to acquire or renew the Lease")

	fs.StringSliceVar(&c.Controllers, "controllers", c.Controllers, "control loops to run: * for the default set, a name to add one, -name to leave one out; known: "+strings.Join(defaults.AllControllers, ", "))

	fs.StringVar(&c.ACMEHTTP01Config.SolverImage, "acme-http01-solver-image", c.ACMEHTTP01Config.SolverImage, "image of the ACME HTTP-01 solver pods")
	fs.StringVar(&c.ACMEHTTP01Config.SolverRuntimeClassName, "acme-http01-solver-runtime-class-name", c.ACMEHTTP01Config.SolverRuntimeClassName, "RuntimeClass of the ACME HTTP-01 solver pods")
	// The chart passes one --acme-http01-solver-extra-labels=key=value per label; the values accumulate.
	fs.Var(cliflag.NewMapStringString(&c.ACMEHTTP01Config.SolverExtraLabels), "acme-http01-solver-extra-labels", "label key=value for the ACME HTTP-01 solver pods; repeat for more")
	fs.StringSliceVar(&c.ACMEDNS01Config.RecursiveNameservers, "dns01-recursive-nameservers", c.ACMEDNS01Config.RecursiveNameservers, "resolvers for the DNS-01 self check, host:port or https:// DNS-over-HTTPS URLs, comma-separated")
	fs.BoolVar(&c.ACMEDNS01Config.RecursiveNameserversOnly, "dns01-recursive-nameservers-only", c.ACMEDNS01Config.RecursiveNameserversOnly, "ask only the --dns01-recursive-nameservers, never the authoritative ones")
	fs.IntVar(&c.MaxConcurrentChallenges, "max-concurrent-challenges", c.MaxConcurrentChallenges, "how many ACME challenges may be processing at once")

	fs.StringVar(&c.IngressShimConfig.DefaultIssuerName, "default-issuer-name", c.IngressShimConfig.DefaultIssuerName, "issuer for annotated Ingresses that name none")
	fs.StringVar(&c.IngressShimConfig.DefaultIssuerKind, "default-issuer-kind", c.IngressShimConfig.DefaultIssuerKind, "kind of the default issuer (Issuer or ClusterIssuer)")
	fs.StringVar(&c.IngressShimConfig.DefaultIssuerGroup, "default-issuer-group", c.IngressShimConfig.DefaultIssuerGroup, "API group of the default issuer")
	fs.BoolVar(&c.EnableCertificateOwnerRef, "enable-certificate-owner-ref", c.EnableCertificateOwnerRef, "make each Certificate the owner of its Secret, so deleting it deletes the Secret")
	fs.Var(cliflag.NewMapStringBool(&c.FeatureGates), "feature-gates", "feature gates as name=true|false pairs, comma-separated")

	// Defaults bind 0.0.0.0 (a pod's own network); outside a pod these move them to loopback.
	fs.StringVar(&c.MetricsListenAddress, "metrics-listen-address", c.MetricsListenAddress, "host:port of the Prometheus metrics server")
	fs.StringVar(&c.HealthzListenAddress, "internal-healthz-listen-address", c.HealthzListenAddress, "host:port of the /livez server the liveness probe calls")
	utilruntime.Must(fs.MarkHidden("internal-healthz-listen-address"))

	logf.AddFlags(&c.Logging, fs)
}
