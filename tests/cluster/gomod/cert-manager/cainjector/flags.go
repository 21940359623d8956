package main

import (
	"github.com/spf13/pflag"
	cliflag "k8s.io/component-base/cli/flag"

	config "github.com/cert-manager/cert-manager/internal/apis/config/cainjector"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
)

// addFlags binds the flags the v1.21.2 chart's cainjector-deployment.yaml can pass, plus those
// needed outside a pod, under upstream's names and onto the same configuration fields. Every
// other setting is reachable through --config (a CAInjectorConfiguration file); any other
// flag is an error.
func addFlags(fs *pflag.FlagSet, c *config.CAInjectorConfiguration, configPath *string) {
	fs.StringVar(configPath, "config", "", "CAInjectorConfiguration file (the chart mounts it from its config value); flags override it")

	fs.StringVar(&c.KubeConfig, "kubeconfig", c.KubeConfig, "kubeconfig of the API server; without it $KUBECONFIG, the pod's service account or ~/.kube/config")
	fs.StringVar(&c.Namespace, "namespace", c.Namespace, "inject only into objects in this namespace; empty means all")

	fs.BoolVar(&c.LeaderElectionConfig.Enabled, "leader-elect", c.LeaderElectionConfig.Enabled, "inject only while holding the Lease, so that one replica works at a time")
	fs.StringVar(&c.LeaderElectionConfig.Namespace, "leader-election-namespace", c.LeaderElectionConfig.Namespace, "namespace of the leader election Lease")
	fs.DurationVar(&c.LeaderElectionConfig.LeaseDuration, "leader-election-lease-duration", c.LeaderElectionConfig.LeaseDuration, "how long a Lease that is not renewed keeps other replicas waiting")
	fs.DurationVar(&c.LeaderElectionConfig.RenewDeadline, "leader-election-renew-deadline", c.LeaderElectionConfig.RenewDeadline, "how long the leader keeps trying to renew before it gives up leading (at most the lease duration)")
	fs.DurationVar(&c.LeaderElectionConfig.RetryPeriod, "leader-election-retry-period", c.LeaderElectionConfig.RetryPeriod, "interval between attempts to acquire or renew the Lease")

	fs.Var(cliflag.NewMapStringBool(&c.FeatureGates), "feature-gates", "feature gates as name=true|false pairs, comma-separated")
	// The chart passes --metrics-listen-address=0 (off) when prometheus.enabled is false.
	fs.StringVar(&c.MetricsListenAddress, "metrics-listen-address", c.MetricsListenAddress, "host:port of the Prometheus metrics server; 0 turns it off")

	logf.AddFlags(&c.Logging, fs)
}
