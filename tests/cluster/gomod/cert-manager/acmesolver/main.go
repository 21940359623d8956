// Command acmesolver answers one ACME HTTP-01 challenge (upstream cmd/acmesolver): the
// controller runs it in a solver pod with --listen-port, --domain, --token and --key, and it
// serves the key at /.well-known/acme-challenge/<token> for that domain.
package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/component-base/logs"

	cmdutil "github.com/cert-manager/cert-manager/internal/cmd/util"
	"github.com/cert-manager/cert-manager/mlflow-k8s-local/internal/cli"
	"github.com/cert-manager/cert-manager/pkg/issuer/acme/http/solver"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util"
)

const component = "acmesolver"

func main() {
	cli.Main(component, cmdutil.GracefulShutdown, newCommand)
}

func newCommand(context.Context) *cobra.Command {
	s := new(solver.HTTP01Solver)
	logOptions := logs.NewOptions()
	cmd := &cobra.Command{
		Use:           component,
		Short:         fmt.Sprintf("Answers one ACME HTTP-01 challenge (cert-manager %s)", util.AppVersion),
		Args:          cobra.NoArgs,
		SilenceErrors: true, // cli.Main logs the error once.
		SilenceUsage:  true,
		PreRunE: func(*cobra.Command, []string) error {
			if err := logf.ValidateAndApply(logOptions); err != nil {
				return fmt.Errorf("error validating options: %w", err)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			log := logf.FromContext(ctx)
			cli.LogStart(log, component)
			stopped := make(chan struct{})
			go func() {
				defer close(stopped)
				<-ctx.Done()
				// The solver pod is deleted once the challenge is done: finish open requests first.
				shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
				defer cancel()
				if err := s.Shutdown(shutdownCtx); err != nil {
					log.Error(err, "error shutting down acmesolver server")
				}
			}()
			// Shutdown makes Listen return http.ErrServerClosed: a clean stop, not a failure.
			if err := s.Listen(log); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			<-stopped
			return nil
		},
	}
	cmd.Flags().IntVar(&s.ListenPort, "listen-port", 8089, "port to serve the challenge on")
	cmd.Flags().StringVar(&s.Domain, "domain", "", "host name the challenge is for (the Host header must match)")
	cmd.Flags().StringVar(&s.Token, "token", "", "token, the last path element of /.well-known/acme-challenge/<token>")
	cmd.Flags().StringVar(&s.Key, "key", "", "key authorization to answer with")
	return cmd
}
