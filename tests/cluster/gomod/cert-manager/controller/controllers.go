package main

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/sets"

	config "github.com/cert-manager/cert-manager/internal/apis/config/controller"
	defaults "github.com/cert-manager/cert-manager/internal/apis/config/controller/v1alpha1"
	"github.com/cert-manager/cert-manager/internal/controller/feature"
	shimgateways "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/gateways"
	shimlistenerset "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/listenerset"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	utilfeature "github.com/cert-manager/cert-manager/pkg/util/feature"

	// Each package registers its control loops (pkg/controller.Register) or its issuer
	// implementation (pkg/issuer.RegisterIssuer) in init; the upstream binary imports the same set.
	_ "github.com/cert-manager/cert-manager/pkg/controller/acmechallenges"
	_ "github.com/cert-manager/cert-manager/pkg/controller/acmeorders"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/ingresses"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	_ "github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/acme"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/vault"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/venafi"
)

// enabledControllers resolves --controllers ("*", "name", "-name") against upstream's
// default set, then adds the loops that feature gates turn on and drops the cluster-scoped
// ones when the controller is limited to one namespace. Disabling wins over enabling.
func enabledControllers(c *config.ControllerConfiguration) sets.Set[string] {
	enabled := sets.New[string]()
	var disabled []string
	for _, name := range c.Controllers {
		switch {
		case name == "*":
			enabled.Insert(defaults.DefaultEnabledControllers...)
		case strings.HasPrefix(name, "-"):
			disabled = append(disabled, strings.TrimPrefix(name, "-"))
		default:
			enabled.Insert(name)
		}
	}
	// Only exclusions given (the chart's --controllers=-certificaterequests-approver): "*" is implied.
	if len(disabled) > 0 && enabled.Len() == 0 {
		enabled.Insert(defaults.DefaultEnabledControllers...)
	}

	gates := utilfeature.DefaultFeatureGate
	if gates.Enabled(feature.ExperimentalCertificateSigningRequestControllers) {
		logf.Log.Info("feature gate on: adding the CertificateSigningRequest controllers", "gate", feature.ExperimentalCertificateSigningRequestControllers)
		enabled.Insert(defaults.ExperimentalCertificateSigningRequestControllers...)
	}
	if gates.Enabled(feature.ExperimentalGatewayAPISupport) && c.GatewayAPIConfig.Enabled {
		logf.Log.Info("Gateway API enabled: adding the Gateway certificate-shim")
		enabled.Insert(shimgateways.ControllerName)
		if gates.Enabled(feature.ListenerSets) && c.GatewayAPIConfig.EnableListenerSet {
			logf.Log.Info("ListenerSets enabled: adding the ListenerSet certificate-shim")
			enabled.Insert(shimlistenerset.ControllerName)
		}
	}
	if gates.Enabled(feature.ValidateCAA) {
		logf.Log.Info("feature gate ValidateCAA no longer does anything")
	}
	if c.Namespace != "" {
		logf.Log.Info("limited to one namespace: leaving out the cluster-scoped controllers",
			"namespace", c.Namespace, "controllers", strings.Join(defaults.ClusterScopedControllers, ", "))
		enabled.Delete(defaults.ClusterScopedControllers...)
	}
	return enabled.Delete(disabled...)
}
