package cli

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"golang.org/x/sync/errgroup"
)

// ReadHeaderTimeout bounds how long a client may take to send its request headers
// (slowloris), the value upstream's metrics, healthz and profiler servers use.
const ReadHeaderTimeout = 32 * time.Second

// Serve runs srv on ln within g until ctx ends, then gives open requests 5 s to finish.
func Serve(ctx context.Context, g *errgroup.Group, srv *http.Server, ln net.Listener) {
	g.Go(func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		return srv.Shutdown(shutdownCtx)
	})
}

// ServeHTTP listens on addr and serves srv there as Serve does.
func ServeHTTP(ctx context.Context, g *errgroup.Group, addr string, srv *http.Server) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	Serve(ctx, g, srv, ln)
	return nil
}
