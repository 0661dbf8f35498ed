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
