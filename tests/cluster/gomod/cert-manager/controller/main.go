// Command controller is cert-manager's controller manager (upstream cmd/controller), wired
// from the v1.21.2 library: the issuers, certificates, ACME and ingress-shim control loops.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	config "github.com/cert-manager/cert-manager/internal/apis/config/controller"
	configscheme "github.com/cert-manager/cert-manager/internal/apis/config/controller/scheme"
	"github.com/cert-manager/cert-manager/internal/apis/config/controller/validation"
	cmdutil "github.com/cert-manager/cert-manager/internal/cmd/util"
	"github.com/cert-manager/cert-manager/mlflow-k8s-local/internal/cli"
	configv1alpha1 "github.com/cert-manager/cert-manager/pkg/apis/config/controller/v1alpha1"
	controllerconfigfile "github.com/cert-manager/cert-manager/pkg/controller/configfile"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util"
)

const component = "controller"

func main() {
	cli.Main(component, cmdutil.GracefulShutdown, func(context.Context) *cobra.Command {
		return newCommand(os.Args[1:], run).Command
	})
}

// command is the controller's command line, its flags bound to cfg.
type command struct {
	*cobra.Command
	cfg        *config.ControllerConfiguration
	configPath string
}

func newCommand(args []string, run func(context.Context, *config.ControllerConfiguration) error) *command {
	cfg, err := defaultConfiguration()
	if err != nil {
		// Only a broken build gets here: the defaults are compiled in.
		fmt.Fprintf(os.Stderr, "controller: building the default configuration: %v\n", err)
		os.Exit(1)
	}
	c := &command{cfg: cfg}
	c.Command = &cobra.Command{
		Use:   component,
		Short: fmt.Sprintf("cert-manager controller: issues and renews certificates (%s) (%s)", util.AppVersion, util.AppGitCommit),
		Long: "Runs the cert-manager control loops: issuers, Certificates and their requests, ACME orders and\n" +
			"challenges, and the ingress-shim that creates Certificates for annotated Ingresses.",
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
	file := controllerconfigfile.New()
	if err := cli.LoadConfig(c.Command, args, c.configPath, file, func() { file.Config.DeepCopyInto(c.cfg) }, &c.cfg.FeatureGates); err != nil {
		return err
	}
	if errs := validation.ValidateControllerConfiguration(c.cfg, nil); len(errs) > 0 {
		return fmt.Errorf("error validating flags: %w", errs.ToAggregate())
	}
	return nil
}

// defaultConfiguration is the v1alpha1 ControllerConfiguration with upstream's defaults,
// converted to the internal type the library reads.
func defaultConfiguration() (*config.ControllerConfiguration, error) {
	scheme, _, err := configscheme.NewSchemeAndCodecs()
	if err != nil {
		return nil, err
	}
	versioned := &configv1alpha1.ControllerConfiguration{}
	scheme.Default(versioned)
	cfg := &config.ControllerConfiguration{}
	if err := scheme.Convert(versioned, cfg, nil); err != nil {
		return nil, err
	}
	return cfg, nil
}
