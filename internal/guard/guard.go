// Package guard assembles a running guard from its configuration: store,
// engine, step-up, notifications, peers, API, dashboard and background loops.
package guard

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/atoguard/atoguard/internal/api"
	"github.com/atoguard/atoguard/internal/breach"
	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/hot"
	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/retention"
	"github.com/atoguard/atoguard/internal/ssf"
	"github.com/atoguard/atoguard/internal/stepup"
	"github.com/atoguard/atoguard/internal/store/groupcommit"
	"github.com/atoguard/atoguard/internal/store/journal"
	"github.com/atoguard/atoguard/internal/tlscert"
)

// EnvInternalToken names the environment variable whose value, when
// set, lets a request bearing it read /metrics and the components of
// /readyz from any address (api.Config.InternalToken).
const EnvInternalToken = "ATOGUARD_INTERNAL_TOKEN"

// Options are what a guard is given besides its configuration.
type Options struct {
	// Log is the guard's logger; required.
	Log *slog.Logger
	// Listener is where the guard serves; Start owns it from then on
	// (and closes it when it fails). Nil: Start listens on cfg.Listen.
	Listener net.Listener
	// BootstrapKey (ATOGUARD_API_KEY) is a key with every scope; empty:
	// only the keys in the records.
	BootstrapKey string
	// Getenv reads the environment (the factor key, SMTP passwords); nil
	// means os.Getenv.
	Getenv func(string) string
	// CertCheckEvery is how often the TLS certificate and key files are
	// looked at for a renewal; 0 means tlscert.DefaultCheckEvery.
	CertCheckEvery time.Duration
	// FactSink, when set, takes the facts peers send (ssf.Sink) in place
	// of the federation's fact store (tests).
	FactSink ssf.Sink
}

// Guard is a guard serving its API and dashboard, started by Start.
type Guard struct {
	addr   net.Addr
	scheme string // http, or https with cfg.TLS
	mode   clock.Mode
	hub    *hot.Hub     // nil: alone
	fed    *ssf.Service // nil: federation is off
	stop   context.CancelFunc
	done   chan struct{} // closed once the guard has stopped
	err    error         // why it stopped; set before done is closed
}

// Addr returns the address the guard serves on.
func (g *Guard) Addr() net.Addr { return g.addr }

// URL returns the guard's base URL, http://host:port, or https://host:port
// when it serves TLS.
func (g *Guard) URL() string { return g.scheme + "://" + g.addr.String() }

// Federation returns the guard's Shared Signals service, nil when
// federation is off. Its Publish sends the engine's facts to the peers.
func (g *Guard) Federation() *ssf.Service { return g.fed }

// Mode returns the clock the guard runs on.
func (g *Guard) Mode() clock.Mode { return g.mode }

// Wait blocks until the guard has stopped (its context is done, Stop was
// called, or serving failed) and returns why it stopped; nil after a clean
// shutdown.
func (g *Guard) Wait() error {
	<-g.done
	return g.err
}

// Stop shuts the guard down and returns what Wait returns.
func (g *Guard) Stop() error {
	g.stop()
	return g.Wait()
}

// Start starts the guard of cfg (validated) and returns once it takes
// events. When ctx is done, or Stop is called, it shuts down: it stops
// serving, saves what the detectors learned and closes the store; Wait
// returns then. On an error everything Start opened is closed again.
func Start(ctx context.Context, cfg config.Config, opts Options) (_ *Guard, err error) {
	if opts.Log == nil {
		if opts.Listener != nil {
			_ = opts.Listener.Close()
		}
		return nil, errors.New("guard: no logger")
	}
	log, getenv := opts.Log, opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	ln := opts.Listener
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("listening: %w", err)
		}
	}
	ctx, stop := context.WithCancel(ctx)
	cl := &closers{ln.Close}
	defer func() {
		if err != nil {
			cl.closeAll()
			stop()
		}
	}()

	certs, pol, key, err := loadStartFiles(cfg, opts, log)
	if err != nil {
		return nil, err
	}
	mode, _ := clock.ParseMode(cfg.Clock) // validated
	st, jnl, committer, err := openStoreAndCommitter(ctx, cfg, getenv, log, cl)
	if err != nil {
		return nil, err
	}
	if err := loadSprayKeys(&cfg.Engine.Spray); err != nil {
		return nil, err
	}
	clk := clock.New(mode, nil)
	clk.SetMaxAhead(cfg.API.MaxFutureSkew) // what the API lets in, the event clock follows
	ed := engineDeps{clk: clk, pol: pol, records: st, factors: st, writer: committer, key: key}
	if err := openDetectorParts(ctx, cfg, log, cl, &ed); err != nil {
		return nil, err
	}
	// The factor keys seal factor secrets, operators' TOTP secrets and
	// the people in the audit log.
	keys, err := loadFactorKeys(cfg, getenv, log)
	if err != nil {
		return nil, err
	}
	ed.sealer = keys
	// Federation: the facts peers sent (cfg.Federation) and Shared
	// Signals to talk to them (cfg.SSF); fed's parts are nil when off.
	fed, err := federate(ctx, cfg, clk, opts, getenv, log)
	if err != nil {
		return nil, err
	}
	cl.add(fed.stop)
	ed.fed = fed.engine
	eng, err := newEngine(cfg, ed)
	if err != nil {
		return nil, err
	}
	if err := restoreEngine(ctx, cfg, eng, log); err != nil {
		return nil, err
	}
	hub := ed.peers
	stopHub, disp, err := startLoops(ctx, cfg, st, clk, eng, hub, ed.planner != nil, log, cl)
	if err != nil {
		return nil, err
	}
	var locker stepup.Locker
	if hub != nil {
		locker = hub
	}
	svc, err := newStepUp(cfg, clk, st, eng, keys, key, locker, log, getenv)
	if err != nil {
		return nil, err
	}
	go rekeyFactors(ctx, svc, keys, log)
	var ready atomic.Bool
	cfg.API.InternalToken = getenv(EnvInternalToken)
	srv, err := newAPI(cfg, opts.BootstrapKey, log, clk, eng, cachedKeys(ctx, cfg, st, key, log), ready.Load, svc, ed.breached, jnl, hub, disp, fed.ssf)
	if err != nil {
		return nil, err
	}
	handler, err := withDashboard(ctx, cfg, log, clk, eng, st, keys, fed.dash, srv.Handler())
	if err != nil {
		return nil, err
	}

	g := &Guard{addr: ln.Addr(), scheme: "http", mode: mode, hub: hub, fed: fed.ssf, stop: stop, done: make(chan struct{})}
	hs, served := serveHTTP(ln, handler, certs, log)
	if certs != nil {
		g.scheme = "https"
	}
	ready.Store(true)
	go func() {
		defer close(g.done)
		defer cl.closeAll()
		g.err = run(ctx, cfg, log, eng, committer, hs, served, &ready, stopHub)
	}()
	return g, nil
}

// closers are what Start opened, closed in reverse order when the guard
// stops or fails to start.
type closers []func() error

func (c *closers) add(f func() error) { *c = append(*c, f) }

// addStop adds a stop function that cannot fail.
func (c *closers) addStop(f func()) { c.add(func() error { f(); return nil }) }

func (c *closers) closeAll() {
	for i := len(*c) - 1; i >= 0; i-- {
		_ = (*c)[i]()
	}
}

// loadStartFiles reads what the guard needs from files before it opens
// anything: the TLS pair (nil: plain HTTP), the policy and the secret
// key.
func loadStartFiles(cfg config.Config, opts Options, log *slog.Logger) (*tlscert.Reloader, *policy.Policy, []byte, error) {
	var certs *tlscert.Reloader
	if cfg.TLS.Enabled() {
		var err error
		if certs, err = tlscert.New(cfg.TLS.CertFile, cfg.TLS.KeyFile, opts.CertCheckEvery, log, time.Now()); err != nil {
			return nil, nil, nil, fmt.Errorf("tls: %w", err)
		}
	}
	pol, err := policy.Default()
	if cfg.Policy != "" {
		pol, err = policy.Load(cfg.Policy)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	key, err := secretKey(cfg)
	if err != nil {
		return nil, nil, nil, err
	}
	return certs, pol, key, nil
}

// openStoreAndCommitter opens the store, its journal when the records are remote,
// and the group committer that writes through them.
func openStoreAndCommitter(ctx context.Context, cfg config.Config, getenv func(string) string, log *slog.Logger,
	cl *closers) (guardStore, *journal.Journal, *groupcommit.Committer, error) {
	st, err := openStore(ctx, cfg, getenv, log)
	if err != nil {
		return nil, nil, nil, err
	}
	cl.add(st.Close)
	writer, jnl, err := journaled(cfg, st, log)
	if err != nil {
		return nil, nil, nil, err
	}
	if jnl != nil {
		cl.add(jnl.Close)
	}
	return st, jnl, groupcommit.New(writer, groupcommit.Options{Alone: refused}), nil
}

// openDetectorParts fills in the engine's optional parts: the breached
// password corpus, GeoIP, the Redis hub of several instances and the
// notification planner.
func openDetectorParts(ctx context.Context, cfg config.Config, log *slog.Logger, cl *closers, ed *engineDeps) (err error) {
	if ed.breached, err = openCorpus(ctx, cfg, log); err != nil {
		return err
	}
	cl.add(ed.breached.Close)
	if ed.geo, err = openGeo(cfg); err != nil {
		return err
	}
	if ed.geo != nil {
		cl.add(ed.geo.Close)
	}
	if cfg.Hot.URL != "" {
		if ed.peers, err = hot.Open(ctx, cfg.Hot, ed.key, log); err != nil {
			return err
		}
		cl.add(ed.peers.Close)
	}
	ed.planner, err = newPlanner(cfg)
	return err
}

// restoreEngine restores what the detectors learned; with remote records
// out of reach the guard starts without it.
func restoreEngine(ctx context.Context, cfg config.Config, eng *engine.Engine, log *slog.Logger) error {
	if err := eng.Restore(ctx); err != nil {
		if cfg.Records == "" || !journal.Unavailable(err) {
			return err
		}
		log.Warn("records out of reach: starting without the detectors' saved state", "err", err)
	}
	if rec := eng.Recovered(); rec.Replayed+rec.Prerolled+rec.Skipped+rec.Closed > 0 {
		log.Info("restored the detectors", "snapshot_through", rec.Through, "replayed", rec.Replayed,
			"prerolled", rec.Prerolled, "skipped", rec.Skipped, "orphaned_incidents_closed", rec.Closed)
	}
	return nil
}

// startLoops starts the background loops: replaying the peers' events
// (with a hub; stopHub stops it, and is a no-op without one), delivering
// notifications (when notifying; disp is nil otherwise) and pruning past retention.
// The store is closed only after each has stopped.
func startLoops(ctx context.Context, cfg config.Config, st guardStore, clk *clock.Clock, eng *engine.Engine, hub *hot.Hub,
	notifying bool, log *slog.Logger, cl *closers) (stopHub func(), disp *notify.Dispatcher, err error) {
	stopHub = func() {}
	if hub != nil {
		stopHub = runInBackground(ctx, func(ctx context.Context) { _ = hub.Run(ctx, eng.ApplyBatch) }) // returns once ctx is done
		cl.addStop(stopHub)
	}
	if notifying {
		var stopDispatch func()
		if disp, stopDispatch, err = dispatchNotifications(ctx, cfg, st, log); err != nil {
			return stopHub, nil, err
		}
		cl.addStop(stopDispatch)
	}
	pruner := retention.New(cfg.Retention, st, clk.Wall, log)
	cl.addStop(runInBackground(ctx, pruner.Run))
	return stopHub, disp, nil
}

// serveHTTP serves handler on ln, over TLS with certs; served gets why
// serving stopped.
func serveHTTP(ln net.Listener, handler http.Handler, certs *tlscert.Reloader, log *slog.Logger) (*http.Server, <-chan error) {
	hs := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	if certs != nil {
		hs.TLSConfig = certs.Config()
		go func() { served <- hs.ServeTLS(ln, "", "") }() // the pair comes from TLSConfig
	} else {
		go func() { served <- hs.Serve(ln) }()
	}
	return hs, served
}

// runInBackground runs f in a goroutine on a context of its own under ctx
// and returns the function that cancels it and waits for f to return
// (once; later calls return at once).
func runInBackground(ctx context.Context, f func(ctx context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		f(ctx)
	}()
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-stopped }) }
}

// run ticks the engine and saves its state until ctx is done or serving
// fails, then shuts the guard down.
func run(ctx context.Context, cfg config.Config, log *slog.Logger, eng *engine.Engine, committer *groupcommit.Committer,
	hs *http.Server, served <-chan error, ready *atomic.Bool, stopHub func()) error {
	tick := cfg.TickEvery
	if tick <= 0 { // zero means the default (config.Config)
		tick = config.Default().TickEvery
	}
	ticker := time.NewTicker(tick)
	defer ticker.Stop()
	lastSave := time.Now()
	for {
		select {
		case err := <-served:
			return fmt.Errorf("serving: %w", err)
		case <-ticker.C:
			if err := eng.Tick(ctx); err != nil {
				log.Error("tick", "err", err)
			}
			if time.Since(lastSave) >= time.Minute {
				lastSave = time.Now()
				if err := eng.Save(ctx); err != nil {
					log.Error("saving state", "err", err)
				}
			}
		case <-ctx.Done():
			log.Info("shutting down")
			ready.Store(false)
			sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := hs.Shutdown(sctx); err != nil {
				log.Error("shutting down HTTP", "err", err)
			}
			stopHub() // no more peers' events to replay
			// Every acknowledged event is already durable; save what the
			// detectors learned, then drain the committer.
			err := eng.Save(sctx)
			if cerr := committer.Close(); cerr != nil {
				log.Error("closing committer", "err", cerr)
			}
			if err != nil {
				return fmt.Errorf("saving state: %w", err)
			}
			return nil
		}
	}
}

// journalParts are the journal's /readyz check, degraded while it holds
// batches or the database refused some (State.Degraded), and its metric
// atoguard_journal_rejected_batches, to alert on.
func journalParts(jnl *journal.Journal) (api.HealthCheck, prometheus.Collector) {
	check := api.HealthCheck{Name: "journal",
		Check: func(context.Context) (bool, any) { st := jnl.State(); return !st.Degraded, st }}
	gauge := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "atoguard_journal_rejected_batches",
		Help: "Batches of acknowledged records the database refused on replay, kept in DATA/journal/rejected (atoguard journal inspect).",
	}, func() float64 { return float64(jnl.State().Rejected) })
	return check, gauge
}

// newAPI is the guard's HTTP API: events, incidents, reviews, step-up,
// breached-password ranges, health and metrics.
func newAPI(cfg config.Config, bootstrap string, log *slog.Logger, clk *clock.Clock, eng *engine.Engine, st guardStore, ready func() bool,
	svc *stepup.Service, ranges *breach.Corpus, jnl *journal.Journal, hub *hot.Hub, disp *notify.Dispatcher, fed *ssf.Service) (*api.Server, error) {
	apiCfg := cfg.API
	apiCfg.BootstrapKey = bootstrap
	deps := api.Deps{Log: log, Engine: eng, Records: st, Ready: ready, Wall: clk.Wall, StepUp: svc, Ranges: ranges,
		Collectors: partMetrics(jnl, hub, disp), Routes: federationRoutes(fed)}
	if fed != nil {
		deps.Collectors = append(deps.Collectors, fed.Collectors()...)
	}
	if jnl != nil {
		deps.RecordsOptional = true
		check, gauge := journalParts(jnl)
		deps.Health = append(deps.Health, check)
		deps.Collectors = append(deps.Collectors, gauge)
	}
	if hub != nil {
		deps.Health = append(deps.Health, api.HealthCheck{Name: "redis",
			Check: func(context.Context) (bool, any) { return !hub.Degraded(), hub.Status() }})
	}
	return api.New(apiCfg, deps)
}
