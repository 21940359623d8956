package main

import (
	"reflect"
	"testing"
)

// Every flag the v1.21.2 chart's webhook-deployment.yaml can render, POD_NAMESPACE being cert-manager.
func TestChartFlagsSetUpstreamFields(t *testing.T) {
	args := []string{"--v=2", "--secure-port=10250", "--feature-gates=AdditionalCertificateOutputFormats=true",
		"--enable-client-verification=true", "--client-ca-path=/etc/ca.crt", "--client-subject-names=kube-apiserver",
		"--dynamic-serving-ca-secret-namespace=cert-manager", "--dynamic-serving-ca-secret-name=cert-manager-webhook-ca",
		"--dynamic-serving-dns-names=cert-manager-webhook", "--dynamic-serving-dns-names=cert-manager-webhook.cert-manager",
		"--dynamic-serving-dns-names=cert-manager-webhook.cert-manager.svc", "--metrics-listen-address=0"}
	c := newCommand(args, nil)
	if err := c.ParseFlags(args); err != nil {
		t.Fatal(err)
	}
	if err := c.complete(args); err != nil {
		t.Fatal(err)
	}
	cfg, dyn := c.cfg, c.cfg.TLSConfig.Dynamic
	want := []string{"cert-manager-webhook", "cert-manager-webhook.cert-manager", "cert-manager-webhook.cert-manager.svc"}
	if cfg.SecurePort != 10250 || cfg.HealthzPort != 6080 || !cfg.EnableClientVerification || cfg.ClientCAPath != "/etc/ca.crt" ||
		!reflect.DeepEqual(cfg.ClientCertificateSubjects, []string{"kube-apiserver"}) || cfg.MetricsListenAddress != "0" ||
		dyn.SecretNamespace != "cert-manager" || dyn.SecretName != "cert-manager-webhook-ca" || !reflect.DeepEqual(dyn.DNSNames, want) ||
		!cfg.TLSConfig.DynamicConfigProvided() {
		t.Errorf("chart flags not applied as upstream applies them: dynamic serving %+v", dyn)
	}
}
