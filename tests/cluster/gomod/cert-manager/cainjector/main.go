// Command cainjector is cert-manager's CA injector (upstream cmd/cainjector): it copies CA
// bundles into webhook configurations, CRDs and APIServices annotated with
// cert-manager.io/inject-ca-from, inject-ca-from-secret or inject-apiserver-ca.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	config "github.com/cert-manager/cert-manager/internal/apis/config/cainjector"
	configscheme "github.com/cert-manager/cert-manager/internal/apis/config/cainjector/scheme"
	"github.com/cert-manager/cert-manager/internal/apis/config/cainjector/validation"
	cmdutil "github.com/cert-manager/cert-manager/internal/cmd/util"
	"github.com/cert-manager/cert-manager/mlflow-k8s-local/internal/cli"
	configv1alpha1 "github.com/cert-manager/cert-manager/pkg/apis/config/cainjector/v1alpha1"
	cainjectorconfigfile "github.com/cert-manager/cert-manager/pkg/cainjector/configfile"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util"
)

const component = "cainjector"

func main() {
	cli.Main(component, cmdutil.GracefulShutdown, func(context.Context) *cobra.Command {
		return newCommand(os.Args[1:], run).Command
	})
}

// command is the cainjector's command line, its flags bound to cfg.
type command struct {
	*cobra.Command
	cfg        *config.CAInjectorConfiguration
	configPath string
}

func newCommand(args []string, run func(context.Context, *config.CAInjectorConfiguration) error) *command {
	cfg, err := defaultConfiguration()
	if err != nil {
		// Only a broken build gets here: the defaults are compiled in.
		fmt.Fprintf(os.Stderr, "cainjector: building the default configuration: %v\n", err)
		os.Exit(1)
	}
	c := &command{cfg: cfg}
	c.Command = &cobra.Command{
		Use:           component,
		Short:         fmt.Sprintf("Injects CA bundles into webhooks, CRDs and APIServices (%s) (%s)", util.AppVersion, util.AppGitCommit),
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
	addFlags(c.Flags(), cfg, &c.configPath)
	return c
}

// complete puts the --config file, if any, under the parsed flags and validates the result.
func (c *command) complete(args []string) error {
	file := cainjectorconfigfile.New()
	if err := cli.LoadConfig(c.Command, args, c.configPath, file, func() { file.Config.DeepCopyInto(c.cfg) }, &c.cfg.FeatureGates); err != nil {
		return err
	}
	if errs := validation.ValidateCAInjectorConfiguration(c.cfg, nil); len(errs) > 0 {
		return fmt.Errorf("error validating flags: %w", errs.ToAggregate())
	}
	return nil
}

// defaultConfiguration is the v1alpha1 CAInjectorConfiguration with upstream's defaults
// (leader election in kube-system, metrics on :9402, every injectable enabled).
func defaultConfiguration() (*config.CAInjectorConfiguration, error) {
	scheme, _, err := configscheme.NewSchemeAndCodecs()
	if err != nil {
		return nil, err
	}
	versioned := &configv1alpha1.CAInjectorConfiguration{}
	scheme.Default(versioned)
	cfg := &config.CAInjectorConfiguration{}
	if err := scheme.Convert(versioned, cfg, nil); err != nil {
		return nil, err
	}
	return cfg, nil
}
