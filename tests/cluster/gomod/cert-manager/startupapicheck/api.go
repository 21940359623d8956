package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"

	cmdutil "github.com/cert-manager/cert-manager/internal/cmd/util"
	"github.com/cert-manager/cert-manager/mlflow-k8s-local/internal/cli"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util/cmapichecker"
)

// newAPICommand is `check api`. The API server is found like kubectl finds it: --kubeconfig,
// $KUBECONFIG, ~/.kube/config, or the pod's service account; the namespace for the dry run is
// --namespace, the kubeconfig context's, or the pod's own.
func newAPICommand() *cobra.Command {
	var waitFor, interval time.Duration
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	overrides := &clientcmd.ConfigOverrides{}
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Check that the API server accepts cert-manager resources through its webhooks",
		Long: "Dry-run creates a cert-manager v1 CertificateRequest to verify that the CRDs are installed\n" +
			"and that the API server can reach the cert-manager webhooks.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cli.LogStart(logf.FromContext(cmd.Context()), component)
			loader := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, overrides)
			restConfig, err := loader.ClientConfig()
			if err != nil {
				return fmt.Errorf("error loading the kubeconfig: %w", err)
			}
			namespace, _, err := loader.Namespace()
			if err != nil {
				return fmt.Errorf("error reading the namespace from the kubeconfig: %w", err)
			}
			checker, err := cmapichecker.New(restConfig, namespace)
			if err != nil {
				return err
			}
			return checkAPI(cmd, checker, waitFor, interval)
		},
	}
	cmd.Flags().DurationVar(&waitFor, "wait", 0, "keep checking for this long (0: check once)")
	cmd.Flags().DurationVar(&interval, "interval", 5*time.Second, "pause between checks, e.g. 5s")
	cmd.Flags().StringVar(&rules.ExplicitPath, "kubeconfig", "", "kubeconfig of the API server (default: $KUBECONFIG, ~/.kube/config or the pod's service account)")
	clientcmd.BindOverrideFlags(overrides, cmd.Flags(), clientcmd.RecommendedConfigOverrideFlags(""))
	return cmd
}

// checkAPI polls until a dry run succeeds. A failure names the likely cause (CRDs missing,
// webhook Service or Deployment not ready, CA bundle not injected); giving up after --wait
// exits with 124, any other failure with 1.
func checkAPI(cmd *cobra.Command, checker cmapichecker.Interface, waitFor, interval time.Duration) error {
	ctx := cmd.Context()
	log := logf.FromContext(ctx, "checkAPI")
	start := time.Now()
	var lastErr error
	pollErr := wait.PollUntilContextCancel(ctx, interval, true, func(ctx context.Context) (bool, error) {
		err := checker.Check(ctx)
		if err == nil {
			return true, nil
		}
		lastErr = err
		if simple := cmapichecker.TranslateToSimpleError(err); simple != nil {
			lastErr = simple
		}
		log.V(2).Info("Not ready", "err", lastErr, "underlyingError", err)
		if time.Since(start) > waitFor {
			return false, context.DeadlineExceeded
		}
		return false, nil
	})
	if pollErr != nil {
		if errors.Is(pollErr, context.DeadlineExceeded) && waitFor > 0 {
			log.V(2).Info("Timed out", "after", waitFor, "err", pollErr)
			cmdutil.SetExitCode(pollErr)
		} else {
			cmdutil.SetExitCode(lastErr)
		}
		if lastErr == nil {
			return pollErr
		}
		return lastErr
	}
	fmt.Fprintln(cmd.OutOrStdout(), "The cert-manager API is ready")
	return nil
}
