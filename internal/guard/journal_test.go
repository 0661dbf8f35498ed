package guard

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/journal"
)

// TestJournalRejectionIsAnAlert: acknowledged records the database
// refuses on replay degrade /readyz's journal part and show in a metric,
// until an operator discards them.
func TestJournalRejectionIsAnAlert(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	errDown := context.DeadlineExceeded
	errRefused := errors.New("date/time field value out of range")
	inner := writerFunc(func(ctx context.Context, b store.Batch) error {
		if down.Load() {
			return errDown
		}
		return errRefused
	})
	dir := t.TempDir()
	jnl, err := journal.New(inner, dir, journal.Options{Logger: slog.New(slog.DiscardHandler), MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer jnl.Close()
	check, gauge := journalParts(jnl)
	if ok, _ := check.Check(t.Context()); !ok {
		t.Fatal("journal degraded before anything happened")
	}
	if err := jnl.Write(t.Context(), store.Batch{Audit: []store.AuditRecord{{EventID: "e1"}}}); err != nil {
		t.Fatal(err)
	}
	down.Store(false)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := jnl.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if ok, detail := check.Check(t.Context()); ok {
		t.Errorf("journal check after a rejected batch = ok (%+v), want degraded", detail)
	}
	if got := gaugeValue(t, gauge); got != 1 {
		t.Errorf("atoguard_journal_rejected_batches = %v, want 1", got)
	}
	if _, err := journal.DiscardRejected(dir); err != nil {
		t.Fatal(err)
	}
	if ok, detail := check.Check(t.Context()); !ok {
		t.Errorf("journal check after discarding = degraded (%+v), want ok", detail)
	}
	if got := gaugeValue(t, gauge); got != 0 {
		t.Errorf("atoguard_journal_rejected_batches after discarding = %v, want 0", got)
	}
}

type writerFunc func(ctx context.Context, b store.Batch) error

func (f writerFunc) Write(ctx context.Context, b store.Batch) error { return f(ctx, b) }

func gaugeValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.(prometheus.Metric).Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetGauge().GetValue()
}
