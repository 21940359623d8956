package main

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cert-manager/cert-manager/internal/controller/feature"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"
)

// parse runs the command line up to the point where the controller would start.
func parse(t *testing.T, args ...string) (*command, error) {
	t.Helper()
	c := newCommand(args, nil)
	if err := c.ParseFlags(args); err != nil {
		return c, err
	}
	return c, c.complete(args)
}

// Every flag the v1.21.2 chart's deployment.yaml can render, in the form it renders them.
func TestChartFlagsSetUpstreamFields(t *testing.T) {
	c, err := parse(t, "--v=2", "--cluster-resource-namespace=cert-manager",
		"--leader-election-namespace=kube-system", "--leader-election-lease-duration=61s",
		"--leader-election-renew-deadline=41s", "--leader-election-retry-period=16s",
		"--acme-http01-solver-image=quay.io/jetstack/cert-manager-acmesolver:v1.21.2",
		"--default-issuer-name=selfsigned-ca", "--default-issuer-kind=ClusterIssuer", "--default-issuer-group=cert-manager.io",
		"--feature-gates=ACMEUseARI=true", "--acme-http01-solver-extra-labels=team=ml",
		"--acme-http01-solver-extra-labels=tier=edge", "--max-concurrent-challenges=30",
		"--enable-certificate-owner-ref=true", "--dns01-recursive-nameservers-only=true",
		"--dns01-recursive-nameservers=8.8.8.8:53,1.1.1.1:53", "--controllers=-certificaterequests-approver",
		"--acme-http01-solver-runtime-class-name=gvisor")
	if err != nil {
		t.Fatal(err)
	}
	cfg := c.cfg
	le := cfg.LeaderElectionConfig
	for name, ok := range map[string]bool{
		"logging verbosity":       cfg.Logging.Verbosity == 2,
		"cluster resource ns":     cfg.ClusterResourceNamespace == "cert-manager",
		"leader election":         le.Enabled && le.Namespace == "kube-system",
		"lease timings":           le.LeaseDuration == 61*time.Second && le.RenewDeadline == 41*time.Second && le.RetryPeriod == 16*time.Second,
		"solver image":            cfg.ACMEHTTP01Config.SolverImage == "quay.io/jetstack/cert-manager-acmesolver:v1.21.2",
		"solver runtime class":    cfg.ACMEHTTP01Config.SolverRuntimeClassName == "gvisor",
		"solver labels add up":    reflect.DeepEqual(cfg.ACMEHTTP01Config.SolverExtraLabels, map[string]string{"team": "ml", "tier": "edge"}),
		"default issuer":          cfg.IngressShimConfig.DefaultIssuerName == "selfsigned-ca" && cfg.IngressShimConfig.DefaultIssuerKind == "ClusterIssuer" && cfg.IngressShimConfig.DefaultIssuerGroup == "cert-manager.io",
		"feature gate applied":    utilfeature.DefaultFeatureGate.Enabled(feature.ACMEUseARI),
		"max challenges":          cfg.MaxConcurrentChallenges == 30,
		"owner ref":               cfg.EnableCertificateOwnerRef,
		"recursive nameservers":   cfg.ACMEDNS01Config.RecursiveNameserversOnly && reflect.DeepEqual(cfg.ACMEDNS01Config.RecursiveNameservers, []string{"8.8.8.8:53", "1.1.1.1:53"}),
		"defaults kept (metrics)": cfg.MetricsListenAddress == "0.0.0.0:9402" && cfg.HealthzListenAddress == "0.0.0.0:9403",
	} {
		if !ok {
			t.Errorf("%s: not as upstream sets it", name)
		}
	}
	enabled := enabledControllers(cfg)
	if enabled.Has("certificaterequests-approver") || !enabled.Has("certificaterequests-issuer-ca") || !enabled.Has("ingress-shim") {
		t.Errorf("--controllers=-certificaterequests-approver must mean all defaults but the approver, got %v", enabled.UnsortedList())
	}
}

func TestConfigFileSitsUnderFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	file := "apiVersion: controller.config.cert-manager.io/v1alpha1\nkind: ControllerConfiguration\n" +
		"maxConcurrentChallenges: 7\nkubernetesAPIQPS: 100\nkubernetesAPIBurst: 200\nleaderElectionConfig: {namespace: from-file}\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parse(t, "--config="+path, "--max-concurrent-challenges=9")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.cfg; got.MaxConcurrentChallenges != 9 || got.KubernetesAPIQPS != 100 || got.LeaderElectionConfig.Namespace != "from-file" {
		t.Errorf("want the flag's 9 challenges over the file's 7 and the file's QPS and namespace, got %d, %v, %q",
			got.MaxConcurrentChallenges, got.KubernetesAPIQPS, got.LeaderElectionConfig.Namespace)
	}
}

func TestRejectsWhatUpstreamRejects(t *testing.T) {
	for _, tc := range []struct{ arg, want string }{
		{"--no-such-flag", "unknown flag: --no-such-flag"},
		{"--controllers=*,-no-such-controller", "is not in the list of known controllers"},
		{"--dns01-recursive-nameservers=8.8.8.8", "must be in the format <ip address>:<port>"},
		{"--config=/nonexistent/config.yaml", "failed to load config file /nonexistent/config.yaml"},
		// Last: the process-wide feature gate keeps a rejected gate, failing every later SetFromMap.
		{"--feature-gates=NoSuchGate=true", "unrecognized feature gate: NoSuchGate"},
	} {
		if _, err := parse(t, tc.arg); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: want an error containing %q, got %v", tc.arg, tc.want, err)
		}
	}
}
