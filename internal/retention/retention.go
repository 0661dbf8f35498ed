// Package retention prunes what the guard keeps only for a while: audit
// records and delivered notifications past their retention, in small
// batches, so that pruning never holds the event writers up for long.
package retention

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// Config says how long records are kept. Zero fields take the defaults.
type Config struct {
	AuditDays         int           `yaml:"audit_days"`         // audit records, by when they were received (default 90)
	NotificationsDays int           `yaml:"notifications_days"` // notifications, after delivery or giving up (default 30)
	Every             time.Duration `yaml:"every"`              // how often to prune (default 1h)
	Batch             int           `yaml:"batch"`              // rows deleted per statement (default 1000)
	// Pause is the rest between two batches, during which writers go
	// first (default 50ms).
	Pause time.Duration `yaml:"pause"`
}

// WithDefaults returns c with its zero fields set.
func (c Config) WithDefaults() Config {
	if c.AuditDays == 0 {
		c.AuditDays = 90
	}
	if c.NotificationsDays == 0 {
		c.NotificationsDays = 30
	}
	if c.Every == 0 {
		c.Every = time.Hour
	}
	if c.Batch == 0 {
		c.Batch = 1000
	}
	if c.Pause == 0 {
		c.Pause = 50 * time.Millisecond
	}
	return c
}

// Problems lists what is wrong with c, one error a field.
func (c Config) Problems() []error {
	var errs []error
	for _, f := range []struct {
		name string
		v    int
	}{{"retention.audit_days", c.AuditDays}, {"retention.notifications_days", c.NotificationsDays}, {"retention.batch", c.Batch}} {
		if f.v < 0 {
			errs = append(errs, fmt.Errorf("%s: %d is negative (0: the default)", f.name, f.v))
		}
	}
	if c.Every < 0 || c.Pause < 0 {
		errs = append(errs, fmt.Errorf("retention.every and retention.pause must not be negative"))
	}
	return errs
}

// Pruner prunes a store on a schedule.
type Pruner struct {
	cfg   Config
	store store.RetentionStore
	wall  func() time.Time
	log   *slog.Logger
}

// New returns a pruner of st; wall is the wall clock retention is counted
// on.
func New(cfg Config, st store.RetentionStore, wall func() time.Time, log *slog.Logger) *Pruner {
	return &Pruner{cfg: cfg.WithDefaults(), store: st, wall: wall, log: log}
}

// Pruned counts what one round deleted.
type Pruned struct {
	Audit, Notifications int64
}

// Run prunes now and every Config.Every until ctx is done.
func (p *Pruner) Run(ctx context.Context) {
	t := time.NewTicker(p.cfg.Every)
	defer t.Stop()
	for {
		n, err := p.Prune(ctx, p.wall())
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			p.log.Error("pruning records past their retention", "err", err)
		case n.Audit+n.Notifications > 0:
			p.log.Info("pruned records past their retention", "audit", n.Audit, "notifications", n.Notifications)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Prune deletes, batch by batch, what is past its retention at now.
func (p *Pruner) Prune(ctx context.Context, now time.Time) (Pruned, error) {
	var out Pruned
	var err error
	out.Audit, err = p.drain(ctx, func(ctx context.Context) (int64, error) {
		return p.store.PruneAudit(ctx, now.AddDate(0, 0, -p.cfg.AuditDays), p.cfg.Batch)
	})
	if err != nil {
		return out, err
	}
	out.Notifications, err = p.drain(ctx, func(ctx context.Context) (int64, error) {
		return p.store.PruneNotifications(ctx, now.AddDate(0, 0, -p.cfg.NotificationsDays), p.cfg.Batch)
	})
	return out, err
}

// drain runs one batch after another, resting between them, until a
// batch comes back short.
func (p *Pruner) drain(ctx context.Context, batch func(context.Context) (int64, error)) (int64, error) {
	var total int64
	for {
		n, err := batch(ctx)
		total += n
		if err != nil || n < int64(p.cfg.Batch) {
			return total, err
		}
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-time.After(p.cfg.Pause):
		}
	}
}
