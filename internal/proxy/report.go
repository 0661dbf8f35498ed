package proxy

import (
	"context"
	"sync"
	"time"

	shopclient "github.com/atoguard/atoguard/client"
)

// batchGuard is a Guard that takes many events in one request; a
// *shopclient.Client is one.
type batchGuard interface {
	AssessBatch(ctx context.Context, evs []shopclient.Event) ([]shopclient.Result, error)
}

// reportQueue bounds the events waiting to be reported after their
// answer, maxReportBatch one request of them; reportLinger is how long a
// report waits for others to go with it (its event time is when it
// happened, not when it is sent).
const (
	reportQueue    = 4096
	maxReportBatch = 256
	reportLinger   = 10 * time.Millisecond
)

// reporter sends the events whose decision changes nothing at the edge (a
// failed login: the shop has already refused it) after the browser has its
// answer, so that their round trip to the guard is not on the login's
// path. One goroutine sends what has queued up, in batches when the guard
// takes them; when the queue is full the caller reports its event itself,
// so nothing is dropped and a flood slows down rather than piling up.
type reporter struct {
	guard   Guard
	timeout time.Duration // bounds one request
	warn    func(msg string, args ...any)

	start sync.Once
	queue chan shopclient.Event
	stop  chan struct{}
	done  chan struct{}
	close sync.Once
}

func newReporter(g Guard, timeout time.Duration, warn func(string, ...any)) *reporter {
	return &reporter{guard: g, timeout: timeout, warn: warn, queue: make(chan shopclient.Event, reportQueue),
		stop: make(chan struct{}), done: make(chan struct{})}
}

// report queues ev, or sends it at once when the queue is full or the
// reporter closed.
func (r *reporter) report(ctx context.Context, ev shopclient.Event) {
	r.start.Do(func() { go r.run() })
	select {
	case <-r.stop:
	default:
		select {
		case r.queue <- ev:
			return
		default:
		}
	}
	r.send(ctx, []shopclient.Event{ev})
}

func (r *reporter) run() {
	defer close(r.done)
	batch := make([]shopclient.Event, 0, maxReportBatch)
	for {
		select {
		case ev := <-r.queue:
			batch = append(batch[:0], ev)
		case <-r.stop:
			r.drain(batch[:0])
			return
		}
		r.fill(&batch)
		r.send(context.Background(), batch)
	}
}

// fill adds to batch what queues up within reportLinger of its first
// event, up to maxReportBatch: one request and one durable write at the
// guard for all of them, rather than one each, which under load would
// queue the next login's own write behind them.
func (r *reporter) fill(batch *[]shopclient.Event) {
	t := time.NewTimer(reportLinger)
	defer t.Stop()
	for len(*batch) < maxReportBatch {
		select {
		case ev := <-r.queue:
			*batch = append(*batch, ev)
		case <-t.C:
			return
		case <-r.stop:
			return
		}
	}
}

// drain sends what is still queued.
func (r *reporter) drain(batch []shopclient.Event) {
	for {
		select {
		case ev := <-r.queue:
			batch = append(batch, ev)
			if len(batch) < maxReportBatch {
				continue
			}
		default:
		}
		if len(batch) == 0 {
			return
		}
		r.send(context.Background(), batch)
		batch = batch[:0]
	}
}

// send reports evs: in one request when the guard takes batches, one by
// one when it does not or refused the batch (one bad event refuses all).
func (r *reporter) send(ctx context.Context, evs []shopclient.Event) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if b, ok := r.guard.(batchGuard); ok && len(evs) > 1 {
		if _, err := b.AssessBatch(ctx, evs); err == nil {
			return
		}
	}
	for _, ev := range evs {
		if _, err := r.guard.Assess(ctx, ev); err != nil {
			r.warn("guard took no report", "event", ev.Type, "err", err)
		}
	}
}

// Close sends what is queued and stops the reporter; reports after it are
// sent by their callers.
func (r *reporter) Close() {
	r.close.Do(func() {
		close(r.stop)
		r.start.Do(func() { close(r.done) }) // never started: nothing queued
	})
	<-r.done
}
