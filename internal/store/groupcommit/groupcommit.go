// Package groupcommit merges concurrent store writes into one underlying
// write, so that many callers share one transaction and one fsync.
package groupcommit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/atoguard/atoguard/internal/store"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("group committer closed")

// Writer is what a Committer writes through; store.Store is one.
type Writer interface {
	Write(ctx context.Context, b store.Batch) error
}

var _ Writer = (*Committer)(nil)

// defaultMaxBatch is what Options.MaxBatch 0 means.
const defaultMaxBatch = 1000

// Options tunes a Committer. The zero value is valid.
type Options struct {
	// MaxBatch caps the records (audit records, profiles, incidents,
	// incident accounts, challenges and notifications together) merged into one
	// underlying write; 0 means 1000. A single batch larger than MaxBatch
	// is written alone, never split.
	MaxBatch int
	// Alone reports whether, after an error of a merged write, each
	// caller's batch is written again alone, so that a batch the database
	// refuses fails its own caller only. nil means for every error; a
	// Writer in front of a journal says no to outages.
	Alone func(error) bool
}

// Committer is a Writer that merges the batches of concurrent callers.
// One goroutine takes everything queued, writes it with one call of the
// underlying Writer and hands the result to every caller whose batch was
// in it. While that write runs, new batches queue up and form the next
// one, so the more callers wait, the larger (and fewer) the writes.
type Committer struct {
	w        Writer
	maxBatch int
	alone    func(error) bool
	done     chan struct{} // closed when run returns

	mu     sync.Mutex
	cond   *sync.Cond // signalled when queue grows or closed is set
	queue  []*request
	closed bool
}

// Request states.
const (
	queued    int32 = iota
	taken           // the writer goroutine has it; the caller waits for the result
	abandoned       // the caller's ctx ended first; never written
)

type request struct {
	b      store.Batch
	n      int
	state  atomic.Int32
	result chan error // buffered: the writer goroutine never blocks
}

// New starts a Committer writing to w. Call Close to stop it.
func New(w Writer, opts Options) *Committer {
	c := &Committer{w: w, maxBatch: opts.MaxBatch, alone: opts.Alone, done: make(chan struct{})}
	if c.maxBatch <= 0 {
		c.maxBatch = defaultMaxBatch
	}
	if c.alone == nil {
		c.alone = func(error) bool { return true }
	}
	c.cond = sync.NewCond(&c.mu)
	go c.run()
	return c
}

// Write queues b and waits until the merged write that carries it has
// returned, and returns that write's error: when Write returns nil, b is
// as durable as the underlying Writer makes it. When the merged write
// fails and Options.Alone agrees, b is written again alone and Write
// returns the error of that write, so that another caller's batch the
// database refuses does not fail b.
//
// If ctx ends first Write returns ctx's error. b is then dropped if it was
// still queued, but if its write had already started it may yet succeed;
// the slices in b are read until that write ends, so the caller must not
// modify them after an early return. An empty batch returns nil at once.
func (c *Committer) Write(ctx context.Context, b store.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	r := &request{b: b, n: size(&b), result: make(chan error, 1)}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if r.n == 0 {
		c.mu.Unlock()
		return nil
	}
	c.queue = append(c.queue, r)
	c.cond.Signal()
	c.mu.Unlock()

	select {
	case err := <-r.result:
		return err
	case <-ctx.Done():
		// Still queued: dropped. Already taken: the write goes on and its
		// result lands unread in the buffered channel.
		r.state.CompareAndSwap(queued, abandoned)
		return ctx.Err()
	}
}

// Close writes everything already queued, stops the goroutine and makes
// later Writes return ErrClosed. It waits for the last write to finish.
// It does not close the underlying Writer.
func (c *Committer) Close() error {
	c.mu.Lock()
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	<-c.done
	return nil
}

func (c *Committer) run() {
	defer close(c.done)
	// The merged write serves many callers, so no one caller's ctx may
	// cancel it; each caller stops waiting on its own ctx instead.
	ctx := context.Background()
	for {
		reqs, ok := c.next()
		if !ok {
			return
		}
		var merged store.Batch
		if len(reqs) == 1 {
			merged = reqs[0].b
		} else {
			for _, r := range reqs {
				merged.Append(r.b)
			}
		}
		err := c.w.Write(ctx, merged)
		if err != nil && len(reqs) > 1 && c.alone(err) {
			// One refused batch fails a whole transaction: find it by
			// writing each alone. Writes are idempotent, and a refused
			// write committed nothing.
			for _, r := range reqs {
				r.result <- c.w.Write(ctx, r.b)
			}
			continue
		}
		for _, r := range reqs {
			r.result <- err
		}
	}
}

// next waits for queued requests and takes up to maxBatch records' worth,
// skipping abandoned ones. It reports false once closed and drained.
func (c *Committer) next() ([]*request, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for len(c.queue) == 0 {
			if c.closed {
				return nil, false
			}
			c.cond.Wait()
		}
		var reqs []*request
		total, i := 0, 0
		for ; i < len(c.queue); i++ {
			r := c.queue[i]
			if len(reqs) > 0 && total+r.n > c.maxBatch {
				break
			}
			if !r.state.CompareAndSwap(queued, taken) {
				continue // abandoned
			}
			reqs = append(reqs, r)
			total += r.n
		}
		clear(c.queue[:i]) // let the taken requests be collected
		c.queue = c.queue[i:]
		if len(reqs) > 0 {
			return reqs, true
		}
	}
}

func size(b *store.Batch) int { return b.Len() }
