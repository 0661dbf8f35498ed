package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/groupcommit"
	"github.com/atoguard/atoguard/internal/store/sqlite"
	"github.com/atoguard/atoguard/internal/store/storetest"
)

func open(t testing.TB, dir string, opts sqlite.Options) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), dir, opts)
	if err != nil {
		t.Fatalf("Open(%q): %v", dir, err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, t.TempDir(), sqlite.Options{})
	})
}

func TestConformanceNormal(t *testing.T) {
	if testing.Short() {
		t.Skip("the suite already ran with FULL")
	}
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, t.TempDir(), sqlite.Options{Synchronous: "normal", MaxReaders: 1})
	})
}

func TestRestartKeepsData(t *testing.T) {
	ctx := t.Context()
	// A directory that does not exist yet, with characters a DSN must escape.
	dir := filepath.Join(t.TempDir(), "data dir?x=1#frag%20")
	zone := time.FixedZone("UTC+09:00", 9*3600)
	t0 := time.Date(2026, time.November, 25, 23, 59, 59, 999999999, zone)
	b := store.Batch{
		Audit: []store.AuditRecord{{
			EventID: "ev-1", ReceivedAt: t0, OccurredAt: t0.Add(-time.Second), Type: "login.succeeded",
			Account: "u1", Login: "a@example.com", IP: "192.0.2.1", SessionID: "s", RequestID: "r",
			Decision: "allow", Risk: 5, Reasons: []string{"ok"}, IncidentID: "inc-1", ChallengeID: "ch-1",
			PasswordHMAC: []byte{1, 2, 3}, Event: []byte(`{}`),
		}},
		Profiles: []store.Profile{{Account: "u1", Data: []byte("p"), UpdatedAt: t0}},
		Incidents: []store.Incident{{
			ID: "inc-1", Kind: "stuffing", State: store.IncidentOpen, StartedAt: t0, Attempts: 10,
			DistinctIPs: 9, DistinctPrefixes: 3, AccountsTargeted: 8, AccountsCompromised: 1,
			TopSources: []store.Source{{Kind: "ip", Value: "192.0.2.1", Attempts: 4}}, UpdatedAt: t0,
		}},
		IncidentAccounts: []store.IncidentAccount{{
			IncidentID: "inc-1", Account: "u1", Known: true, Outcome: store.OutcomeAllowed,
			Attempts: 1, FirstSeen: t0, LastSeen: t0,
		}},
		Challenges: []store.Challenge{{
			ID: "ch-1", UserID: "u1", SessionID: "s", Purpose: "login", Methods: []string{"totp"},
			State: store.ChallengePending, Attempts: 0, CreatedAt: t0, ExpiresAt: t0.Add(time.Minute),
			EventID: "ev-1", IncidentID: "inc-1",
		}},
	}
	key := store.APIKey{ID: "k1", Name: "shop", Hash: []byte("h"), Scopes: []string{store.ScopeEvents}, CreatedAt: t0}

	s := open(t, dir, sqlite.Options{})
	if err := s.Write(ctx, b); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if err := s.PutKey(ctx, key); err != nil {
		t.Fatalf("PutKey: %v", err)
	}
	if err := s.PutState(ctx, "campaign", []byte("state")); err != nil {
		t.Fatalf("PutState: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, sqlite.FileName)); err != nil {
		t.Fatalf("database file: %v", err)
	}

	s = open(t, dir, sqlite.Options{})
	defer s.Close()
	opts := cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })
	check := func(what string, got, want any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if d := cmp.Diff(want, got, opts); d != "" {
			t.Errorf("%s after restart (-want +got):\n%s", what, d)
		}
	}
	audit, err := s.ListAudit(ctx, store.AuditQuery{})
	check("ListAudit", audit, b.Audit, err)
	p, err := s.GetProfile(ctx, "u1")
	check("GetProfile", p, b.Profiles[0], err)
	incs, err := s.ListIncidents(ctx, "")
	check("ListIncidents", incs, b.Incidents, err)
	ias, err := s.ListIncidentAccounts(ctx, "inc-1")
	check("ListIncidentAccounts", ias, b.IncidentAccounts, err)
	c, err := s.GetChallenge(ctx, "ch-1")
	check("GetChallenge", c, b.Challenges[0], err)
	k, err := s.KeyByHash(ctx, []byte("h"))
	check("KeyByHash", k, key, err)
	st, err := s.GetState(ctx, "campaign")
	check("GetState", st, []byte("state"), err)
	n, err := s.CountAudit(ctx)
	check("CountAudit", n, int64(1), err)
}

func TestOpenErrors(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// A directory holding a directory where the database file should be.
	blocked := t.TempDir()
	if err := os.Mkdir(filepath.Join(blocked, sqlite.FileName), 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		dir     string
		opts    sqlite.Options
		wantErr string
		wantIs  error
	}{
		{"dir under a file", filepath.Join(file, "data"), sqlite.Options{},
			fmt.Sprintf("opening sqlite: creating data directory %q: mkdir %s: not a directory", filepath.Join(file, "data"), file),
			syscall.ENOTDIR},
		{"dir is a file", file, sqlite.Options{},
			fmt.Sprintf("opening sqlite: creating data directory %q: mkdir %s: not a directory", file, file),
			syscall.ENOTDIR},
		{"database is a directory", blocked, sqlite.Options{}, "opening sqlite " + filepath.Join(blocked, sqlite.FileName), nil},
		{"empty dir", "", sqlite.Options{}, "opening sqlite: data directory is empty", nil},
		{"bad synchronous", t.TempDir(), sqlite.Options{Synchronous: "OFF"},
			`opening sqlite: synchronous "OFF" is not FULL or NORMAL`, nil},
		{"negative readers", t.TempDir(), sqlite.Options{MaxReaders: -1},
			"opening sqlite: max readers -1 is negative", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := sqlite.Open(t.Context(), tt.dir, tt.opts)
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded, want error %q", tt.wantErr)
			}
			if !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Errorf("Open error = %q, want it to start with %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Open error = %v, want errors.Is %v", err, tt.wantIs)
			}
		})
	}
}

func TestOpenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	s, err := sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	if err == nil {
		s.Close()
		t.Fatal("Open with a cancelled context succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Open error = %v, want context.Canceled", err)
	}
}

// BenchmarkWrite compares one-record batches written directly, each its
// own transaction and fsync, with the same batches through a group
// committer, from parallel goroutines.
func BenchmarkWrite(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("direct/"+sync, func(b *testing.B) {
			s := open(b, b.TempDir(), sqlite.Options{Synchronous: sync})
			defer s.Close()
			benchWrite(b, s)
		})
		b.Run("groupcommit/"+sync, func(b *testing.B) {
			s := open(b, b.TempDir(), sqlite.Options{Synchronous: sync})
			defer s.Close()
			c := groupcommit.New(s, groupcommit.Options{})
			defer c.Close()
			benchWrite(b, c)
		})
	}
}

func benchWrite(b *testing.B, w groupcommit.Writer) {
	var n atomic.Int64
	now := time.Now()
	b.SetParallelism(8) // 8 × GOMAXPROCS writers, as an HTTP server would have
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			batch := store.Batch{Audit: []store.AuditRecord{{
				EventID: fmt.Sprintf("ev-%d", i), ReceivedAt: now, Account: "u", Reasons: []string{"r"},
				Event: []byte(`{"type":"login.failed"}`),
			}}}
			if err := w.Write(context.Background(), batch); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
