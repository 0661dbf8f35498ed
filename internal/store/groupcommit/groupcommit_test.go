package groupcommit

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
)

// call is one underlying Write seen by a scriptedWriter; the test answers
// it through reply.
type call struct {
	b     store.Batch
	reply chan error
}

// scriptedWriter hands every Write to the test and returns what the test
// replies, so the test decides when each write ends.
type scriptedWriter chan call

func (w scriptedWriter) Write(ctx context.Context, b store.Batch) error {
	c := call{b: b, reply: make(chan error)}
	w <- c
	return <-c.reply
}

func (w scriptedWriter) next(t *testing.T) call {
	t.Helper()
	select {
	case c := <-w:
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no underlying write")
		return call{}
	}
}

func (w scriptedWriter) none(t *testing.T) {
	t.Helper()
	select {
	case c := <-w:
		t.Fatalf("unexpected underlying write of %v", ids(c.b))
	case <-time.After(20 * time.Millisecond):
	}
}

func batch(ids ...string) store.Batch {
	var b store.Batch
	for _, id := range ids {
		b.Audit = append(b.Audit, store.AuditRecord{EventID: id})
	}
	return b
}

func ids(b store.Batch) []string {
	var out []string
	for _, a := range b.Audit {
		out = append(out, a.EventID)
	}
	slices.Sort(out)
	return out
}

// waitQueued waits until n requests are queued.
func waitQueued(t *testing.T, c *Committer, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		got := len(c.queue)
		c.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d requests queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

// goWrite calls c.Write in a goroutine and returns where its error arrives.
func goWrite(ctx context.Context, c *Committer, b store.Batch) <-chan error {
	res := make(chan error, 1)
	go func() { res <- c.Write(ctx, b) }()
	return res
}

func result(t *testing.T, res <-chan error) error {
	t.Helper()
	select {
	case err := <-res:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Write did not return")
		return nil
	}
}

func TestQueuedBatchesMergeAndShareTheError(t *testing.T) {
	w := make(scriptedWriter)
	// An error Alone turns down (the database is down) is shared.
	c := New(w, Options{Alone: func(error) bool { return false }})
	defer c.Close()
	ctx := t.Context()

	first := goWrite(ctx, c, batch("a"))
	call1 := w.next(t)
	if d := cmp.Diff([]string{"a"}, ids(call1.b)); d != "" {
		t.Errorf("first write (-want +got):\n%s", d)
	}
	// While it runs, three more callers queue up.
	var waiting []<-chan error
	for _, id := range []string{"b", "c", "d"} {
		waiting = append(waiting, goWrite(ctx, c, batch(id, id+"2")))
	}
	waitQueued(t, c, 3)
	call1.reply <- nil
	if err := result(t, first); err != nil {
		t.Errorf("first Write = %v, want nil", err)
	}

	call2 := w.next(t)
	if d := cmp.Diff([]string{"b", "b2", "c", "c2", "d", "d2"}, ids(call2.b)); d != "" {
		t.Errorf("merged write (-want +got):\n%s", d)
	}
	errBoom := errors.New("disk full")
	call2.reply <- errBoom
	for i, res := range waiting {
		if err := result(t, res); !errors.Is(err, errBoom) {
			t.Errorf("waiter %d: Write = %v, want %v", i, err, errBoom)
		}
	}
}

func TestMaxBatch(t *testing.T) {
	w := make(scriptedWriter)
	c := New(w, Options{MaxBatch: 3})
	defer c.Close()
	ctx := t.Context()

	first := goWrite(ctx, c, batch("a"))
	call1 := w.next(t)
	// Queued in this order (each waits until the previous is queued):
	// 2 records, 1, 1, 5 (over the cap: alone), 1.
	var waiting []<-chan error
	for i, b := range []store.Batch{
		batch("b1", "b2"), batch("c"), batch("d"), batch("e1", "e2", "e3", "e4", "e5"), batch("f"),
	} {
		waiting = append(waiting, goWrite(ctx, c, b))
		waitQueued(t, c, i+1)
	}
	call1.reply <- nil
	if err := result(t, first); err != nil {
		t.Fatalf("first Write = %v", err)
	}
	wants := [][]string{
		{"b1", "b2", "c"},
		{"d"},
		{"e1", "e2", "e3", "e4", "e5"},
		{"f"},
	}
	for i, want := range wants {
		cl := w.next(t)
		if d := cmp.Diff(want, ids(cl.b)); d != "" {
			t.Errorf("write %d (-want +got):\n%s", i+2, d)
		}
		cl.reply <- nil
	}
	for i, res := range waiting {
		if err := result(t, res); err != nil {
			t.Errorf("waiter %d: Write = %v", i, err)
		}
	}
}

func TestContextCancel(t *testing.T) {
	w := make(scriptedWriter)
	c := New(w, Options{})
	defer c.Close()

	t.Run("already done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if err := c.Write(ctx, batch("x")); !errors.Is(err, context.Canceled) {
			t.Errorf("Write = %v, want context.Canceled", err)
		}
		w.none(t)
	})

	t.Run("while queued", func(t *testing.T) {
		first := goWrite(t.Context(), c, batch("a"))
		call1 := w.next(t)
		ctx, cancel := context.WithCancel(t.Context())
		cancelled := goWrite(ctx, c, batch("dropped"))
		kept := goWrite(t.Context(), c, batch("kept"))
		waitQueued(t, c, 2)
		cancel()
		if err := result(t, cancelled); !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled Write = %v, want context.Canceled", err)
		}
		call1.reply <- nil
		if err := result(t, first); err != nil {
			t.Errorf("first Write = %v", err)
		}
		call2 := w.next(t)
		if d := cmp.Diff([]string{"kept"}, ids(call2.b)); d != "" {
			t.Errorf("write after cancel (-want +got):\n%s", d)
		}
		call2.reply <- nil
		if err := result(t, kept); err != nil {
			t.Errorf("kept Write = %v", err)
		}
	})

	t.Run("while writing", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
		defer cancel()
		res := goWrite(ctx, c, batch("slow"))
		cl := w.next(t)
		if err := result(t, res); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Write = %v, want context.DeadlineExceeded", err)
		}
		cl.reply <- nil // nobody reads this result; the committer goes on
		next := goWrite(t.Context(), c, batch("next"))
		cl = w.next(t)
		if d := cmp.Diff([]string{"next"}, ids(cl.b)); d != "" {
			t.Errorf("next write (-want +got):\n%s", d)
		}
		cl.reply <- nil
		if err := result(t, next); err != nil {
			t.Errorf("next Write = %v", err)
		}
	})
}

func TestCloseDrains(t *testing.T) {
	w := make(scriptedWriter)
	c := New(w, Options{})
	ctx := t.Context()

	first := goWrite(ctx, c, batch("a"))
	call1 := w.next(t)
	queued := []<-chan error{goWrite(ctx, c, batch("b")), goWrite(ctx, c, batch("c"))}
	waitQueued(t, c, 2)

	closed := make(chan struct{})
	go func() {
		c.Close()
		close(closed)
	}()
	// Close waits for the queue to drain; meanwhile new writes are refused.
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		isClosed := c.closed
		c.mu.Unlock()
		if isClosed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Close did not start")
		}
		time.Sleep(time.Millisecond)
	}
	if err := c.Write(ctx, batch("late")); !errors.Is(err, ErrClosed) {
		t.Errorf("Write during Close = %v, want ErrClosed", err)
	}
	select {
	case <-closed:
		t.Fatal("Close returned before the queue drained")
	default:
	}

	call1.reply <- nil
	call2 := w.next(t)
	if d := cmp.Diff([]string{"b", "c"}, ids(call2.b)); d != "" {
		t.Errorf("drained write (-want +got):\n%s", d)
	}
	call2.reply <- nil
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	for _, res := range append(queued, first) {
		if err := result(t, res); err != nil {
			t.Errorf("Write = %v, want nil", err)
		}
	}
	if err := c.Write(ctx, batch("after")); !errors.Is(err, ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if err := c.Write(ctx, store.Batch{}); !errors.Is(err, ErrClosed) {
		t.Errorf("empty Write after Close = %v, want ErrClosed", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestEmptyBatchWritesNothing(t *testing.T) {
	w := make(scriptedWriter)
	c := New(w, Options{})
	defer c.Close()
	if err := c.Write(t.Context(), store.Batch{}); err != nil {
		t.Errorf("Write(empty) = %v", err)
	}
	w.none(t)
}

// countingWriter counts the underlying writes.
type countingWriter struct {
	w     Writer
	calls atomic.Int64
}

func (cw *countingWriter) Write(ctx context.Context, b store.Batch) error {
	cw.calls.Add(1)
	return cw.w.Write(ctx, b)
}

func TestManyWritersAllDurable(t *testing.T) {
	const writers, each = 32, 50
	mem := memory.New()
	cw := &countingWriter{w: mem}
	c := New(cw, Options{MaxBatch: 64})
	ctx := t.Context()

	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				id := fmt.Sprintf("w%d-%d", w, i)
				b := batch(id)
				b.Profiles = []store.Profile{{Account: id, Data: []byte(id)}}
				if err := c.Write(ctx, b); err != nil {
					t.Errorf("Write(%s): %v", id, err)
				}
			}
		})
	}
	wg.Wait()
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	n, err := mem.CountAudit(ctx)
	if err != nil {
		t.Fatalf("CountAudit: %v", err)
	}
	if n != writers*each {
		t.Errorf("CountAudit = %d, want %d", n, writers*each)
	}
	for w := range writers {
		id := fmt.Sprintf("w%d-%d", w, each-1)
		if _, err := mem.GetProfile(ctx, id); err != nil {
			t.Errorf("GetProfile(%s): %v", id, err)
		}
	}
	t.Logf("%d batches in %d underlying writes", writers*each, cw.calls.Load())
}

// poisonWriter refuses, whole, any batch that holds the event "bad", as a
// database refuses a transaction with one value it cannot store.
type poisonWriter struct {
	mu     sync.Mutex
	writes []int // records per underlying write
}

var errRefused = errors.New("value out of range")

func (w *poisonWriter) Write(ctx context.Context, b store.Batch) error {
	w.mu.Lock()
	w.writes = append(w.writes, b.Len())
	w.mu.Unlock()
	if slices.Contains(ids(b), "bad") {
		return errRefused
	}
	return nil
}

func TestRefusedMergedWriteRetriesMembersAlone(t *testing.T) {
	tests := []struct {
		name     string
		alone    func(error) bool
		wantFail []string // the batches whose Write fails
	}{
		{"default: every error", nil, []string{"bad"}},
		{"a refusal", func(err error) bool { return errors.Is(err, errRefused) }, []string{"bad"}},
		{"an outage is shared", func(error) bool { return false }, []string{"a", "b", "bad", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gate := make(scriptedWriter)
			pw := &poisonWriter{}
			var first atomic.Bool
			// The first write waits for the test, so that the rest queue
			// up behind it and merge into one.
			w := writerFunc(func(ctx context.Context, b store.Batch) error {
				if first.CompareAndSwap(false, true) {
					return gate.Write(ctx, b)
				}
				return pw.Write(ctx, b)
			})
			c := New(w, Options{Alone: tt.alone})
			defer c.Close()
			ctx := t.Context()
			hold := goWrite(ctx, c, batch("hold"))
			call := gate.next(t)
			names := []string{"a", "b", "bad", "c"}
			res := map[string]<-chan error{}
			for _, id := range names {
				res[id] = goWrite(ctx, c, batch(id))
			}
			waitQueued(t, c, len(names))
			call.reply <- nil
			if err := result(t, hold); err != nil {
				t.Fatalf("first Write = %v", err)
			}
			var failed []string
			for _, id := range names {
				if err := result(t, res[id]); err != nil {
					if !errors.Is(err, errRefused) {
						t.Errorf("Write(%s) = %v, want %v", id, err, errRefused)
					}
					failed = append(failed, id)
				}
			}
			if d := cmp.Diff(tt.wantFail, failed); d != "" {
				t.Errorf("failed writes (-want +got):\n%s", d)
			}
			pw.mu.Lock()
			defer pw.mu.Unlock()
			if pw.writes[0] != len(names) {
				t.Errorf("first underlying write had %d records, want the %d merged", pw.writes[0], len(names))
			}
		})
	}
}

type writerFunc func(ctx context.Context, b store.Batch) error

func (f writerFunc) Write(ctx context.Context, b store.Batch) error { return f(ctx, b) }
