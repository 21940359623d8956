// Command startupapicheck is the chart's post-install check (upstream cmd/startupapicheck):
// `startupapicheck check api --wait=1m` dry-runs a CertificateRequest until the API server
// accepts it, which needs the CRDs, the webhook reachable through its Service and the CA
// bundle the cainjector injected.
package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/component-base/logs"

	cmdutil "github.com/cert-manager/cert-manager/internal/cmd/util"
	"github.com/cert-manager/cert-manager/mlflow-k8s-local/internal/cli"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util"
)

const component = "startupapicheck"

func main() {
	// AlwaysErrCode: a Job killed by a signal must not count as a successful check.
	cli.Main(component, cmdutil.AlwaysErrCode, newCommand)
}

func newCommand(ctx context.Context) *cobra.Command {
	logOptions := logs.NewOptions()
	root := &cobra.Command{
		Use:               component,
		Short:             fmt.Sprintf("Post-install check of cert-manager %s", util.AppVersion),
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
		SilenceErrors:     true, // cli.Main logs the error once.
		SilenceUsage:      true,
		PersistentPreRunE: func(*cobra.Command, []string) error {
			return logf.ValidateAndApply(logOptions)
		},
	}
	var logFlags pflag.FlagSet
	logf.AddFlagsNonDeprecated(logOptions, &logFlags)
	logFlags.VisitAll(func(f *pflag.Flag) {
		// The chart passes a bare -v (its startupapicheck.extraArgs default); upstream kept
		// cmctl's valueless -v working by defaulting it to verbosity 2.
		if f.Name == "v" {
			f.NoOptDefVal = "2"
		}
		root.PersistentFlags().AddFlag(f)
	})

	check := &cobra.Command{Use: "check", Short: "Checks of a cert-manager installation"}
	check.AddCommand(newAPICommand())
	root.AddCommand(check)
	return root
}
