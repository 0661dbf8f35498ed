package notify

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// Outbox is the part of the store a Dispatcher uses; store.Store is one.
type Outbox interface {
	ClaimNotifications(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]store.Notification, error)
	MarkNotificationSent(ctx context.Context, id string, at time.Time) error
	MarkNotificationRetry(ctx context.Context, id string, next time.Time, lastErr string) error
	MarkNotificationFailed(ctx context.Context, id string, at time.Time, lastErr string) error
}

var _ Outbox = (store.Store)(nil)

// sender delivers a notification of one channel; now is the time it
// runs at (webhook signatures carry it).
type sender interface {
	send(ctx context.Context, n store.Notification, now time.Time) error
}

// permanentError is a failure that retrying cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

func permanent(err error) error { return permanentError{err} }

// Dispatcher delivers the outbox: each round it claims the notifications
// that are due, delivers them, and marks each sent, due again later (with
// backoff) or failed for good. Everything it knows is in the store, so it
// picks up after a restart where it stopped; a notification whose
// delivery was cut short is claimed again once its lease ends.
type Dispatcher struct {
	outbox   Outbox
	senders  map[string]sender // by channel
	retry    RetryConfig
	poll     time.Duration
	batch    int
	workers  int
	timeout  time.Duration
	lease    time.Duration
	log      *slog.Logger
	now      func() time.Time
	wake     chan struct{}
	jitterMu sync.Mutex
	jitter   *mrand.Rand // guarded by jitterMu

	sent, retried, failed atomic.Int64
	queueDelay            atomic.Int64 // nanoseconds; see DispatchStats.QueueDelay
}

// DispatchStats counts a Dispatcher's deliveries since it was made, for
// metrics.
type DispatchStats struct {
	Sent    int64 // delivered
	Retried int64 // failed and due again later (shutdown interruptions included)
	Failed  int64 // given up on
	// QueueDelay is how long the oldest notification on its first
	// attempt in the last round had waited since it was enqueued (0 when
	// the round claimed none): it grows while the outbox has a backlog.
	QueueDelay time.Duration
}

// Stats returns the dispatcher's counts.
func (d *Dispatcher) Stats() DispatchStats {
	return DispatchStats{Sent: d.sent.Load(), Retried: d.retried.Load(), Failed: d.failed.Load(),
		QueueDelay: time.Duration(d.queueDelay.Load())}
}

// NewDispatcher returns a Dispatcher for cfg, which it validates, reading
// the SMTP password and webhook secrets from their files or environment
// variables. Secrets are never logged, nor webhook URLs.
func NewDispatcher(cfg Config, outbox Outbox, log *slog.Logger) (*Dispatcher, error) {
	return newDispatcher(cfg, outbox, log, os.Getenv)
}

func newDispatcher(cfg Config, outbox Outbox, log *slog.Logger, getenv func(string) string) (*Dispatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("notify configuration: %w", err)
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var seed [16]byte
	_, _ = rand.Read(seed[:]) // crypto/rand.Read never fails
	d := &Dispatcher{
		outbox: outbox, senders: map[string]sender{}, retry: cfg.Retry, poll: cfg.PollEvery,
		batch: cfg.BatchSize, workers: cfg.Workers, timeout: cfg.SendTimeout,
		// Long enough for the whole round: a lease must not end while its
		// delivery may still be running.
		lease: cfg.SendTimeout*time.Duration((cfg.BatchSize+cfg.Workers-1)/cfg.Workers) + time.Minute,
		log:   log, now: time.Now, wake: make(chan struct{}, 1),
		jitter: mrand.New(mrand.NewPCG(binary.LittleEndian.Uint64(seed[:8]), binary.LittleEndian.Uint64(seed[8:]))),
	}
	if cfg.SMTP.Host != "" {
		e, err := newEmailSender(cfg.SMTP, cfg.SendTimeout, getenv)
		if err != nil {
			return nil, err
		}
		d.senders[store.ChannelEmail] = e
	}
	if len(cfg.Webhooks) > 0 {
		w, err := newWebhookSender(cfg.Webhooks, getenv)
		if err != nil {
			return nil, err
		}
		d.senders[store.ChannelWebhook] = w
	}
	for _, w := range cfg.Webhooks {
		if w.Unsigned {
			log.Warn("webhook is unsigned: receivers cannot tell a forged delivery", "webhook", w.Name)
		}
	}
	return d, nil
}

// Wake makes a running dispatcher check the outbox now instead of at its
// next poll, e.g. right after notifications were written. It never
// blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is done, then returns nil. A round that claimed
// a full batch is followed at once by the next; otherwise it waits for
// the poll interval or Wake. Deliveries cut short by ctx are due again at
// once after a restart.
func (d *Dispatcher) Run(ctx context.Context) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		case <-d.wake:
			timer.Stop()
		}
		n, err := d.dispatch(ctx, d.now())
		if err != nil && ctx.Err() == nil {
			d.log.Error("notify: claiming notifications", "err", err)
		}
		next := d.poll
		if n == d.batch && err == nil {
			next = 0
		}
		timer.Reset(next)
	}
}

// DispatchDue runs one round now and returns how many notifications it
// tried to deliver.
func (d *Dispatcher) DispatchDue(ctx context.Context) (int, error) { return d.dispatch(ctx, d.now()) }

// dispatch claims what is due at now and delivers it, d.workers at a time.
func (d *Dispatcher) dispatch(ctx context.Context, now time.Time) (int, error) {
	ns, err := d.outbox.ClaimNotifications(ctx, now, d.lease, d.batch)
	if err != nil {
		return 0, err
	}
	// A claim increments Attempts, so 1 is a first attempt, due since it
	// was enqueued (retries wait out their backoff on purpose).
	var delay time.Duration
	for _, n := range ns {
		if n.Attempts == 1 {
			delay = max(delay, now.Sub(n.CreatedAt))
		}
	}
	d.queueDelay.Store(int64(delay))
	sem := make(chan struct{}, d.workers)
	var wg sync.WaitGroup
	for _, n := range ns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d.deliver(ctx, n)
		})
	}
	wg.Wait()
	return len(ns), nil
}

// deliver sends one claimed notification and records the outcome.
func (d *Dispatcher) deliver(ctx context.Context, n store.Notification) {
	err := ctx.Err()
	if err == nil {
		s, ok := d.senders[n.Channel]
		if !ok {
			err = fmt.Errorf("no %s channel is configured", n.Channel)
		} else {
			sctx, cancel := context.WithTimeout(ctx, d.timeout)
			err = s.send(sctx, n, d.now())
			cancel()
		}
	}
	at := d.now()
	// The outcome is recorded even when ctx ended meanwhile.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	log := d.log.With("id", n.ID, "kind", n.Kind, "channel", n.Channel, "attempt", n.Attempts)
	if n.Channel == store.ChannelWebhook {
		log = log.With("webhook", n.Recipient) // email addresses stay out of the log
	}
	var merr error
	var perm permanentError
	switch {
	case err == nil:
		merr = d.outbox.MarkNotificationSent(mctx, n.ID, at)
		d.sent.Add(1)
		log.Info("notification sent")
	case ctx.Err() != nil:
		// Shutting down: not the receiver's fault, so no backoff.
		merr = d.outbox.MarkNotificationRetry(mctx, n.ID, at, "interrupted: "+err.Error())
		d.retried.Add(1)
	case errors.As(err, &perm) || d.retry.GiveUp(n, at):
		merr = d.outbox.MarkNotificationFailed(mctx, n.ID, at, err.Error())
		d.failed.Add(1)
		log.Error("notification failed for good", "err", err)
	default:
		next := at.Add(d.retry.Delay(n.Attempts, d.jitterFloat()))
		merr = d.outbox.MarkNotificationRetry(mctx, n.ID, next, err.Error())
		d.retried.Add(1)
		log.Warn("notification failed; will retry", "err", err, "next", next)
	}
	if merr != nil {
		// The lease ends and the notification is claimed again: sent at
		// least once, never lost.
		log.Error("notify: recording the outcome", "err", merr)
	}
}

func (d *Dispatcher) jitterFloat() float64 {
	d.jitterMu.Lock()
	defer d.jitterMu.Unlock()
	return d.jitter.Float64()
}
