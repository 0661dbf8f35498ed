package sqlite

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

func TestPragmas(t *testing.T) {
	tests := []struct {
		opts     Options
		wantSync int
	}{
		{Options{}, 2},
		{Options{Synchronous: "FULL"}, 2},
		{Options{Synchronous: "NORMAL"}, 1},
	}
	for _, tt := range tests {
		s, err := Open(t.Context(), t.TempDir(), tt.opts)
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		var mode string
		var fk, sync, busy int
		for _, q := range []struct {
			sql  string
			dest any
		}{
			{"PRAGMA journal_mode", &mode},
			{"PRAGMA foreign_keys", &fk},
			{"PRAGMA synchronous", &sync},
			{"PRAGMA busy_timeout", &busy},
		} {
			if err := s.w.QueryRowContext(t.Context(), q.sql).Scan(q.dest); err != nil {
				t.Fatalf("%s: %v", q.sql, err)
			}
		}
		if mode != "wal" || fk != 1 || sync != tt.wantSync || busy != 5000 {
			t.Errorf("Options %+v: journal_mode %s, foreign_keys %d, synchronous %d, busy_timeout %d; want wal, 1, %d, 5000",
				tt.opts, mode, fk, sync, busy, tt.wantSync)
		}
		// The read pool cannot write.
		if _, err := s.r.ExecContext(t.Context(), `INSERT INTO state (name, value) VALUES ('x', x'00')`); err == nil {
			t.Errorf("write through the read pool succeeded")
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	}
}

func TestTimesComeBackUTC(t *testing.T) {
	s, err := Open(t.Context(), t.TempDir(), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", -3*3600))
	if err := s.Write(t.Context(), store.Batch{Profiles: []store.Profile{{Account: "a", UpdatedAt: t0}}}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got, err := s.GetProfile(t.Context(), "a")
	if err != nil {
		t.Fatalf("GetProfile: %v", err)
	}
	if !got.UpdatedAt.Equal(t0) || got.UpdatedAt.Location() != time.UTC {
		t.Errorf("UpdatedAt = %v, want %v in UTC", got.UpdatedAt, t0.UTC())
	}
	var stored int64
	if err := s.r.QueryRowContext(t.Context(), `SELECT updated_at FROM profiles`).Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != t0.UnixNano() {
		t.Errorf("stored updated_at = %d, want %d", stored, t0.UnixNano())
	}
}

// TestBatchIsAtomic writes a batch whose last record cannot be stored:
// nothing of it may remain.
func TestBatchIsAtomic(t *testing.T) {
	s, err := Open(t.Context(), t.TempDir(), Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	b := store.Batch{
		Audit:      []store.AuditRecord{{EventID: "ev-1"}},
		Profiles:   []store.Profile{{Account: "a"}},
		Challenges: []store.Challenge{{ID: "ch-1", CreatedAt: time.Date(3000, 1, 1, 0, 0, 0, 0, time.UTC)}},
	}
	err = s.Write(t.Context(), b)
	if err == nil || !strings.Contains(err.Error(), "outside the years 1678 to 2262") {
		t.Fatalf("Write = %v, want an out-of-range time error", err)
	}
	if n, err := s.CountAudit(t.Context()); err != nil || n != 0 {
		t.Errorf("CountAudit = %d, %v; want 0", n, err)
	}
	if _, err := s.GetProfile(t.Context(), "a"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetProfile = %v, want ErrNotFound", err)
	}
	// The writer connection is usable after the rollback.
	if err := s.Write(t.Context(), store.Batch{Profiles: []store.Profile{{Account: "a"}}}); err != nil {
		t.Errorf("Write after rollback: %v", err)
	}
}
