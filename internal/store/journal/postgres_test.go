package journal_test

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/journal"
	"github.com/atoguard/atoguard/internal/store/postgres"
	"github.com/atoguard/atoguard/internal/testserver"
)

// TestPostgresOutage stops a private PostgreSQL while batches are being
// written through the journal, starts it again, and checks that every
// acknowledged audit record reached the database.
func TestPostgresOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, st, j := privateJournal(ctx, t, slog.New(slog.NewTextHandler(tWriter{t}, nil)))

	var (
		mu    sync.Mutex
		acked []store.Batch
	)
	// Two writers, as the group committer's callers.
	stop := keepWriting(t, j, 2, 2*time.Millisecond, outageBatch, func(b store.Batch) {
		mu.Lock()
		acked = append(acked, b)
		mu.Unlock()
	})
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(acked)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s (state %+v)", what, j.State())
			}
		}
	}

	waitFor("writes before the outage", func() bool { return count() >= 50 })
	pg.Stop()
	before := count()
	waitFor("journaled writes", func() bool { return j.State().Pending >= 50 && count() >= before+50 })
	if st := j.State(); !st.Degraded {
		t.Errorf("State during the outage: %+v, want degraded", st)
	}
	pg.Start()
	n := count()
	waitFor("writes after the restart", func() bool { return count() >= n+50 })
	stop()
	if err := j.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v", err)
	}
	if st := j.State(); st.Degraded || st.Rejected != 0 {
		t.Errorf("State after drain: %+v", st)
	}

	want := map[string]bool{}
	for _, b := range acked {
		for _, a := range b.Audit {
			want[a.EventID] = true
		}
	}
	checkAudit(ctx, t, st, want)

	// Replaying every batch again (a crash mid-replay) changes nothing.
	for _, b := range acked {
		if err := st.Write(ctx, b); err != nil {
			t.Fatalf("writing a batch again: %v", err)
		}
	}
	checkAudit(ctx, t, st, want)
	t.Logf("%d batches acknowledged, %d audit records", len(acked), len(want))
}

func checkAudit(ctx context.Context, t *testing.T, st *postgres.Store, want map[string]bool) {
	t.Helper()
	n, err := st.CountAudit(ctx)
	if err != nil {
		t.Fatalf("CountAudit: %v", err)
	}
	recs, err := st.ListAudit(ctx, store.AuditQuery{Limit: len(want) + 10})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	got := map[string]bool{}
	for _, r := range recs {
		got[r.EventID] = true
	}
	missing := 0
	for id := range want {
		if !got[id] {
			missing++
		}
	}
	if missing > 0 || n != int64(len(want)) {
		t.Errorf("audit: %d records stored, %d acknowledged, %d acknowledged missing", n, len(want), missing)
	}
}

func outageBatch(w, i int) store.Batch {
	now := time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Millisecond)
	var b store.Batch
	for k := range 3 {
		b.Audit = append(b.Audit, store.AuditRecord{
			EventID: fmt.Sprintf("ev-%d-%d-%d", w, i, k), ReceivedAt: now, OccurredAt: now,
			Type: "login", Account: fmt.Sprintf("acct-%d", i%7), Decision: "allow",
			Reasons: []string{"familiar_device"}, Event: []byte(`{}`),
		})
	}
	b.Profiles = []store.Profile{{Account: fmt.Sprintf("acct-%d", i%7), Data: []byte{byte(i)}, UpdatedAt: now}}
	return b
}

// tWriter sends log lines to t.Log.
type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// TestPostgresDrainUnderLoad stops a private PostgreSQL until the journal
// holds some 1,500 batches, starts it again and keeps writing: the
// journal must empty within 30 s while the writes go on.
func TestPostgresDrainUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL server")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pg, _, j := privateJournal(ctx, t, slog.New(slog.DiscardHandler))
	defer keepWriting(t, j, 4, time.Millisecond, outageBatch, nil)()
	pg.Stop()
	for j.State().Pending < 1500 {
		time.Sleep(5 * time.Millisecond)
	}
	pg.Start()
	back := j.State().Pending
	var trace []int
	start := time.Now()
	for time.Since(start) < 30*time.Second {
		p := j.State().Pending
		if p == 0 {
			break
		}
		if time.Since(start) >= time.Duration(len(trace))*time.Second {
			trace = append(trace, p)
		}
		time.Sleep(time.Millisecond)
	}
	left := j.State().Pending
	t.Logf("pending when PostgreSQL came back: %d; each second after: %v; %d after %s",
		back, trace, left, time.Since(start).Round(time.Millisecond))
	if left != 0 {
		t.Errorf("the journal did not empty within 30 s while writes kept coming (%d pending)", left)
	}
}

// privateJournal starts a private PostgreSQL and returns it, a store on
// it and a journal in front of that, each closed when t ends.
func privateJournal(ctx context.Context, t *testing.T, log *slog.Logger) (*testserver.PG, *postgres.Store, *journal.Journal) {
	t.Helper()
	pg := testserver.Postgres(t)
	st, err := postgres.Open(ctx, pg.URL(), postgres.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	j, err := journal.New(st, t.TempDir(), journal.Options{
		MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		InnerTimeout: 2 * time.Second, Logger: log,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return pg, st, j
}
