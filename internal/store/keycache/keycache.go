// Package keycache keeps a copy of the API key records in a file of the
// data directory, so that a guard sharing its records in PostgreSQL can
// authenticate its clients while the database is out of reach, even
// right after a restart. The records hold only SHA-256 hashes of the
// secrets, never a secret; the file is authenticated with an HMAC under
// the guard's secret key, so that a copy edited on disk (a key added or
// re-enabled) is not believed.
package keycache

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/atoguard/atoguard/internal/store"
)

// Source is where the key records are: the store.
type Source interface {
	KeyByHash(ctx context.Context, hash []byte) (store.APIKey, error)
	ListKeys(ctx context.Context) ([]store.APIKey, error)
}

// file is the cache file's content.
type file struct {
	Keys []store.APIKey `json:"keys"`
	MAC  string         `json:"mac"` // hex HMAC-SHA256 of the JSON of Keys
}

// Cache answers key lookups from its Source and, while the source cannot
// be reached (unavailable says so of its errors), from the copy of the
// key records it kept in its file.
type Cache struct {
	src         Source
	path        string
	macKey      []byte
	unavailable func(error) bool

	mu   sync.Mutex
	keys map[string]store.APIKey // by hex of the hash
}

// Open returns a Cache in front of src keeping its copy in path, with
// the records a previous run kept there. A file that is missing starts an
// empty cache; one that cannot be read or whose MAC does not match under
// secret is an error (and the cache starts empty: Open returns it too).
func Open(src Source, path string, secret []byte, unavailable func(error) bool) (*Cache, error) {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte("atoguard keycache v1"))
	c := &Cache{src: src, path: path, macKey: mac.Sum(nil), unavailable: unavailable, keys: map[string]store.APIKey{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, fmt.Errorf("reading cached keys: %w", err)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		return c, fmt.Errorf("reading cached keys %s: %w", path, err)
	}
	keys, err := json.Marshal(f.Keys)
	if err != nil {
		return c, fmt.Errorf("reading cached keys %s: %w", path, err)
	}
	got, err := hex.DecodeString(f.MAC)
	if err != nil || !hmac.Equal(got, c.sum(keys)) {
		return c, fmt.Errorf("reading cached keys %s: the MAC does not match (edited, or another secret key)", path)
	}
	for _, k := range f.Keys {
		c.keys[hex.EncodeToString(k.Hash)] = k
	}
	return c, nil
}

func (c *Cache) sum(data []byte) []byte {
	m := hmac.New(sha256.New, c.macKey)
	m.Write(data)
	return m.Sum(nil)
}

// KeyByHash returns the source's key with hash, keeping a copy (and
// forgetting the copy of a key the source no longer has); while the
// source is unavailable, the copy, if there is one.
func (c *Cache) KeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	k, err := c.src.KeyByHash(ctx, hash)
	switch {
	case err == nil:
		return k, c.update(func(m map[string]store.APIKey) { m[hex.EncodeToString(k.Hash)] = k })
	case errors.Is(err, store.ErrNotFound):
		if uerr := c.update(func(m map[string]store.APIKey) { delete(m, hex.EncodeToString(hash)) }); uerr != nil {
			return k, errors.Join(err, uerr)
		}
	case c.unavailable(err):
		c.mu.Lock()
		cached, ok := c.keys[hex.EncodeToString(hash)]
		c.mu.Unlock()
		if ok {
			return cached, nil
		}
	}
	return k, err
}

// Refresh replaces the copy with every key of the source.
func (c *Cache) Refresh(ctx context.Context) error {
	keys, err := c.src.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("caching keys: %w", err)
	}
	return c.update(func(m map[string]store.APIKey) {
		clear(m)
		for _, k := range keys {
			m[hex.EncodeToString(k.Hash)] = k
		}
	})
}

// update changes the copy with change and writes the file if that
// changed anything.
func (c *Cache) update(change func(map[string]store.APIKey)) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	before := c.encodeLocked()
	change(c.keys)
	after := c.encodeLocked()
	if string(before) == string(after) {
		return nil
	}
	f, err := json.Marshal(file{Keys: c.sortedLocked(), MAC: hex.EncodeToString(c.sum(after))})
	if err != nil {
		return fmt.Errorf("caching keys: %w", err)
	}
	if err := writeFile(c.path, f); err != nil {
		return fmt.Errorf("caching keys: %w", err)
	}
	return nil
}

func (c *Cache) sortedLocked() []store.APIKey {
	keys := make([]store.APIKey, 0, len(c.keys))
	for _, k := range c.keys {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b store.APIKey) int { return strings.Compare(a.ID, b.ID) })
	return keys
}

// encodeLocked is the JSON of the keys, sorted, that the MAC covers.
func (c *Cache) encodeLocked() []byte {
	data, _ := json.Marshal(c.sortedLocked()) // plain data: cannot fail
	return data
}

// writeFile replaces path with data, atomically and durably.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
