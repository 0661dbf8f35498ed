package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/postgres"
	"github.com/atoguard/atoguard/internal/store/storetest"
)

// dsnEnv names the variable holding the DSN of the server tests use; each
// test makes a schema of its own there and drops it at the end.
const dsnEnv = "ATOGUARD_TEST_POSTGRES"

const defaultDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

func serverDSN() string {
	if dsn := os.Getenv(dsnEnv); dsn != "" {
		return dsn
	}
	return defaultDSN
}

// freshDSN creates an empty schema, drops it when t ends, and returns a
// DSN whose search_path is that schema. It skips t when no server
// answers.
func freshDSN(t testing.TB) string {
	t.Helper()
	base := serverDSN()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Skipf("PostgreSQL is not reachable (set %s to a server's DSN): %v", dsnEnv, err)
	}
	defer conn.Close(context.Background())
	schema := "atoguard_test_" + hex.EncodeToString(randBytes(t, 8))
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, base, schema)
}

func randBytes(t testing.TB, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// withSearchPath adds search_path=schema to a URL or key=value DSN.
func withSearchPath(t testing.TB, dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("parsing %s: %v", dsnEnv, err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

func open(t testing.TB, dsn string, opts postgres.Options) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(t.Context(), dsn, opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	freshDSN(t) // skips the whole suite when no server answers
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, freshDSN(t), postgres.Options{})
	})
}

// TestConformanceSimpleProtocol runs the suite as behind PgBouncer in
// transaction mode: simple protocol, no prepared statements, a lock row
// for migrations.
func TestConformanceSimpleProtocol(t *testing.T) {
	if testing.Short() {
		t.Skip("the suite already ran with the extended protocol")
	}
	freshDSN(t)
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, freshDSN(t), postgres.Options{SimpleProtocol: true, MaxConns: 3})
	})
}

func TestRestartKeepsData(t *testing.T) {
	dsn := freshDSN(t)
	storetest.RunRestart(t, func(t *testing.T) store.Store { return open(t, dsn, postgres.Options{}) })
}

// TestTwoStores runs two Stores, as two guard instances would, on one
// database: they migrate it together, see each other's writes, and their
// conditional updates and claims exclude each other.
func TestTwoStores(t *testing.T) {
	for _, simple := range []bool{false, true} {
		t.Run(fmt.Sprintf("simple=%v", simple), func(t *testing.T) {
			testTwoStores(t, postgres.Options{MaxConns: 4, SimpleProtocol: simple})
		})
	}
}

func testTwoStores(t *testing.T, opts postgres.Options) {
	ctx := t.Context()
	dsn := freshDSN(t)

	// Both open at once on the empty schema: one migrates, the other waits.
	var a, b *postgres.Store
	var errA, errB error
	var wg sync.WaitGroup
	wg.Go(func() { a, errA = postgres.Open(ctx, dsn, opts) })
	wg.Go(func() { b, errB = postgres.Open(ctx, dsn, opts) })
	wg.Wait()
	for _, s := range []*postgres.Store{a, b} {
		if s != nil {
			defer s.Close()
		}
	}
	if err := errors.Join(errA, errB); err != nil {
		t.Fatalf("Open: %v", err)
	}

	t0 := time.Date(2026, time.November, 25, 10, 0, 0, 123456789, time.UTC)

	t.Run("review decided on A is decided on B", func(t *testing.T) {
		r := store.Review{ID: "rv-1", EventID: "ev-1", UserID: "u1", OrderID: "o-1", Amount: 131800,
			Currency: "JPY", State: store.ReviewPending, CreatedAt: t0}
		if err := a.Write(ctx, store.Batch{Reviews: []store.Review{r}}); err != nil {
			t.Fatal(err)
		}
		if ok, err := a.DecideReview(ctx, "rv-1", store.ReviewRejected, "ops", "victim confirmed", t0.Add(time.Hour)); err != nil || !ok {
			t.Fatalf("DecideReview on A = %v, %v; want true", ok, err)
		}
		got, err := b.GetReview(ctx, "rv-1")
		if err != nil {
			t.Fatal(err)
		}
		if got.State != store.ReviewRejected || got.DecidedBy != "ops" || !got.DecidedAt.Equal(t0.Add(time.Hour)) {
			t.Errorf("review on B = %+v, want rejected by ops", got)
		}
		if ok, err := b.DecideReview(ctx, "rv-1", store.ReviewApproved, "other", "", t0.Add(2*time.Hour)); err != nil || ok {
			t.Errorf("DecideReview on B after A = %v, %v; want false", ok, err)
		}
	})

	t.Run("concurrent decisions", func(t *testing.T) {
		const reviews = 20
		var batch store.Batch
		for i := range reviews {
			batch.Reviews = append(batch.Reviews, store.Review{ID: fmt.Sprintf("rv-c%02d", i), State: store.ReviewPending, CreatedAt: t0})
		}
		if err := b.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		wins := map[string]int{}
		var wg sync.WaitGroup
		for _, s := range []*postgres.Store{a, b, a, b} {
			wg.Go(func() {
				for i := range reviews {
					id := fmt.Sprintf("rv-c%02d", i)
					ok, err := s.DecideReview(ctx, id, store.ReviewApproved, "ops", "", t0)
					if err != nil {
						t.Error(err)
						return
					}
					if ok {
						mu.Lock()
						wins[id]++
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		for i := range reviews {
			if id := fmt.Sprintf("rv-c%02d", i); wins[id] != 1 {
				t.Errorf("%s decided %d times, want once", id, wins[id])
			}
		}
	})

	t.Run("TOTP step used on A is refused on B", func(t *testing.T) {
		f := store.Factor{ID: "f-1", UserID: "u1", Type: store.FactorTOTP, Secret: []byte("s"), Confirmed: true, CreatedAt: t0}
		if err := a.PutFactor(ctx, f); err != nil {
			t.Fatal(err)
		}
		if ok, err := a.AdvanceTOTPStep(ctx, "f-1", 100, t0); err != nil || !ok {
			t.Fatalf("AdvanceTOTPStep on A = %v, %v; want true", ok, err)
		}
		if ok, err := b.AdvanceTOTPStep(ctx, "f-1", 100, t0); err != nil || ok {
			t.Errorf("AdvanceTOTPStep on B with A's step = %v, %v; want false", ok, err)
		}
	})

	t.Run("claims never overlap", func(t *testing.T) {
		const total = 300
		var batch store.Batch
		for i := range total {
			batch.Notifications = append(batch.Notifications, store.Notification{
				ID: fmt.Sprintf("n-%03d", i), Kind: "owner.order", Channel: store.ChannelEmail,
				Recipient: "a@example.com", CreatedAt: t0, NextAttemptAt: t0.Add(time.Duration(i)),
			})
		}
		if err := a.Write(ctx, batch); err != nil {
			t.Fatal(err)
		}
		now := t0.Add(time.Hour)
		var mu sync.Mutex
		counts := map[string]int{}
		var wg sync.WaitGroup
		for _, s := range []*postgres.Store{a, b, a, b, a, b} {
			wg.Go(func() {
				for {
					got, err := s.ClaimNotifications(ctx, now, time.Hour, 7)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, n := range got {
						counts[n.ID]++
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(counts) != total {
			t.Errorf("%d notifications claimed, want %d", len(counts), total)
		}
		for id, c := range counts {
			if c != 1 {
				t.Errorf("%s claimed %d times, want once", id, c)
			}
		}
		// Leased: neither claims any again before the lease ends.
		for name, s := range map[string]*postgres.Store{"A": a, "B": b} {
			if got, err := s.ClaimNotifications(ctx, now.Add(time.Hour-1), time.Hour, 10); err != nil || len(got) != 0 {
				t.Errorf("claim on %s during the lease = %d, %v; want none", name, len(got), err)
			}
		}
	})

	t.Run("concurrent batches on shared rows", func(t *testing.T) {
		// Batches touching the same rows in opposite orders: profiles
		// are written sorted, a deadlock on audit records is retried.
		var wg sync.WaitGroup
		for w, s := range []*postgres.Store{a, b, a, b} {
			wg.Go(func() {
				for i := range 20 {
					ps := []store.Profile{{Account: "p-1", UpdatedAt: t0}, {Account: "p-2", UpdatedAt: t0},
						{Account: "p-3", UpdatedAt: t0}}
					// And audit records, which keep the order given.
					as := []store.AuditRecord{{EventID: fmt.Sprintf("ev-%d-a", i)}, {EventID: fmt.Sprintf("ev-%d-b", i)}}
					if (w+i)%2 == 1 {
						ps[0], ps[2] = ps[2], ps[0]
						as[0], as[1] = as[1], as[0]
					}
					if err := s.Write(ctx, store.Batch{Profiles: ps, Audit: as}); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if n, err := a.CountAudit(ctx); err != nil || n != 40 {
			t.Errorf("CountAudit = %d, %v; want 40", n, err)
		}
	})
}

func TestOpenErrors(t *testing.T) {
	failure := func(name, dsn string, opts postgres.Options, wantErr string) storetest.OpenFailure {
		return storetest.OpenFailure{Name: name, WantErr: wantErr, Secret: "secret",
			Open: func(ctx context.Context) (store.Store, error) { return postgres.Open(ctx, dsn, opts) }}
	}
	storetest.RunOpenFailures(t, []storetest.OpenFailure{
		failure("negative max conns", defaultDSN, postgres.Options{MaxConns: -1}, "opening postgres: max conns -1 is negative"),
		failure("bad dsn", "postgres://u:secret@host:notaport/db", postgres.Options{}, "opening postgres: "),
		failure("nothing listening", "postgres://u:secret@127.0.0.1:1/db?sslmode=disable&connect_timeout=5", postgres.Options{},
			"opening postgres 127.0.0.1:1/db: "),
	})
}

func TestOpenCancelled(t *testing.T) {
	dsn := freshDSN(t)
	storetest.RunOpenCancelled(t, func(ctx context.Context) (store.Store, error) {
		return postgres.Open(ctx, dsn, postgres.Options{})
	})
}

// TestOneConnection checks that migrating, batches, claims and the
// recovery code transaction work on a pool of one connection.
func TestOneConnection(t *testing.T) {
	for _, simple := range []bool{false, true} {
		t.Run(fmt.Sprintf("simple=%v", simple), func(t *testing.T) {
			ctx := t.Context()
			s := open(t, freshDSN(t), postgres.Options{MaxConns: 1, SimpleProtocol: simple})
			defer s.Close()
			t0 := time.Date(2026, time.November, 25, 10, 0, 0, 1, time.UTC)
			if err := s.Write(ctx, store.Batch{
				Audit:         []store.AuditRecord{{EventID: "ev-1", ReceivedAt: t0}},
				Notifications: []store.Notification{{ID: "n-1", CreatedAt: t0, NextAttemptAt: t0}},
			}); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if got, err := s.ClaimNotifications(ctx, t0, time.Minute, 10); err != nil || len(got) != 1 {
				t.Errorf("ClaimNotifications = %d, %v; want 1", len(got), err)
			}
			if err := s.PutRecoveryCodes(ctx, "u1", []store.RecoveryCode{{Hash: []byte("h"), CreatedAt: t0}}); err != nil {
				t.Errorf("PutRecoveryCodes: %v", err)
			}
			if ok, err := s.UseRecoveryCode(ctx, "u1", []byte("h"), t0); err != nil || !ok {
				t.Errorf("UseRecoveryCode = %v, %v; want true", ok, err)
			}
		})
	}
}

// TestText checks what PostgreSQL text cannot hold: a remote server's
// error is stored cleaned, a batch with such an id is refused whole.
func TestText(t *testing.T) {
	for _, simple := range []bool{false, true} {
		t.Run(fmt.Sprintf("simple=%v", simple), func(t *testing.T) {
			testText(t, postgres.Options{SimpleProtocol: simple})
		})
	}
}

func testText(t *testing.T, opts postgres.Options) {
	ctx := t.Context()
	s := open(t, freshDSN(t), opts)
	defer s.Close()
	t0 := time.Date(2026, time.November, 25, 10, 0, 0, 0, time.UTC)
	if err := s.Write(ctx, store.Batch{Notifications: []store.Notification{{ID: "n-1", CreatedAt: t0}}}); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkNotificationRetry(ctx, "n-1", t0, "550 \x00bad\xff"); err != nil {
		t.Fatalf("MarkNotificationRetry: %v", err)
	}
	got, err := s.ListNotifications(ctx, store.NotificationQuery{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "550 \uFFFDbad\uFFFD"; len(got) != 1 || got[0].LastError != want {
		t.Errorf("ListNotifications = %+v, want LastError %q", got, want)
	}
	err = s.Write(ctx, store.Batch{Audit: []store.AuditRecord{{EventID: "ev-1"}, {EventID: "ev-\x00"}}})
	if err == nil {
		t.Fatal("Write of an id with a NUL succeeded, want an error")
	}
	if n, err := s.CountAudit(ctx); err != nil || n != 0 {
		t.Errorf("CountAudit after a failed batch = %d, %v; want 0 (the batch is atomic)", n, err)
	}
}

// TestStaleChallengeNeverReopens: instances journal their writes while
// PostgreSQL is away and replay them when it returns, in any order across
// instances: a pending challenge written late never reopens one that was
// passed or locked meanwhile, nor takes back attempts.
func TestStaleChallengeNeverReopens(t *testing.T) {
	ctx := context.Background()
	s := open(t, freshDSN(t), postgres.Options{})
	at := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	ch := store.Challenge{ID: "ch_1", UserID: "u-1", Purpose: "login.succeeded", Methods: []string{"totp"},
		State: store.ChallengePending, CreatedAt: at, ExpiresAt: at.Add(5 * time.Minute)}
	write := func(c store.Challenge) {
		t.Helper()
		if err := s.Write(ctx, store.Batch{Challenges: []store.Challenge{c}}); err != nil {
			t.Fatal(err)
		}
	}
	get := func() store.Challenge {
		t.Helper()
		c, err := s.GetChallenge(ctx, "ch_1")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	write(ch)
	two := ch
	two.Attempts = 2
	write(two)
	write(ch) // a stale write with fewer attempts
	if got := get(); got.Attempts != 2 {
		t.Errorf("attempts %d after a stale write, want 2", got.Attempts)
	}
	passed := two
	passed.State = store.ChallengePassed
	write(passed)
	write(two) // the stale pending one
	if got := get(); got.State != store.ChallengePassed {
		t.Errorf("state %s after a stale pending write, want passed", got.State)
	}
	locked := passed
	locked.State = store.ChallengeLocked
	write(locked)
	if got := get(); got.State != store.ChallengePassed {
		t.Errorf("state %s: a final state changed", got.State)
	}
}
