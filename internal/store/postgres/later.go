package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Backoff between the attempts of a Store of OpenLater to reach its
// database.
const (
	laterMinBackoff = 100 * time.Millisecond
	laterMaxBackoff = 5 * time.Second
)

// OpenLater is Open for a database that may be out of reach, so that a
// guard can start from its journal while PostgreSQL is away: it returns
// at once, and the Store connects and migrates in the background, trying
// again until it has or the Store is closed. Until then every call fails
// with an error whose method Unavailable reports true (the journal counts
// it as the database being unavailable). log receives the outcome.
func OpenLater(dsn string, opts Options, log *slog.Logger) (*Store, error) {
	cfg, simple, err := parseConfig(dsn, opts)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg) // connects on first use
	if err != nil {
		return nil, fmt.Errorf("opening postgres: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &later{cancel: cancel, done: make(chan struct{})}
	s := newStore(pool, l)
	go l.run(ctx, func(ctx context.Context) error {
		if err := pool.Ping(ctx); err != nil {
			return fmt.Errorf("opening postgres %s: %w", where(cfg), err)
		}
		if err := migrate(ctx, cfg.ConnConfig, simple); err != nil {
			return fmt.Errorf("migrating postgres %s: %w", where(cfg), err)
		}
		return nil
	}, log)
	return s, nil
}

// later is the background connection of a Store of OpenLater.
type later struct {
	ready  atomic.Bool
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns

	mu  sync.Mutex
	err error // the last attempt's
}

// run calls open until it succeeds or ctx ends.
func (l *later) run(ctx context.Context, open func(context.Context) error, log *slog.Logger) {
	defer close(l.done)
	backoff := laterMinBackoff
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, time.Minute)
		err := open(actx)
		cancel()
		if err == nil {
			l.ready.Store(true)
			log.Info("postgres: reached and migrated", "attempts", attempt)
			return
		}
		l.mu.Lock()
		l.err = err
		l.mu.Unlock()
		if attempt == 1 {
			log.Warn("postgres: out of reach; trying again in the background", "err", err)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, laterMaxBackoff)
	}
}

// check returns nil once the database was reached and migrated (or for a
// Store of Open, whose later is nil), else an unavailableError.
func (l *later) check() error {
	if l == nil || l.ready.Load() {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return unavailableError{l.err}
}

// stop ends the background attempts and waits for them.
func (l *later) stop() {
	if l == nil {
		return
	}
	l.cancel()
	<-l.done
}

// unavailableError is the error of a Store of OpenLater that has not
// reached its database yet.
type unavailableError struct{ err error } // the last attempt's; nil before the first ends

func (e unavailableError) Error() string {
	if e.err == nil {
		return "postgres not reached yet"
	}
	return "postgres not reached yet: " + e.err.Error()
}

func (e unavailableError) Unwrap() error { return e.err }

// Unavailable reports true: the database could not be reached.
func (e unavailableError) Unavailable() bool { return true }
