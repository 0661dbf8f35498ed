package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/sqlite"
)

// TestSnapshot copies a database while another goroutine keeps writing
// it: the copy opens, holds a prefix of the writes, and is mode 0600.
func TestSnapshot(t *testing.T) {
	ctx := context.Background()
	src := t.TempDir()
	st, err := sqlite.Open(ctx, src, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	put := func(i int) error {
		return st.PutKey(ctx, store.APIKey{ID: fmt.Sprintf("key-%04d", i), Name: "k", Hash: []byte(fmt.Sprintf("%032d", i)),
			Scopes: []string{store.ScopeEvents}, CreatedAt: t0})
	}
	for i := range 20 {
		if err := put(i); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() { // writes on while the snapshot is taken
		for i := 20; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			if err := put(i); err != nil {
				t.Error(err)
				return
			}
		}
	})
	dest := filepath.Join(t.TempDir(), "copy")
	if err := os.Mkdir(dest, 0o700); err != nil {
		t.Fatal(err)
	}
	err = sqlite.Snapshot(ctx, src, filepath.Join(dest, sqlite.FileName))
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(dest, sqlite.FileName)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("copy: %v, mode %v", err, fi.Mode())
	}
	cp, err := sqlite.Open(ctx, dest, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Close()
	keys, err := cp.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 20 {
		t.Errorf("copy holds %d keys, want at least 20", len(keys))
	}
	for i, k := range keys { // a prefix of the writes, none missing
		if want := fmt.Sprintf("key-%04d", i); k.ID != want {
			t.Fatalf("copy's key %d is %s, want %s", i, k.ID, want)
		}
	}

	for name, tc := range map[string]struct{ dir, dest, want string }{
		"no database":        {dir: t.TempDir(), dest: filepath.Join(t.TempDir(), "x.db"), want: "no records"},
		"destination exists": {dir: src, dest: filepath.Join(dest, sqlite.FileName), want: "exists"},
	} {
		if err := sqlite.Snapshot(ctx, tc.dir, tc.dest); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}
}
