package journal_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/journal"
)

// slowWriter takes rtt per write, whatever its size, as a database across
// a network does, and fails as unavailable while down.
type slowWriter struct {
	rtt     time.Duration
	down    atomic.Bool
	mu      sync.Mutex
	written map[string]int // audit event id → times written
}

func (w *slowWriter) Write(ctx context.Context, b store.Batch) error {
	time.Sleep(w.rtt)
	if w.down.Load() {
		return errDown
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, a := range b.Audit {
		w.written[a.EventID]++
	}
	return nil
}

// TestDrainUnderLoad keeps writing while the database comes back after an
// outage: the journal must still empty, and every acknowledged batch be
// written once, in spite of the writes that keep coming.
func TestDrainUnderLoad(t *testing.T) {
	inner := &slowWriter{rtt: 2 * time.Millisecond, written: map[string]int{}}
	inner.down.Store(true)
	j := open(t, inner, t.TempDir(), journal.Options{MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond})

	var acked atomic.Int64
	// More writers than the database takes one at a time.
	stop := keepWriting(t, j, 4, 500*time.Microsecond, func(w, i int) store.Batch {
		return batch(fmt.Sprintf("w%d-%d", w, i))
	}, func(store.Batch) { acked.Add(1) })
	for j.State().Pending < 1000 {
		time.Sleep(time.Millisecond)
	}
	inner.down.Store(false)
	back := j.State().Pending
	emptied := false
	var trace []int
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if p := j.State().Pending; p == 0 {
			emptied = true
			break
		} else if len(trace) == 0 || time.Duration(len(trace))*500*time.Millisecond < time.Since(deadline.Add(-5*time.Second)) {
			trace = append(trace, p)
		}
	}
	left := j.State().Pending
	stop()
	t.Logf("pending when the database came back: %d; every 0.5 s after: %v; emptied while writing: %v (pending %d at the end)",
		back, trace, emptied, left)
	if !emptied {
		t.Errorf("the journal never emptied within 5 s of the database coming back while writes kept coming")
	}
	drain(t, j)
	inner.mu.Lock()
	defer inner.mu.Unlock()
	if n := acked.Load(); int64(len(inner.written)) != n {
		t.Errorf("%d batches acknowledged, %d written", n, len(inner.written))
	}
	for id, n := range inner.written {
		if n != 1 {
			t.Errorf("%s written %d times", id, n)
		}
	}
}

// keepWriting writes the batches mk makes to j from n goroutines, pausing
// between writes, until the function it returns is called, which waits
// for them; acked, if not nil, is called with each batch acknowledged.
func keepWriting(t *testing.T, j *journal.Journal, n int, pause time.Duration,
	mk func(w, i int) store.Batch, acked func(store.Batch)) (stop func()) {
	stopped := make(chan struct{})
	var wg sync.WaitGroup
	for w := range n {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stopped:
					return
				default:
				}
				b := mk(w, i)
				if err := j.Write(context.Background(), b); err != nil {
					t.Errorf("Write %d/%d: %v (state %+v)", w, i, err, j.State())
					return
				}
				if acked != nil {
					acked(b)
				}
				time.Sleep(pause)
			}
		})
	}
	return func() { close(stopped); wg.Wait() }
}
