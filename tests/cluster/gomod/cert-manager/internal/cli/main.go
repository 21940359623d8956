// Package cli holds what the five cert-manager binaries share: the process conventions of the
// upstream main packages (signals, exit codes, logging) and the order in which their
// configuration is assembled.
package cli

import (
	"context"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"
	ctrl "sigs.k8s.io/controller-runtime"

	cmdutil "github.com/cert-manager/cert-manager/internal/cmd/util"
	logf "github.com/cert-manager/cert-manager/pkg/logs"
	"github.com/cert-manager/cert-manager/pkg/util"
)

// Main runs the command built by newCmd the way upstream's main packages do: SIGINT/SIGTERM
// cancel the context, an error is logged once and turns into the exit status (124 for a
// timeout, 1 otherwise); with cmdutil.AlwaysErrCode a signal also makes the exit status non-zero.
func Main(component string, behavior cmdutil.ExitBehavior, newCmd func(context.Context) *cobra.Command) {
	ctx, exit := cmdutil.SetupExitHandler(context.Background(), behavior)
	// exit may call os.Exit, so it is deferred first and runs last.
	defer exit()

	logf.InitLogs()
	defer logf.FlushLogs()
	// controller-runtime (cainjector, webhook server, API checker) logs through the same klog sink.
	ctrl.SetLogger(logf.Log)
	ctx = logf.NewContext(ctx, logf.Log, component)

	if err := newCmd(ctx).ExecuteContext(ctx); err != nil {
		logf.Log.Error(err, "error executing command", "component", component)
		cmdutil.SetExitCode(err)
	}
}

// LogStart records which build is running; the version comes from the ldflags the build
// script sets (-X github.com/cert-manager/cert-manager/pkg/util.AppVersion=...), as upstream's.
func LogStart(log logr.Logger, component string) {
	log.Info("starting", "component", component, "version", util.AppVersion, "git_commit", util.AppGitCommit)
}
