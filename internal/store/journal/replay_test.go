package journal_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/journal"
	"github.com/atoguard/atoguard/internal/store/postgres"
	"github.com/atoguard/atoguard/internal/testserver"
)

// lostAck writes its first batch through to a store, then answers as if
// the connection dropped before the commit was acknowledged: the batch is
// in the database, and the journal keeps it to write again. It writes no
// other batch: the database is down.
type lostAck struct {
	st   *postgres.Store
	mu   sync.Mutex
	done bool
}

func (w *lostAck) Write(ctx context.Context, b store.Batch) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return errDown
	}
	w.done = true
	if err := w.st.Write(ctx, b); err != nil {
		return err
	}
	return errDown
}

// TestReplayWritesNothingTwice writes a batch whose acknowledgement is
// lost, so that the journal, opened again after a restart, replays a
// batch the database holds already; meanwhile another instance wrote
// newer rows of the same keys. The replay must change nothing: no row
// goes back to the older copy, and no record is written twice.
func TestReplayWritesNothingTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("needs PostgreSQL")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	st, err := postgres.Open(ctx, testserver.PostgresSchema(t), postgres.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer st.Close()
	dir := t.TempDir()
	j, err := journal.New(&lostAck{st: st}, dir, journal.Options{MinBackoff: time.Hour, MaxBackoff: time.Hour})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer j.Close()

	t0 := time.Date(2026, 11, 25, 21, 0, 0, 0, time.UTC)
	older := store.Batch{
		Audit: []store.AuditRecord{{EventID: "ev-1", ReceivedAt: t0, OccurredAt: t0, Type: "login",
			Account: "alice", Decision: "allow", Event: []byte(`{}`)}},
		IncidentAccounts: []store.IncidentAccount{{IncidentID: "inc-1", Account: "alice", Known: true,
			Outcome: store.OutcomeDenied, Attempts: 3, FirstSeen: t0, LastSeen: t0}},
		Contacts: []store.Contacts{{UserID: "alice", Email: "old@example.jp", UpdatedAt: t0}},
	}
	if err := j.Write(ctx, older); err != nil { // committed, acknowledgement lost: journaled
		t.Fatalf("Write: %v", err)
	}
	// Two more go behind it. The replay after the restart merges the
	// three into one write, which fails on the first one's id, and then
	// writes them one by one.
	for _, id := range []string{"ev-2", "ev-3"} {
		if err := j.Write(ctx, store.Batch{Audit: []store.AuditRecord{{EventID: id, ReceivedAt: t0, OccurredAt: t0,
			Type: "login", Account: "bob", Decision: "allow", Event: []byte(`{}`)}}}); err != nil {
			t.Fatalf("Write: %v", err)
		}
	}
	if got := j.State().Pending; got != 3 {
		t.Fatalf("pending after the lost acknowledgement: got %d, want 3", got)
	}
	// Another instance writes newer copies meanwhile.
	t1 := t0.Add(time.Minute)
	newer := store.Batch{
		IncidentAccounts: []store.IncidentAccount{{IncidentID: "inc-1", Account: "alice", Known: true,
			Outcome: store.OutcomeDenied, Attempts: 9, FirstSeen: t0, LastSeen: t1}},
		Contacts: []store.Contacts{{UserID: "alice", Email: "new@example.jp", UpdatedAt: t1}},
	}
	if err := st.Write(ctx, newer); err != nil {
		t.Fatalf("writing the newer copies: %v", err)
	}
	// The guard restarts; its journal replays the batches.
	j.Close()
	j, err = journal.New(st, dir, journal.Options{})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer j.Close()
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	if err := j.Drain(dctx); err != nil {
		t.Fatalf("Drain: %v (state %+v)", err, j.State())
	}

	ias, err := st.ListIncidentAccounts(ctx, "inc-1")
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.GetContacts(ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	n, err := st.CountAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after the replay: incident account attempts %d, contacts %s, audit records %d", ias[0].Attempts, c.Email, n)
	if len(ias) != 1 || ias[0].Attempts != 9 || c.Email != "new@example.jp" || n != 3 {
		t.Errorf("after the replay: incident accounts %+v, contacts %q, %d audit records; want attempts 9, new@example.jp, 3 records",
			ias, c.Email, n)
	}
}
