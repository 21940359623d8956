package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func parse(t *testing.T, args ...string) (*command, error) {
	t.Helper()
	c := newCommand(args, nil)
	if err := c.ParseFlags(args); err != nil {
		return c, err
	}
	return c, c.complete(args)
}

// Every flag the v1.21.2 chart's cainjector-deployment.yaml can render.
func TestChartFlagsSetUpstreamFields(t *testing.T) {
	c, err := parse(t, "--v=2", "--leader-election-namespace=kube-system", "--leader-election-lease-duration=61s",
		"--leader-election-renew-deadline=41s", "--leader-election-retry-period=16s",
		"--feature-gates=CAInjectorMerging=true", "--metrics-listen-address=0")
	if err != nil {
		t.Fatal(err)
	}
	cfg, le := c.cfg, c.cfg.LeaderElectionConfig
	if cfg.Logging.Verbosity != 2 || !le.Enabled || le.Namespace != "kube-system" || le.LeaseDuration != 61*time.Second ||
		le.RenewDeadline != 41*time.Second || le.RetryPeriod != 16*time.Second || !cfg.FeatureGates["CAInjectorMerging"] ||
		cfg.MetricsListenAddress != "0" {
		t.Errorf("chart flags not applied as upstream applies them")
	}
	inj := cfg.EnableInjectableConfig
	if !cfg.EnableDataSourceConfig.Certificates || !inj.ValidatingWebhookConfigurations || !inj.MutatingWebhookConfigurations ||
		!inj.CustomResourceDefinitions || !inj.APIServices {
		t.Errorf("upstream's defaults inject into every kind from Certificates and Secrets")
	}
}

func TestConfigFileSitsUnderFlags(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	file := "apiVersion: cainjector.config.cert-manager.io/v1alpha1\nkind: CAInjectorConfiguration\n" +
		"namespace: from-file\nleaderElectionConfig: {namespace: from-file}\nenableInjectableConfig: {apiServices: false}\n"
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := parse(t, "--config="+path, "--leader-election-namespace=from-flag")
	if err != nil {
		t.Fatal(err)
	}
	if c.cfg.Namespace != "from-file" || c.cfg.LeaderElectionConfig.Namespace != "from-flag" || c.cfg.EnableInjectableConfig.APIServices {
		t.Errorf("want the file's namespace and injectables under the flag's leader election namespace, got %q, %q, %v",
			c.cfg.Namespace, c.cfg.LeaderElectionConfig.Namespace, c.cfg.EnableInjectableConfig.APIServices)
	}
}

func TestRejectsUnknownFlags(t *testing.T) {
	// A controller flag is not a cainjector flag.
	if _, err := parse(t, "--cluster-resource-namespace=x"); err == nil || !strings.Contains(err.Error(), "unknown flag") {
		t.Errorf("want an unknown-flag error, got %v", err)
	}
}
