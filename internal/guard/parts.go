package guard

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/atoguard/atoguard/internal/api"
	"github.com/atoguard/atoguard/internal/breach"
	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/dashboard"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/geo"
	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/signal/spray"
	"github.com/atoguard/atoguard/internal/stepup"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/groupcommit"
	"github.com/atoguard/atoguard/internal/store/journal"
	"github.com/atoguard/atoguard/internal/store/keycache"
	"github.com/atoguard/atoguard/internal/store/postgres"
	"github.com/atoguard/atoguard/internal/store/sqlite"
)

// secretKey loads the key for keyed hashes, creating it on first start.
func secretKey(cfg config.Config) ([]byte, error) {
	path := cfg.SecretKeyPath()
	key, err := config.ReadSecretKey(path)
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
	return key, err
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
	store.RetentionStore
	keycache.Source
	store.ChallengeSweeper // the engine sweeps abandoned challenges through it
	Close() error
}

// openStore opens the records of cfg. Shared records that are out of
// reach are opened anyway (postgres.OpenLater): the guard starts from its
// journal and its cached keys, and the store connects when it can.
func openStore(ctx context.Context, cfg config.Config, getenv func(string) string, log *slog.Logger) (guardStore, error) {
	if cfg.Records == "" {
		return sqlite.Open(ctx, cfg.Data, sqlite.Options{Synchronous: cfg.Synchronous})
	}
	if cfg.SecretKeyFile == "" {
		return nil, errors.New("records: instances sharing records must share the secret key too: set secret_key_file")
	}
	if cfg.StepUp.EncryptionKeyFile == "" && getenv(stepup.EnvFactorKey) == "" {
		return nil, fmt.Errorf("records: instances sharing records must share the factor key too: set stepup.encryption_key_file or %s", stepup.EnvFactorKey)
	}
	st, err := postgres.Open(ctx, cfg.Records, postgres.Options{})
	if err != nil && journal.Unavailable(err) && ctx.Err() == nil {
		log.Warn("records: PostgreSQL is out of reach; starting from the journal and the cached API keys", "err", err)
		return postgres.OpenLater(cfg.Records, postgres.Options{}, log)
	}
	if err != nil {
		return nil, err
	}
	return st, nil
}

// keysFileName is the copy of the API key records (hashes, never
// secrets) in the data directory, kept for starting while the shared
// records are out of reach.
const keysFileName = "keys.cache"

// cachedKeys answers key lookups from a copy of the key records in the
// data directory while shared records are out of reach (package
// keycache), refreshing the copy first when they are not.
func cachedKeys(ctx context.Context, cfg config.Config, st guardStore, secret []byte, log *slog.Logger) guardStore {
	if cfg.Records == "" {
		return st
	}
	c, err := keycache.Open(st, filepath.Join(cfg.Data, keysFileName), secret, journal.Unavailable)
	if err != nil {
		log.Error("API keys: ignoring the cached copy", "err", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := c.Refresh(ctx); err != nil && !journal.Unavailable(err) {
		log.Error("API keys: refreshing the cached copy", "err", err)
	}
	return keyedStore{st, c}
}

// keyedStore is a guardStore whose key lookups go through a key cache.
type keyedStore struct {
	guardStore
	keys *keycache.Cache
}

func (s keyedStore) KeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	return s.keys.KeyByHash(ctx, hash)
}

// journaled returns where the guard writes its records: the store itself,
// or with shared records a journal in the data directory that answers
// through PostgreSQL's outages and writes the records when it returns.
func journaled(cfg config.Config, st guardStore, log *slog.Logger) (groupcommit.Writer, *journal.Journal, error) {
	if cfg.Records == "" {
		return st, nil, nil
	}
	jnl, err := journal.New(st, filepath.Join(cfg.Data, "journal"), journal.Options{Logger: log})
	if err != nil {
		return nil, nil, err
	}
	return jnl, jnl, nil
}

// refused reports whether a failed write is the database refusing what it
// was given, so that the group committer writes each caller's batch again
// alone, rather than the database or the journal taking no write at all.
func refused(err error) bool {
	return !journal.Unavailable(err) && !errors.Is(err, journal.ErrFull) && !errors.Is(err, journal.ErrClosed)
}

// loadSprayKeys reads the password-spraying HMAC keys named in the
// configuration.
func loadSprayKeys(c *spray.Config) error {
	for _, k := range []struct {
		name, path string
		dst        *[]byte
	}{{"engine.spray.key_file", c.KeyFile, &c.Key}, {"engine.spray.previous_key_file", c.PreviousKeyFile, &c.PreviousKey}} {
		if k.path == "" {
			continue
		}
		b, err := os.ReadFile(k.path)
		if err != nil {
			return fmt.Errorf("%s: %w", k.name, err)
		}
		if len(b) < spray.MinKeyBytes {
			return fmt.Errorf("%s: %s holds %d bytes, want at least %d", k.name, k.path, len(b), spray.MinKeyBytes)
		}
		*k.dst = b
	}
	return nil
}

// openCorpus opens the breached-password corpus for the guard and keeps
// it current until ctx is done: an import finished while the guard runs
// is picked up within a minute.
func openCorpus(ctx context.Context, cfg config.Config, log *slog.Logger) (*breach.Corpus, error) {
	c, err := breach.OpenCorpus(cfg.Passwords.DirOf(cfg.Data), !cfg.Passwords.DisableBuiltin)
	if err != nil {
		return nil, err
	}
	in := c.Info()
	log.Info("breached passwords", "imported", in.Imported, "builtin", in.Builtin)
	go func() {
		t := time.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if changed, err := c.Refresh(); err != nil {
					log.Error("reloading breached passwords", "err", err)
				} else if changed {
					log.Info("breached passwords reloaded", "imported", c.Info().Imported)
				}
			}
		}
	}()
	return c, nil
}

// openGeo opens the GeoIP databases of cfg; nil when it names none.
func openGeo(cfg config.Config) (*geo.DB, error) {
	if cfg.GeoIP.CountryDB == "" && cfg.GeoIP.ASNDB == "" {
		return nil, nil
	}
	return geo.Open(cfg.GeoIP)
}

// newPlanner returns the planner of owners' notifications; nil when cfg
// turns notifications off.
func newPlanner(cfg config.Config) (*notify.Planner, error) {
	if !cfg.Notify.Enabled() {
		return nil, nil
	}
	return notify.NewPlanner(cfg.Notify)
}

// dispatchNotifications delivers the notification outbox until ctx is
// done or the returned function is called; that function returns once
// delivery has stopped. The dispatcher is returned for its metrics.
func dispatchNotifications(ctx context.Context, cfg config.Config, st notify.Outbox, log *slog.Logger) (_ *notify.Dispatcher, stop func(), _ error) {
	disp, err := notify.NewDispatcher(cfg.Notify, st, log)
	if err != nil {
		return nil, nil, err
	}
	return disp, runInBackground(ctx, func(ctx context.Context) { _ = disp.Run(ctx) }), nil // Run returns nil once ctx is done
}

// loadFactorKeys loads the keys that seal factor and operator TOTP
// secrets, creating the key file in the data directory on first start
// when none is configured.
func loadFactorKeys(cfg config.Config, getenv func(string) string, log *slog.Logger) (*stepup.Keyring, error) {
	keys, created, err := stepup.LoadKeys(cfg.StepUp.EncryptionKeyFile, getenv(stepup.EnvFactorKey), cfg.Data)
	if err != nil {
		return nil, err
	}
	if created {
		log.Warn("created the factor key file in the data directory; keep a copy apart from backups of the database (stepup.encryption_key_file)",
			"file", filepath.Join(cfg.Data, stepup.KeyFileName))
	}
	return keys, nil
}

// rekeyFactors reseals factor secrets sealed with a key that is no longer
// current.
func rekeyFactors(ctx context.Context, svc *stepup.Service, keys *stepup.Keyring, log *slog.Logger) {
	if n, err := svc.Rekey(ctx); err != nil {
		log.Error("resealing factor secrets", "err", err)
	} else if n > 0 {
		log.Info("resealed factor secrets with the current key", "key", keys.Current(), "factors", n)
	}
}

// withDashboard serves the operators' dashboard (package dashboard) under
// /ui beside the API, sampling the campaign rates for its chart until ctx
// is done. Operator TOTP secrets are sealed with the factor keys.
func withDashboard(ctx context.Context, cfg config.Config, log *slog.Logger, clk *clock.Clock, eng *engine.Engine,
	st guardStore, keys *stepup.Keyring, fed dashboard.Federation, apiHandler http.Handler) (http.Handler, error) {
	proxies, err := cfg.Dashboard.Proxies() // validated
	if err != nil {
		return nil, err
	}
	dash, err := dashboard.New(dashboard.Config{Notify: cfg.Notify, TrustedProxies: proxies,
		LoginPerMinute: cfg.Dashboard.LoginPerMinute, SecureCookies: cfg.Dashboard.SecureCookies},
		dashboard.Deps{Log: log, Clock: clk, Engine: eng, Records: st, Operators: st, Opener: keys, Federation: fed})
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
