package keycache_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/keycache"
	"github.com/atoguard/atoguard/internal/store/memory"
)

var errDown = errors.New("database down")

// source is a memory store that fails as unavailable while down.
type source struct {
	*memory.Store
	down bool
}

func (s *source) KeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	if s.down {
		return store.APIKey{}, errDown
	}
	return s.Store.KeyByHash(ctx, hash)
}

func (s *source) ListKeys(ctx context.Context) ([]store.APIKey, error) {
	if s.down {
		return nil, errDown
	}
	return s.Store.ListKeys(ctx)
}

func unavailable(err error) bool { return errors.Is(err, errDown) }

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestCache(t *testing.T) {
	ctx := t.Context()
	created := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	live := store.APIKey{ID: "live", Name: "shop", Hash: []byte("hash-live"), Scopes: []string{store.ScopeEvents}, CreatedAt: created}
	off := store.APIKey{ID: "off", Name: "old", Hash: []byte("hash-off"), CreatedAt: created, Disabled: true}
	gone := store.APIKey{ID: "gone", Name: "deleted", Hash: []byte("hash-gone"), CreatedAt: created}
	src := &source{Store: memory.New()}
	for _, k := range []store.APIKey{live, off, gone} {
		if err := src.PutKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "keys.cache")
	c, err := keycache.Open(src, path, secret, unavailable)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	// A key deleted since is forgotten when looked up.
	src2 := &source{Store: memory.New()}
	for _, k := range []store.APIKey{live, off} {
		if err := src2.PutKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	c, err = keycache.Open(src2, path, secret, unavailable)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.KeyByHash(ctx, gone.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("KeyByHash(deleted key) error = %v, want ErrNotFound", err)
	}

	// The next run starts with the database down.
	src2.down = true
	c, err = keycache.Open(src2, path, secret, unavailable)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		hash    []byte
		want    store.APIKey
		wantErr error
	}{
		{"cached key", live.Hash, live, nil},
		{"disabled key stays disabled", off.Hash, off, nil},
		{"deleted key", gone.Hash, store.APIKey{}, errDown},
		{"unknown key", []byte("nope"), store.APIKey{}, errDown},
	}
	for _, tt := range tests {
		got, err := c.KeyByHash(ctx, tt.hash)
		if !errors.Is(err, tt.wantErr) || got.ID != tt.want.ID || got.Disabled != tt.want.Disabled || !got.CreatedAt.Equal(tt.want.CreatedAt) {
			t.Errorf("%s: got %+v, %v; want %+v, %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}

	// A copy edited on disk, or sealed under another secret, is not believed.
	if _, err := keycache.Open(src2, path, []byte("another secret key of 32 bytes.."), unavailable); err == nil {
		t.Error("Open with another secret: no error")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	data2 := []byte(strings.ReplaceAll(string(data), `"Disabled":true`, `"Disabled":false`))
	if err := os.WriteFile(path, data2, 0o600); err != nil {
		t.Fatal(err)
	}
	c, err = keycache.Open(src2, path, secret, unavailable)
	if err == nil {
		t.Error("Open of an edited copy: no error")
	}
	if _, err := c.KeyByHash(ctx, off.Hash); !errors.Is(err, errDown) {
		t.Errorf("KeyByHash from an edited copy: error %v, want the source's", err)
	}
}
