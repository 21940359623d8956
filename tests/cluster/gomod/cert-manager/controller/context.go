package main

import (
	"context"
	"errors"
	"fmt"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/sets"

	config "github.com/cert-manager/cert-manager/internal/apis/config/controller"
	"github.com/cert-manager/cert-manager/pkg/controller"
	dnsutil "github.com/cert-manager/cert-manager/pkg/issuer/acme/dns/util"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
)

// newContextFactory maps the configuration onto the library's controller context options;
// the factory builds the API clients, informers, metrics and the ACME account registry.
func newContextFactory(ctx context.Context, c *config.ControllerConfiguration) (*controller.ContextFactory, error) {
	nameservers := c.ACMEDNS01Config.RecursiveNameservers
	if len(nameservers) == 0 {
		nameservers = dnsutil.RecursiveNameservers
	}
	logf.FromContext(ctx).V(logf.InfoLevel).Info("configured acme dns01 nameservers", "nameservers", nameservers)

	solver := c.ACMEHTTP01Config
	var errs []error
	quantity := func(name, value string) resource.Quantity {
		q, err := resource.ParseQuantity(value)
		if err != nil {
			errs = append(errs, fmt.Errorf("error parsing %s: %w", name, err))
		}
		return q
	}

	opts := controller.ContextOptions{
		APIServerHost:      c.APIServerHost,
		Kubeconfig:         c.KubeConfig,
		KubernetesAPIQPS:   c.KubernetesAPIQPS,
		KubernetesAPIBurst: c.KubernetesAPIBurst,
		Namespace:          c.Namespace,
		IssuerOptions: controller.IssuerOptions{
			ClusterResourceNamespace:        c.ClusterResourceNamespace,
			ClusterIssuerAmbientCredentials: c.ClusterIssuerAmbientCredentials,
			IssuerAmbientCredentials:        c.IssuerAmbientCredentials,
		},
		ACMEOptions: controller.ACMEOptions{
			HTTP01SolverImage:                 solver.SolverImage,
			HTTP01SolverResourceRequestCPU:    quantity("ACMEHTTP01SolverResourceRequestCPU", solver.SolverResourceRequestCPU),
			HTTP01SolverResourceRequestMemory: quantity("ACMEHTTP01SolverResourceRequestMemory", solver.SolverResourceRequestMemory),
			HTTP01SolverResourceLimitsCPU:     quantity("ACMEHTTP01SolverResourceLimitsCPU", solver.SolverResourceLimitsCPU),
			HTTP01SolverResourceLimitsMemory:  quantity("ACMEHTTP01SolverResourceLimitsMemory", solver.SolverResourceLimitsMemory),
			ACMEHTTP01SolverRunAsNonRoot:      solver.SolverRunAsNonRoot,
			HTTP01SolverRuntimeClassName:      solver.SolverRuntimeClassName,
			HTTP01SolverNameservers:           solver.SolverNameservers,
			HTTP01SolverExtraLabels:           solver.SolverExtraLabels,
			DNS01CheckAuthoritative:           !c.ACMEDNS01Config.RecursiveNameserversOnly,
			DNS01Nameservers:                  nameservers,
			DNS01CheckRetryPeriod:             c.ACMEDNS01Config.CheckRetryPeriod,
		},
		IngressShimOptions: controller.IngressShimOptions{
			DefaultIssuerName:                 c.IngressShimConfig.DefaultIssuerName,
			DefaultIssuerKind:                 c.IngressShimConfig.DefaultIssuerKind,
			DefaultIssuerGroup:                c.IngressShimConfig.DefaultIssuerGroup,
			DefaultAutoCertificateAnnotations: c.IngressShimConfig.DefaultAutoCertificateAnnotations,
			ExtraCertificateAnnotations:       c.IngressShimConfig.ExtraCertificateAnnotations,
			GatewayAPIExtraProtocols:          sets.New(c.GatewayAPIConfig.ExtraProtocols...),
		},
		CertificateOptions: controller.CertificateOptions{
			EnableOwnerRef:                           c.EnableCertificateOwnerRef,
			CopiedAnnotationPrefixes:                 c.CopiedAnnotationPrefixes,
			CertificateRequestMinimumBackoffDuration: c.CertificateRequestMinimumBackoffDuration,
			CertificateRequestMaximumBackoffDuration: c.CertificateRequestMaximumBackoffDuration,
		},
		SchedulerOptions: controller.SchedulerOptions{MaxConcurrentChallenges: c.MaxConcurrentChallenges},
		ConfigOptions: controller.ConfigOptions{
			EnableGatewayAPI:            c.GatewayAPIConfig.Enabled,
			EnableGatewayAPIListenerSet: c.GatewayAPIConfig.EnableListenerSet,
		},
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return controller.NewContextFactory(ctx, opts)
}
