package engine

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
)

// batches records the batches written to it, and writes nothing.
type batches struct{ got []store.Batch }

func (w *batches) Write(_ context.Context, b store.Batch) error {
	w.got = append(w.got, b)
	return nil
}

// last returns what the batches leave on record: the last incident of
// each id, and the last incident account of each (incident, account) of
// those incidents. (Accounts counted under an instance's own name for an
// incident before it adopts another instance's name are left out: the
// adoption writes them again under that name.)
func (w *batches) last() (map[string]store.Incident, map[[2]string]store.IncidentAccount) {
	incs := map[string]store.Incident{}
	accounts := map[[2]string]store.IncidentAccount{}
	for _, b := range w.got {
		for _, inc := range b.Incidents {
			incs[inc.ID] = inc
		}
		for _, a := range b.IncidentAccounts {
			accounts[[2]string{a.IncidentID, a.Account}] = a
		}
	}
	for k := range accounts {
		if _, ok := incs[k[0]]; !ok {
			delete(accounts, k)
		}
	}
	return incs, accounts
}

// TestApplyBatchIsApplyInOneWrite: replaying a peer's events a read at a
// time (ApplyBatch, as the hub does) leaves the same incident, counted
// the same, and the same records as replaying them one by one (Apply),
// in at most two writes a read (the replayed changes, then the incident
// agreed on) where Apply writes for most events of an incident.
func TestApplyBatchIsApplyInOneWrite(t *testing.T) {
	ctx := context.Background()
	labeled := loadCase(t, "testdata/scenarios/burst")
	shared := memory.New()
	h := &hub{claims: map[string]claim{}}
	origin := newEngine(t, "", shared, func(d *Deps) { d.Peers = peer{h, 0} })
	var oneByOne, together batches
	replica := func(w *batches, self int) *Engine {
		return newEngine(t, "", shared, func(d *Deps) { d.Peers, d.Writer = peer{h, self}, w })
	}
	one, batched := replica(&oneByOne, 1), replica(&together, 2)
	h.engines = []*Engine{origin, one, batched}

	const read = 100 // events a read of the stream returns (the hub's reads take up to 1,000)
	var pending [][]byte
	reads, replayed := 0, 0
	applyRead := func() {
		reads++
		replayed += len(pending)
		for j, err := range batched.ApplyBatch(ctx, pending) {
			if err != nil {
				t.Fatalf("apply batch, event %d of read %d: %v", j, reads, err)
			}
		}
		pending = nil
	}
	for i := range labeled {
		ev, err := event.Decode(labeled[i].Event)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if _, err := origin.Assess(ctx, ev); err != nil {
			t.Fatal(err)
		}
		for _, d := range h.queue {
			if d.to == one {
				if err := one.Apply(ctx, d.data); err != nil {
					t.Fatalf("apply: %v", err)
				}
			} else {
				pending = append(pending, d.data)
			}
		}
		h.queue = nil
		if len(pending) == read {
			applyRead()
		}
	}
	if len(pending) > 0 {
		applyRead()
	}

	wantInc, wantOpen := one.tracker.Snapshot()
	gotInc, gotOpen := batched.tracker.Snapshot()
	if diff := cmp.Diff(wantInc, gotInc); diff != "" || gotOpen != wantOpen {
		t.Errorf("the open incident as replayed together (-one by one +together; open %v, %v):\n%s", wantOpen, gotOpen, diff)
	}
	wantIncs, wantAccounts := oneByOne.last()
	gotIncs, gotAccounts := together.last()
	if len(wantIncs) == 0 || len(wantAccounts) == 0 {
		t.Fatalf("replaying one by one wrote %d incidents and %d incident accounts: the test proves nothing", len(wantIncs), len(wantAccounts))
	}
	if diff := cmp.Diff(wantIncs, gotIncs); diff != "" {
		t.Errorf("incidents on record (-one by one +together):\n%s", diff)
	}
	if diff := cmp.Diff(wantAccounts, gotAccounts); diff != "" {
		t.Errorf("incident accounts on record (-one by one +together):\n%s", diff)
	}
	if len(together.got) > 2*reads {
		t.Errorf("%d writes for %d events in %d reads, want at most %d (one by one: %d)",
			len(together.got), replayed, reads, 2*reads, len(oneByOne.got))
	}
	t.Logf("%d events replayed: %d writes one by one, %d together in %d reads", replayed, len(oneByOne.got), len(together.got), reads)
}

// TestApplyBatchRefusesOneEvent: an event that cannot be decoded fails
// alone; the others of its batch are replayed.
func TestApplyBatchRefusesOneEvent(t *testing.T) {
	ctx := context.Background()
	shared := memory.New()
	h := &hub{claims: map[string]claim{}}
	origin := newEngine(t, "", shared, func(d *Deps) { d.Peers = peer{h, 0} })
	replica := newEngine(t, "", shared, func(d *Deps) { d.Peers = peer{h, 1} })
	h.engines = []*Engine{origin, replica}
	for _, e := range []string{
		`{"type": "login.failed", "occurred_at": "2026-11-25T10:00:00Z", "login": "a@example.jp", "context": {"ip": "192.0.2.1"}}`,
		`{"type": "login.failed", "occurred_at": "2026-11-25T10:00:01Z", "login": "b@example.jp", "context": {"ip": "192.0.2.1"}}`,
	} {
		if _, err := origin.Assess(ctx, decode(t, "%s", e)); err != nil {
			t.Fatal(err)
		}
	}
	batch := [][]byte{h.queue[0].data, []byte("not an event"), h.queue[1].data}
	errs := replica.ApplyBatch(ctx, batch)
	if len(errs) != 3 || errs[0] != nil || errs[1] == nil || errs[2] != nil {
		t.Errorf("errors %v, want only the second", errs)
	}
}
