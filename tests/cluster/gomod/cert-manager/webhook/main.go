// Command webhook is cert-manager's admission webhook (upstream cmd/webhook): it validates and
// mutates cert-manager resources on /validate and /mutate over TLS, and answers /healthz and
// /livez on the plain-HTTP healthz port.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	config "github.com/cert-manager/cert-manager/internal/apis/config/webhook"
	"github.com/cert-manager/cert-manager/internal/apis/config/webhook/validation"
	cmdutil "github.com/cert-manager/cert-manager/internal/cmd/util"
	cmwebhook "github.com/cert-manager/cert-manager/internal/webhook"
	"github.com/cert-manager/cert-manager/mlflow-k8s-local/internal/cli"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util"
	webhookconfigfile "github.com/cert-manager/cert-manager/pkg/webhook/configfile"
	"github.com/cert-manager/cert-manager/pkg/webhook/options"
)

const component = "webhook"

func main() {
	cli.Main(component, cmdutil.GracefulShutdown, func(context.Context) *cobra.Command {
		return newCommand(os.Args[1:], run).Command
	})
}

// command is the webhook's command line. Its flag set is the library's (pkg/webhook/options),
// so every upstream webhook flag is accepted, with upstream's defaults (secure port 6443,
// healthz 6080, metrics 0.0.0.0:9402).
type command struct {
	*cobra.Command
	cfg   *config.WebhookConfiguration
	flags *options.WebhookFlags
}

func newCommand(args []string, run func(context.Context, *config.WebhookConfiguration) error) *command {
	cfg, err := options.NewWebhookConfiguration()
	if err != nil {
		// Only a broken build gets here: the defaults are compiled in.
		fmt.Fprintf(os.Stderr, "webhook: building the default configuration: %v\n", err)
		os.Exit(1)
	}
	c := &command{cfg: cfg, flags: options.NewWebhookFlags()}
	c.Command = &cobra.Command{
		Use:           component,
		Short:         fmt.Sprintf("Admission webhook validating and defaulting cert-manager resources (%s) (%s)", util.AppVersion, util.AppGitCommit),
		Args:          cobra.NoArgs,
		SilenceErrors: true, // cli.Main logs the error once.
		SilenceUsage:  true,
		PreRunE: func(*cobra.Command, []string) error {
			if err := c.complete(args); err != nil {
				return err
			}
			return logf.ValidateAndApply(&c.cfg.Logging)
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), c.cfg)
		},
	}
	c.SetArgs(args)
	c.flags.AddFlags(c.Flags())
	options.AddConfigFlags(c.Flags(), cfg)
	return c
}

// complete puts the --config file, if any, under the parsed flags and validates the result.
func (c *command) complete(args []string) error {
	file := webhookconfigfile.New()
	if err := cli.LoadConfig(c.Command, args, c.flags.Config, file, func() { file.Config.DeepCopyInto(c.cfg) }, &c.cfg.FeatureGates); err != nil {
		return err
	}
	if errs := validation.ValidateWebhookConfiguration(c.cfg, nil); len(errs) > 0 {
		return fmt.Errorf("error validating flags: %w", errs.ToAggregate())
	}
	return nil
}

// run serves /validate and /mutate until ctx ends, with the library's admission chain.
func run(ctx context.Context, cfg *config.WebhookConfiguration) error {
	log := logf.FromContext(ctx)
	cli.LogStart(log, component)
	srv, err := cmwebhook.NewCertManagerWebhookServer(log, *cfg)
	if err != nil {
		return err
	}
	return srv.Run(ctx)
}
