package cli

import (
	"github.com/go-logr/logr"
	"k8s.io/client-go/rest"

	"github.com/cert-manager/cert-manager/internal/apis/config/shared"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	servertls "github.com/cert-manager/cert-manager/pkg/server/tls"
	"github.com/cert-manager/cert-manager/pkg/server/tls/authority"
)

// CertificateSource returns where a metrics server takes its TLS certificate from: files, a
// CA kept in a Secret that signs short-lived leaves (managedBy labels that Secret), or nil for
// plain HTTP, which is what the chart's defaults give.
func CertificateSource(log logr.Logger, cfg shared.TLSConfig, restCfg *rest.Config, managedBy string) servertls.CertificateSource {
	switch {
	case cfg.FilesystemConfigProvided():
		log.V(logf.InfoLevel).Info("using TLS certificate from local filesystem", "certificate", cfg.Filesystem.CertFile, "private_key_path", cfg.Filesystem.KeyFile)
		return &servertls.FileCertificateSource{CertPath: cfg.Filesystem.CertFile, KeyPath: cfg.Filesystem.KeyFile}
	case cfg.DynamicConfigProvided():
		log.V(logf.InfoLevel).Info("using dynamic certificate signed by the CA in a Secret", "secret_namespace", cfg.Dynamic.SecretNamespace, "secret_name", cfg.Dynamic.SecretName)
		return &servertls.DynamicSource{
			DNSNames: cfg.Dynamic.DNSNames,
			Authority: &authority.DynamicAuthority{
				SecretNamespace: cfg.Dynamic.SecretNamespace,
				SecretName:      cfg.Dynamic.SecretName,
				SecretLabels:    map[string]string{"app.kubernetes.io/managed-by": managedBy},
				LeafDuration:    cfg.Dynamic.LeafDuration,
				RESTConfig:      restCfg,
			},
		}
	}
	return nil
}
