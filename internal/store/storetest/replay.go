package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// What a journal replayed late needs of a backend: batch ids that make a
// batch written twice write nothing the second time.

func testBatchIDs(t *testing.T, s store.Store) {
	ctx := t.Context()
	ia := incidentAccount("inc-1", "alice", t0())
	first := store.Batch{
		IDs:              []string{"batch-1"},
		AppliedAt:        t0(),
		Audit:            []store.AuditRecord{audit("ev-1", t0())},
		IncidentAccounts: []store.IncidentAccount{ia},
		Contacts:         []store.Contacts{contacts("alice", t0())},
		Notifications:    []store.Notification{notification("n-1", t0())},
	}
	write(t, s, first)

	// Another instance writes newer copies of the same keys.
	ia2 := ia
	ia2.Attempts, ia2.LastSeen = 9, at(time.Hour)
	c2 := contacts("alice", at(time.Hour))
	c2.Email = "newer@example.com"
	write(t, s, store.Batch{IncidentAccounts: []store.IncidentAccount{ia2}, Contacts: []store.Contacts{c2}})

	tests := []struct {
		name string
		b    store.Batch
	}{
		{"the same batch again", first},
		{"merged with a new batch", store.Batch{IDs: []string{"batch-2", "batch-1"}, AppliedAt: at(time.Hour),
			Audit: []store.AuditRecord{audit("ev-2", at(time.Hour))}, IncidentAccounts: first.IncidentAccounts}},
		{"one id twice", store.Batch{IDs: []string{"batch-3", "batch-3"}, AppliedAt: at(time.Hour),
			Audit: []store.AuditRecord{audit("ev-3", at(time.Hour))}}},
	}
	for _, tt := range tests {
		if err := s.Write(ctx, tt.b); !errors.Is(err, store.ErrBatchApplied) {
			t.Errorf("Write(%s): got error %v, want ErrBatchApplied", tt.name, err)
		}
	}
	diff(t, "incident accounts after the replays", listIncidentAccounts(t, s, "inc-1"), []store.IncidentAccount{ia2})
	wantContacts(t, s, "contacts after the replays", c2)
	if got := countAudit(t, s); got != 1 {
		t.Errorf("audit records after the replays: got %d, want 1", got)
	}

	// Ids applied before a time are forgotten; a batch of one of them is
	// written again.
	p, ok := s.(store.BatchIDPruner)
	if !ok {
		t.Fatalf("%T keeps batch ids but is no store.BatchIDPruner", s)
	}
	write(t, s, store.Batch{IDs: []string{"batch-4"}, AppliedAt: at(2 * time.Hour), Audit: []store.AuditRecord{audit("ev-4", at(2*time.Hour))}})
	n, err := p.PruneBatchIDs(ctx, at(time.Minute))
	if err != nil || n != 1 {
		t.Errorf("PruneBatchIDs: got %d, %v, want 1 id forgotten", n, err)
	}
	write(t, s, first)
	if err := s.Write(ctx, store.Batch{IDs: []string{"batch-4"}, Audit: []store.AuditRecord{audit("ev-5", at(time.Hour))}}); !errors.Is(err, store.ErrBatchApplied) {
		t.Errorf("Write(a batch id kept): got error %v, want ErrBatchApplied", err)
	}
}

// testNewerWins writes older copies of profiles and incidents after newer
// ones, as a journal replayed late does after another instance wrote
// meanwhile: the newer copy (by UpdatedAt) stays; a copy as new replaces
// it.
func testNewerWins(t *testing.T, s store.Store) {
	newer := profile("alice", at(time.Hour))
	newer.Data = []byte("newer")
	inc := incident("inc-1", t0())
	inc.Attempts = 99
	write(t, s, store.Batch{Profiles: []store.Profile{newer}, Incidents: []store.Incident{inc}})

	older := profile("alice", t0())
	older.Data = []byte("older")
	oldInc := incident("inc-1", t0())
	oldInc.UpdatedAt, oldInc.Attempts, oldInc.State = inc.UpdatedAt.Add(-time.Nanosecond), 5, store.IncidentOpen
	sameTime := newer
	sameTime.Data = []byte("same time")
	sameInc := inc
	sameInc.Attempts = 100

	tests := []struct {
		name        string
		b           store.Batch
		wantProfile store.Profile
		wantInc     store.Incident
	}{
		{"older copies", store.Batch{Profiles: []store.Profile{older}, Incidents: []store.Incident{oldInc}}, newer, inc},
		{"copies as new", store.Batch{Profiles: []store.Profile{sameTime}, Incidents: []store.Incident{sameInc}}, sameTime, sameInc},
	}
	for _, tt := range tests {
		write(t, s, tt.b)
		got, err := s.GetProfile(t.Context(), "alice")
		if err != nil {
			t.Fatalf("GetProfile: %v", err)
		}
		diff(t, "profile after "+tt.name, got, tt.wantProfile)
		gotInc, err := s.GetIncident(t.Context(), "inc-1")
		if err != nil {
			t.Fatalf("GetIncident: %v", err)
		}
		diff(t, "incident after "+tt.name, gotInc, tt.wantInc)
	}
}
