package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/atoguard/atoguard/internal/api"
	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/dashboard"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/geo"
	"github.com/atoguard/atoguard/internal/hot"
	"github.com/atoguard/atoguard/internal/mailer"
	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/stepup"
	"github.com/atoguard/atoguard/internal/store/groupcommit"
	"github.com/atoguard/atoguard/internal/store/journal"
	"github.com/atoguard/atoguard/internal/store/postgres"
	"github.com/atoguard/atoguard/internal/store/sqlite"
)

func newServe(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	var cfgPath string
	flags := config.Default()
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the guard: HTTP API and metrics on the embedded store",
		Long: `Run the guard. With no --config it uses the built-in policy and the
embedded SQLite store under --data. ATOGUARD_API_KEY=<secret> in the
environment makes that secret a key with every scope.

Several instances act as one guard when they share PostgreSQL for their
records (records: postgres://..., or ATOGUARD_RECORDS) and Redis for their
detectors (hot.url: redis://..., or ATOGUARD_HOT_URL), with the same
secret_key_file and factor keys; see the README, "Several instances".`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg := config.Default()
			if cfgPath != "" {
				c, err := config.Load(cfgPath)
				if err != nil {
					return err
				}
				cfg = c
			}
			// Flags given on the command line win over the file.
			fl := cmd.Flags()
			if fl.Changed("listen") {
				cfg.Listen = flags.Listen
			}
			if fl.Changed("data") {
				cfg.Data = flags.Data
			}
			if fl.Changed("clock") {
				cfg.Clock = flags.Clock
			}
			if fl.Changed("policy") {
				cfg.Policy = flags.Policy
			}
			if v := getenv("ATOGUARD_RECORDS"); v != "" {
				cfg.Records = v
			}
			if v := getenv("ATOGUARD_HOT_URL"); v != "" {
				cfg.Hot.URL = v
			}
			if err := cfg.Validate(); err != nil {
				return fmt.Errorf("invalid configuration:\n%w", err)
			}
			return serve(cmd.Context(), cfg, getenv("ATOGUARD_API_KEY"), stdout, stderr)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfgPath, "config", "", "YAML configuration file (see README)")
	f.StringVar(&flags.Listen, "listen", flags.Listen, "address to listen on")
	f.StringVar(&flags.Data, "data", flags.Data, "data directory (SQLite store, secret key)")
	f.StringVar(&flags.Clock, "clock", flags.Clock, "wall, or event: each event's occurred_at is the time (replay, simulation, tests)")
	f.StringVar(&flags.Policy, "policy", "", "policy file (default: the built-in policy)")
	return cmd
}

// secretKey loads the key for keyed hashes, creating it on first start.
func secretKey(cfg config.Config) ([]byte, error) {
	path := cfg.SecretKeyFile
	if path == "" {
		path = filepath.Join(cfg.Data, "secret.key")
	}
	key, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && cfg.SecretKeyFile == "" {
		key = make([]byte, 32)
		_, _ = rand.Read(key) // crypto/rand.Read never fails
		if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
			return nil, fmt.Errorf("creating data directory: %w", err)
		}
		if err := os.WriteFile(path, key, 0o600); err != nil {
			return nil, fmt.Errorf("writing secret key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading secret key: %w", err)
	}
	if len(key) < 32 {
		return nil, fmt.Errorf("secret key %s: %d bytes, want at least 32", path, len(key))
	}
	return key, nil
}

func serve(ctx context.Context, cfg config.Config, bootstrap string, stdout, stderr io.Writer) error {
	log := newLogger(cfg.LogFormat, stderr)
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listening: %w", err)
	}
	g, err := startGuard(ctx, cfg, bootstrap, ln, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "atoguard listening on %s (clock %s, data %s)\n", g.URL, g.Mode, cfg.Data)
	if bootstrap == "" {
		log.Warn("ATOGUARD_API_KEY is not set: only keys made with `atoguard keys create` are accepted")
	}
	return g.Wait()
}

// newLogger returns the logger of log_format (text or json) on w.
func newLogger(format string, w io.Writer) *slog.Logger {
	var handler slog.Handler = slog.NewTextHandler(w, nil)
	if format == "json" {
		handler = slog.NewJSONHandler(w, nil)
	}
	return slog.New(handler)
}

// runningGuard is a guard serving its API, started by startGuard.
type runningGuard struct {
	URL  string // http://host:port
	Mode clock.Mode
	hub  *hot.Hub // nil: alone
	done chan error
	err  error
}

// Wait blocks until the guard has stopped (its context is done, or serving
// failed) and returns why it stopped; nil after a clean shutdown.
func (g *runningGuard) Wait() error {
	if err, ok := <-g.done; ok {
		g.err = err
	}
	return g.err
}

// guardStore keeps the guard's records: SQLite in the data directory, or a
// PostgreSQL that several instances share.
type guardStore interface {
	engine.Records
	groupcommit.Writer
	api.Records
	stepup.Store
	dashboard.Records
	dashboard.Operators
	notify.Outbox
	Close() error
}

// openGuardStore opens the records of cfg.
func openGuardStore(ctx context.Context, cfg config.Config) (guardStore, error) {
	if cfg.Records == "" {
		return sqlite.Open(ctx, cfg.Data, sqlite.Options{Synchronous: cfg.Synchronous})
	}
	if cfg.SecretKeyFile == "" {
		return nil, errors.New("records: instances sharing records must share the secret key too: set secret_key_file")
	}
	if cfg.StepUp.EncryptionKeyFile == "" && os.Getenv(stepup.EnvFactorKey) == "" {
		return nil, fmt.Errorf("records: instances sharing records must share the factor key too: set stepup.encryption_key_file or %s", stepup.EnvFactorKey)
	}
	st, err := postgres.Open(ctx, cfg.Records, postgres.Options{})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// startGuard starts the guard of cfg serving on ln, which it owns from then
// on, and returns once the guard takes events. When ctx is done it shuts
// down: it stops serving, saves what the detectors learned and closes the
// store; Wait returns then. `serve`, `demo` and `simulate` all start the
// guard this way.
func startGuard(ctx context.Context, cfg config.Config, bootstrap string, ln net.Listener, log *slog.Logger) (_ *runningGuard, err error) {
	var cleanup []func() error // in reverse order, when the guard stops or fails to start
	closeAll := func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			_ = cleanup[i]()
		}
	}
	cleanup = append(cleanup, ln.Close)
	defer func() {
		if err != nil {
			closeAll()
		}
	}()

	pol, err := policy.Default()
	if cfg.Policy != "" {
		pol, err = policy.Load(cfg.Policy)
	}
	if err != nil {
		return nil, err
	}
	mode, _ := clock.ParseMode(cfg.Clock) // validated
	key, err := secretKey(cfg)
	if err != nil {
		return nil, err
	}
	st, err := openGuardStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, st.Close)
	var writer groupcommit.Writer = st
	var jnl *journal.Journal
	if cfg.Records != "" {
		// Shared records: while PostgreSQL is out of reach, records are
		// journaled in the data directory and written when it returns.
		if jnl, err = journal.New(st, filepath.Join(cfg.Data, "journal"), journal.Options{Logger: log}); err != nil {
			return nil, err
		}
		cleanup = append(cleanup, jnl.Close)
		writer = jnl
	}
	committer := groupcommit.New(writer, groupcommit.Options{})
	if err := loadSprayKeys(&cfg.Engine.Spray); err != nil {
		return nil, err
	}
	clk := clock.New(mode, nil)
	eng := engine.New(cfg.Engine, clk, pol, st, committer, key)
	corpus, err := openCorpus(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, corpus.Close)
	eng.UseBreached(corpus)
	if cfg.GeoIP.CountryDB != "" || cfg.GeoIP.ASNDB != "" {
		g, err := geo.Open(cfg.GeoIP)
		if err != nil {
			return nil, err
		}
		cleanup = append(cleanup, g.Close)
		eng.UseGeo(g)
	}
	if err := eng.Restore(ctx); err != nil {
		return nil, err
	}
	var hub *hot.Hub
	stopHub := func() {}
	if cfg.Hot.URL != "" {
		if hub, err = hot.Open(ctx, cfg.Hot, key, log); err != nil {
			return nil, err
		}
		cleanup = append(cleanup, hub.Close)
		eng.UsePeers(hub)
		hctx, cancel := context.WithCancel(ctx)
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			_ = hub.Run(hctx, eng.Apply) // returns once hctx is done
		}()
		var once sync.Once
		stopHub = func() { once.Do(func() { cancel(); <-stopped }) }
		cleanup = append(cleanup, func() error { stopHub(); return nil })
	}
	if cfg.Notify.Enabled() {
		planner, err := notify.NewPlanner(cfg.Notify)
		if err != nil {
			return nil, err
		}
		eng.UseNotifications(planner)
		// Delivers the notification outbox until the guard stops; the
		// store is closed only after it has.
		disp, err := notify.NewDispatcher(cfg.Notify, st, log)
		if err != nil {
			return nil, err
		}
		dctx, stop := context.WithCancel(ctx)
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			_ = disp.Run(dctx) // returns nil once dctx is done
		}()
		cleanup = append(cleanup, func() error { stop(); <-stopped; return nil })
	}
	if cfg.Records != "" {
		// Shared records: answer through their outages (journal).
		var hubDown func() bool
		if hub != nil {
			hubDown = hub.Degraded
		}
		eng.UseOutage(cfg.Hot.OnOutage == hot.FailClosed, hubDown)
	}
	var ready atomic.Bool
	apiCfg := cfg.API
	apiCfg.BootstrapKey = bootstrap
	srv := api.New(apiCfg, log, eng, st, ready.Load)
	if jnl != nil {
		srv.SetRecordsOptional()
		srv.ServeHealth("journal", func(context.Context) (bool, any) { st := jnl.State(); return !st.Degraded, st })
	}
	if hub != nil {
		srv.ServeHealth("redis", func(context.Context) (bool, any) { return !hub.Degraded(), hub.Status() })
	}
	srv.ServeRanges(corpus)
	var locker stepup.Locker
	if hub != nil {
		locker = hub
	}
	if err := serveStepUp(ctx, cfg, clk, eng, st, key, srv, locker, log); err != nil {
		return nil, err
	}
	handler, err := withDashboard(ctx, cfg, log, clk, eng, st, srv.Handler())
	if err != nil {
		return nil, err
	}

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
	go func() { served <- hs.Serve(ln) }()
	ready.Store(true)
	g := &runningGuard{URL: "http://" + ln.Addr().String(), Mode: mode, hub: hub, done: make(chan error, 1)}
	go func() {
		defer close(g.done)
		defer closeAll()
		g.done <- runGuard(ctx, cfg, log, eng, committer, hs, served, &ready, stopHub)
	}()
	return g, nil
}

// runGuard ticks the engine and saves its state until ctx is done or
// serving fails, then shuts the guard down.
func runGuard(ctx context.Context, cfg config.Config, log *slog.Logger, eng *engine.Engine, committer *groupcommit.Committer,
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

// serveStepUp wires step-up verification (package stepup): factor keys,
// the mail server for email codes, the engine's choice of methods per user,
// and the challenge and factor endpoints.
func serveStepUp(ctx context.Context, cfg config.Config, clk *clock.Clock, eng *engine.Engine, st guardStore,
	key []byte, srv *api.Server, locker stepup.Locker, log *slog.Logger) error {
	keys, created, err := stepup.LoadKeys(cfg.StepUp.EncryptionKeyFile, os.Getenv(stepup.EnvFactorKey), cfg.Data)
	if err != nil {
		return err
	}
	if created {
		log.Warn("created the factor key file in the data directory; keep a copy apart from backups of the database (stepup.encryption_key_file)",
			"file", filepath.Join(cfg.Data, stepup.KeyFileName))
	}
	svc, err := stepup.New(cfg.StepUp, clk, st, eng, keys, key, log)
	if err != nil {
		return err
	}
	mc := cfg.StepUp.SMTP
	if mc.Host == "" && cfg.Notify.SMTP.Host != "" {
		mc = mailer.Config{Server: cfg.Notify.SMTP}
	}
	if mc.Host != "" {
		m, err := mailer.New(mc, os.Getenv)
		if err != nil {
			return err
		}
		svc.UseMailer(m)
	}
	if locker != nil {
		svc.UseLocker(locker)
	}
	eng.UseFactors(svc)
	srv.ServeStepUp(svc)
	// Reseal factor secrets sealed with a key that is no longer current.
	go func() {
		if n, err := svc.Rekey(ctx); err != nil {
			log.Error("resealing factor secrets", "err", err)
		} else if n > 0 {
			log.Info("resealed factor secrets with the current key", "key", keys.Current(), "factors", n)
		}
	}()
	return nil
}

// withDashboard serves the operators' dashboard (package dashboard) under
// /ui beside the API, sampling the campaign rates for its chart until ctx
// is done. Operator TOTP secrets are sealed with the factor keys.
func withDashboard(ctx context.Context, cfg config.Config, log *slog.Logger, clk *clock.Clock, eng *engine.Engine,
	st guardStore, apiHandler http.Handler) (http.Handler, error) {
	keys, _, err := stepup.LoadKeys(cfg.StepUp.EncryptionKeyFile, os.Getenv(stepup.EnvFactorKey), cfg.Data)
	if err != nil {
		return nil, err
	}
	dash, err := dashboard.New(dashboard.Config{Clock: clk.Now, Notify: cfg.Notify}, log, eng, st, st, keys)
	if err != nil {
		return nil, err
	}
	go dash.Run(ctx, 250*time.Millisecond)
	mux := http.NewServeMux()
	mux.Handle("/ui", dash.Handler())
	mux.Handle("/ui/", dash.Handler())
	mux.Handle("/", apiHandler)
	return mux, nil
}
