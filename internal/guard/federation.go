package guard

import (
	"context"
	"log/slog"

	"github.com/atoguard/atoguard/internal/api"
	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/ssf"
	"github.com/atoguard/atoguard/internal/store"
)

// startFederation opens the Shared Signals service when cfg.SSF has an
// issuer and runs its deliveries and pollers until ctx is done; stop
// stops them and closes it. fed is nil when federation is off (stop does
// nothing then).
func startFederation(ctx context.Context, cfg config.Config, clk *clock.Clock, sink ssf.Sink, getenv func(string) string,
	log *slog.Logger) (fed *ssf.Service, stop func() error, err error) {
	if !cfg.SSF.Enabled() {
		return nil, func() error { return nil }, nil
	}
	fed, err = ssf.New(cfg.SSF, ssf.Deps{Log: log.With("part", "ssf"), Sink: sink, DataDir: cfg.Data, Wall: clk.Wall, Getenv: getenv})
	if err != nil {
		return nil, nil, err
	}
	stopRun := runInBackground(ctx, fed.Run)
	return fed, func() error { stopRun(); return fed.Close() }, nil
}

// federationRoutes are the service's routes for the API: the stream
// management and poll routes need a key with the federation scope.
func federationRoutes(fed *ssf.Service) []api.Route {
	if fed == nil {
		return nil
	}
	var out []api.Route
	for _, rt := range fed.Routes() {
		r := api.Route{Pattern: rt.Pattern, Serve: rt.Serve}
		if rt.Authorized {
			r.Scope = store.ScopeFederation
		}
		out = append(out, r)
	}
	return out
}
