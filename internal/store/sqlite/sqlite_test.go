package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

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
	// A directory that does not exist yet, with characters a DSN must escape.
	dir := filepath.Join(t.TempDir(), "data dir?x=1#frag%20")
	opened := 0
	storetest.RunRestart(t, func(t *testing.T) store.Store {
		if opened++; opened == 2 {
			if _, err := os.Stat(filepath.Join(dir, sqlite.FileName)); err != nil {
				t.Fatalf("database file: %v", err)
			}
		}
		return open(t, dir, sqlite.Options{})
	})
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
	failure := func(name, dir string, opts sqlite.Options, wantErr string, wantIs error) storetest.OpenFailure {
		return storetest.OpenFailure{Name: name, WantErr: wantErr, WantIs: wantIs,
			Open: func(ctx context.Context) (store.Store, error) { return sqlite.Open(ctx, dir, opts) }}
	}
	storetest.RunOpenFailures(t, []storetest.OpenFailure{
		failure("dir under a file", filepath.Join(file, "data"), sqlite.Options{},
			fmt.Sprintf("opening sqlite: creating data directory %q: mkdir %s: not a directory", filepath.Join(file, "data"), file),
			syscall.ENOTDIR),
		failure("dir is a file", file, sqlite.Options{},
			fmt.Sprintf("opening sqlite: creating data directory %q: mkdir %s: not a directory", file, file),
			syscall.ENOTDIR),
		failure("database is a directory", blocked, sqlite.Options{}, "opening sqlite "+filepath.Join(blocked, sqlite.FileName), nil),
		failure("empty dir", "", sqlite.Options{}, "opening sqlite: data directory is empty", nil),
		failure("bad synchronous", t.TempDir(), sqlite.Options{Synchronous: "OFF"},
			`opening sqlite: synchronous "OFF" is not FULL or NORMAL`, nil),
		failure("negative readers", t.TempDir(), sqlite.Options{MaxReaders: -1},
			"opening sqlite: max readers -1 is negative", nil),
	})
}

func TestOpenCancelled(t *testing.T) {
	storetest.RunOpenCancelled(t, func(ctx context.Context) (store.Store, error) {
		return sqlite.Open(ctx, t.TempDir(), sqlite.Options{})
	})
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

// retentionEvent is the audit JSON of a typical login event.
const retentionEvent = `{"type":"login.succeeded","occurred_at":"2026-11-25T10:00:00.123Z","request_id":"req-8f2c1a","login":"owner.1042@example.jp","user":{"id":"u-1042","email":"owner.1042@example.jp"},"session_id":"s-77a1c9","context":{"ip":"203.0.113.7","user_agent":"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36","accept_language":"ja-JP,ja;q=0.9","device_id":"d-0a1b2c","client_fingerprint":"t13d1516h2_8daaf6152771_b186095e22b6","headers":{"sec-ch-ua-platform":"\"Windows\""}}}`

// fillAudit writes n typical audit records received a second apart from
// start, in batches of 500.
func fillAudit(b *testing.B, s *sqlite.Store, n int, start time.Time) {
	b.Helper()
	for i := 0; i < n; i += 500 {
		var batch store.Batch
		for j := i; j < min(i+500, n); j++ {
			at := start.Add(time.Duration(j) * time.Second)
			batch.Audit = append(batch.Audit, store.AuditRecord{
				EventID: fmt.Sprintf("ev_%012x%016x", at.UnixMilli(), j), ReceivedAt: at, OccurredAt: at,
				Type: "login.succeeded", Account: fmt.Sprintf("u-%d", j%5000), Login: fmt.Sprintf("owner.%d@example.jp", j%5000),
				IP: "203.0.113.7", SessionID: "s-77a1c9", RequestID: "req-8f2c1a", Decision: "allow",
				Reasons: []string{}, PasswordHMAC: make([]byte, 16), Event: []byte(retentionEvent),
			})
		}
		if err := s.Write(context.Background(), batch); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAuditDisk reports the disk one audit record takes in SQLite
// (database and WAL, after a checkpoint), for the retention figures.
func BenchmarkAuditDisk(b *testing.B) {
	const n = 100_000
	for range b.N {
		dir := b.TempDir()
		s := open(b, dir, sqlite.Options{Synchronous: "NORMAL"})
		fillAudit(b, s, n, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
		s.Close()
		var size int64
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if fi, err := e.Info(); err == nil {
				size += fi.Size()
			}
		}
		b.ReportMetric(float64(size)/n, "bytes/record")
		b.ReportMetric(float64(size)*1e6/n/(1<<20), "MiB/million")
	}
}

// BenchmarkPruneAudit measures one pruning batch of 1,000 audit records
// out of a log of 200,000 (ns/op is per batch).
func BenchmarkPruneAudit(b *testing.B) {
	s := open(b, b.TempDir(), sqlite.Options{})
	defer s.Close()
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const n = 200_000
	fillAudit(b, s, n, start)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		if i%(n/1000) == 0 && i > 0 {
			b.StopTimer()
			fillAudit(b, s, n, start.Add(time.Duration(i)*time.Hour*1000))
			b.StartTimer()
		}
		if _, err := s.PruneAudit(ctx, start.Add(100*365*24*time.Hour), 1000); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(1000, "records/op")
}
