package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/pressly/goose/v3"

	"github.com/atoguard/atoguard/internal/store"
)

// openAtVersion makes a database in dir with the schema of migration
// version and returns the writer connection on it.
func openAtVersion(t *testing.T, dir string, version int64) *sql.DB {
	t.Helper()
	path, err := filepath.Abs(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn(path, "FULL", false))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	fsys, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(t.Context(), version); err != nil {
		t.Fatalf("migrating up to %d: %v", version, err)
	}
	return db
}

// putProfile stores a profile as a guard of any version would.
func putProfile(t *testing.T, db *sql.DB, account, data string, updated time.Time) {
	t.Helper()
	if _, err := db.ExecContext(context.Background(), `INSERT INTO profiles (account, data, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (account) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
		account, []byte(data), updated.UnixNano()); err != nil {
		t.Fatal(err)
	}
}

// TestLegacyContactsMove upgrades a database whose contact histories are
// profiles under the magic key (schema version 5, before the contacts
// table): opening moves them to the contacts table, leaves the other
// profiles (and a history that does not decode) alone, and moves again
// what an older guard writes the old way later.
func TestLegacyContactsMove(t *testing.T) {
	dir := t.TempDir()
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.UTC)
	db := openAtVersion(t, dir, 5)
	putProfile(t, db, "alice", "familiar", t0)
	putProfile(t, db, store.LegacyContactsPrefix+"alice",
		`{"email":"new@example.com","changes":[{"from":"old@example.com","at":"2026-11-24T09:00:00.000000001Z"}]}`, t0)
	putProfile(t, db, store.LegacyContactsPrefix+"bob", `{"email":"bob@example.com"}`, t0)
	putProfile(t, db, store.LegacyContactsPrefix+"carol", `{"email":`, t0)
	putProfile(t, db, "contacts", "an account called contacts", t0)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	alice := store.Contacts{UserID: "alice", Email: "new@example.com",
		Changes:   []store.ContactChange{{From: "old@example.com", At: time.Date(2026, 11, 24, 9, 0, 0, 1, time.UTC)}},
		UpdatedAt: t0}
	bob := store.Contacts{UserID: "bob", Email: "bob@example.com", UpdatedAt: t0}
	check := func(s *Store, what string, wantContacts []store.Contacts, wantProfiles []string) {
		t.Helper()
		for _, want := range wantContacts {
			got, err := s.GetContacts(t.Context(), want.UserID)
			if err != nil {
				t.Fatalf("%s: GetContacts(%q): %v", what, want.UserID, err)
			}
			if d := cmp.Diff(want, got, cmpopts.EquateEmpty()); d != "" {
				t.Errorf("%s: GetContacts(%q) (-want +got):\n%s", what, want.UserID, d)
			}
		}
		var accounts []string
		rows, err := s.r.QueryContext(t.Context(), `SELECT account FROM profiles ORDER BY account`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var a string
			if err := rows.Scan(&a); err != nil {
				t.Fatal(err)
			}
			accounts = append(accounts, a)
		}
		if d := cmp.Diff(wantProfiles, accounts); d != "" {
			t.Errorf("%s: the profiles left (-want +got):\n%s", what, d)
		}
	}

	s, err := Open(t.Context(), dir, Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	left := []string{"alice", "contacts", store.LegacyContactsPrefix + "carol"}
	check(s, "after the upgrade", []store.Contacts{alice, bob}, left)
	if _, err := s.GetContacts(t.Context(), "carol"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetContacts of a history that does not decode: %v, want ErrNotFound", err)
	}
	// An older guard on the same file writes the old way: a newer history
	// of alice, an older one of bob.
	putProfile(t, s.w, store.LegacyContactsPrefix+"alice", `{"email":"third@example.com"}`, t0.Add(time.Hour))
	putProfile(t, s.w, store.LegacyContactsPrefix+"bob", `{"email":"stale@example.com"}`, t0.Add(-time.Hour))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(t.Context(), dir, Options{})
	if err != nil {
		t.Fatalf("Open again: %v", err)
	}
	defer s.Close()
	third := store.Contacts{UserID: "alice", Email: "third@example.com", UpdatedAt: t0.Add(time.Hour)}
	check(s, "after a second open", []store.Contacts{third, bob}, left)
}
