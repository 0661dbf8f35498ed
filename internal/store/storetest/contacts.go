package storetest

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// testContacts checks the round trip of contact histories: written in a
// batch, read back, replaced by a later write.
func testContacts(t *testing.T, s store.Store) {
	alice, bob := contacts("alice", t0()), contacts("bob", at(time.Minute))
	noChanges := store.Contacts{UserID: "carol", Email: "carol@example.com", UpdatedAt: at(time.Hour)}
	unknown := store.Contacts{UserID: "dave", UpdatedAt: at(2 * time.Hour)} // no address seen yet
	write(t, s, store.Batch{Contacts: []store.Contacts{alice, bob, noChanges, unknown}})
	for _, want := range []store.Contacts{alice, bob, noChanges, unknown} {
		wantContacts(t, s, "GetContacts("+want.UserID+")", want)
	}

	// A later write replaces the history; the last of a batch wins.
	moved := contacts("alice", at(3*time.Hour))
	moved.Email = "third@example.com"
	moved.Changes = append(moved.Changes, store.ContactChange{From: "new-alice@example.com", At: at(3 * time.Hour)})
	stale := contacts("alice", at(-time.Hour))
	write(t, s, store.Batch{Contacts: []store.Contacts{stale, moved}})
	wantContacts(t, s, "GetContacts after a replacement", moved)
	wantContacts(t, s, "GetContacts of another account", bob)

	if _, err := s.GetContacts(t.Context(), "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetContacts(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := s.GetContacts(t.Context(), "Alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetContacts(other case) error = %v, want ErrNotFound", err)
	}
}

// testContactsInBatch checks that contact histories are written with the
// rest of their batch: all of it, or (when the backend refuses a record
// of it) none.
func testContactsInBatch(t *testing.T, s store.Store) {
	write(t, s, store.Batch{
		Audit:    []store.AuditRecord{audit("ev-1", t0())},
		Profiles: []store.Profile{profile("alice", t0())},
		Contacts: []store.Contacts{contacts("alice", t0())},
	})
	wantContacts(t, s, "GetContacts", contacts("alice", t0()))
	if n, err := s.CountAudit(t.Context()); err != nil || n != 1 {
		t.Errorf("CountAudit = %d, %v; want 1", n, err)
	}

	// A time no SQL backend stores (year 2300) in the batch's audit record.
	bad := audit("ev-2", time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC))
	err := s.Write(t.Context(), store.Batch{Audit: []store.AuditRecord{bad}, Contacts: []store.Contacts{contacts("bob", t0())}})
	if err == nil {
		t.Skip("the backend stores any time: no refused batch to check")
	}
	if _, err := s.GetContacts(t.Context(), "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetContacts after a refused batch: error %v, want ErrNotFound (the batch is atomic)", err)
	}
}

// legacyProfile is a contact history as the engine kept it before
// Batch.Contacts: the JSON of a notify.ContactHistory in a profile.
func legacyProfile(t *testing.T, c store.Contacts) store.Profile {
	t.Helper()
	type change struct {
		From string    `json:"from"`
		At   time.Time `json:"at"`
	}
	h := struct {
		Email   string   `json:"email,omitempty"`
		Changes []change `json:"changes,omitempty"`
	}{Email: c.Email}
	for _, ch := range c.Changes {
		h.Changes = append(h.Changes, change{ch.From, ch.At.UTC()})
	}
	data, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	return store.Profile{Account: store.LegacyContactsPrefix + c.UserID, Data: data, UpdatedAt: c.UpdatedAt}
}

// testLegacyContacts checks that a contact history written the old way,
// as a profile under store.LegacyContactsPrefix, is kept as Contacts and
// still reads back the old way, until the engine writes Batch.Contacts.
func testLegacyContacts(t *testing.T, s store.Store) {
	ctx := t.Context()
	alice := contacts("alice", t0())
	first := store.Contacts{UserID: "bob", Email: "bob@example.com", UpdatedAt: t0()}
	write(t, s, store.Batch{Profiles: []store.Profile{profile("alice", t0()), legacyProfile(t, alice), legacyProfile(t, first)}})
	wantContacts(t, s, "GetContacts of a legacy profile", alice)
	wantContacts(t, s, "GetContacts of a legacy profile without changes", first)
	p, err := s.GetProfile(ctx, "alice")
	diffErr(t, "GetProfile of a familiarity profile beside it", p, profile("alice", t0()), err)
	p, err = s.GetProfile(ctx, store.LegacyContactsPrefix+"alice")
	if err != nil {
		t.Fatalf("GetProfile of the legacy key: %v", err)
	}
	back, ok, err := store.LegacyContacts(p)
	if err != nil || !ok {
		t.Fatalf("LegacyContacts(GetProfile of the legacy key) = %v, %v", ok, err)
	}
	diff(t, "the legacy profile read back", back, alice)
	if _, err := s.GetProfile(ctx, store.LegacyContactsPrefix+"nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetProfile(legacy key of an unknown account) error = %v, want ErrNotFound", err)
	}

	// The newer of the two ways in one batch wins, in batch order.
	moved := contacts("alice", at(time.Hour))
	moved.Email = "moved@example.com"
	write(t, s, store.Batch{Contacts: []store.Contacts{contacts("alice", t0())}, Profiles: []store.Profile{legacyProfile(t, moved)}})
	wantContacts(t, s, "GetContacts after a legacy write", moved)

	if err := s.Write(ctx, store.Batch{Profiles: []store.Profile{{Account: store.LegacyContactsPrefix + "carol", Data: []byte("{")}}}); err == nil {
		t.Errorf("Write of a legacy contact profile that is no JSON succeeded")
	}
}

// testContactsCopies checks that the store shares no memory with what was
// written or read.
func testContactsCopies(t *testing.T, s store.Store) {
	c := contacts("alice", t0())
	write(t, s, store.Batch{Contacts: []store.Contacts{c}})
	c.Changes[0].From = "scribbled"
	got, err := s.GetContacts(t.Context(), "alice")
	if err != nil {
		t.Fatalf("GetContacts: %v", err)
	}
	got.Changes[1].From = "scribbled"
	wantContacts(t, s, "GetContacts after changing what was written and read", contacts("alice", t0()))
}

// contacts returns a contact history with every field set.
func contacts(userID string, updated time.Time) store.Contacts {
	addr := func(s string) string { return s + "-" + userID + "@example.com" }
	return store.Contacts{UserID: userID, Email: addr("new"), UpdatedAt: updated, Changes: []store.ContactChange{
		{From: addr("first"), At: updated.Add(-48 * time.Hour)}, {From: addr("old"), At: updated.Add(-time.Hour)},
	}}
}

// diffErr is diff of what a read returned, after checking it did not fail.
func diffErr(t *testing.T, what string, got, want any, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	diff(t, what, got, want)
}

// wantContacts checks that the stored history of want.UserID is want.
func wantContacts(t *testing.T, s store.Store, what string, want store.Contacts) {
	t.Helper()
	got, err := s.GetContacts(t.Context(), want.UserID)
	diffErr(t, what, got, want, err)
}
