package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// flakyKeys is a key store that can be out of reach.
type flakyKeys struct {
	keys map[[32]byte]store.APIKey
	down bool
}

func (f *flakyKeys) KeyByHash(_ context.Context, hash []byte) (store.APIKey, error) {
	if f.down {
		return store.APIKey{}, errors.New("connection refused")
	}
	k, ok := f.keys[[32]byte(hash)]
	if !ok {
		return store.APIKey{}, store.ErrNotFound
	}
	return k, nil
}

// TestKeysThroughAnOutage: a key seen recently keeps working while the
// key store is out of reach, for staleKeyFor past its cache expiry; an
// unknown or disabled key never does.
func TestKeysThroughAnOutage(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	sum := func(s string) [32]byte { return sha256.Sum256([]byte(s)) }
	good, off := sum("good-secret"), sum("disabled-secret")
	ks := &flakyKeys{keys: map[[32]byte]store.APIKey{
		good: {ID: "key_good", Hash: good[:], Scopes: []string{store.ScopeEvents}},
		off:  {ID: "key_off", Hash: off[:], Scopes: []string{store.ScopeEvents}, Disabled: true},
	}}
	k := newKeyring("", ks)
	for _, s := range []string{"good-secret", "disabled-secret", "unknown-secret"} {
		_, _ = k.authenticate(ctx, "Bearer "+s, t0) // cached while the store is up
	}
	ks.down = true
	for _, tc := range []struct {
		secret string
		at     time.Duration
		ok     bool
	}{
		{"good-secret", time.Minute, true},                        // expired from the cache, store down: stale is used
		{"good-secret", k.ttl + staleKeyFor - time.Second, true},  // still within the grace
		{"good-secret", k.ttl + staleKeyFor + time.Second, false}, // beyond it
		{"disabled-secret", time.Minute, false},                   // disabled stays refused
		{"unknown-secret", time.Minute, false},                    // unknown stays refused
		{"never-seen-secret", time.Second, false},                 // never looked up: 503
	} {
		_, err := k.authenticate(ctx, "Bearer "+tc.secret, t0.Add(tc.at))
		if (err == nil) != tc.ok {
			t.Errorf("%s at +%s: err %v, want ok %v", tc.secret, tc.at, err, tc.ok)
		}
	}
}

// countingKeys is a key store of one key that counts its lookups.
type countingKeys struct {
	key     store.APIKey
	lookups int
}

func (c *countingKeys) KeyByHash(_ context.Context, hash []byte) (store.APIKey, error) {
	c.lookups++
	if bytes.Equal(hash, c.key.Hash) {
		return c.key, nil
	}
	return store.APIKey{}, store.ErrNotFound
}

// TestUnknownKeysCannotFlushTheCache: made-up secrets are remembered as
// unknown apart from the shop's keys, so a flood of them neither pushes a
// real key out (before: the cache was wiped at 10,000 entries) nor costs a
// store lookup each time one comes back.
func TestUnknownKeysCannotFlushTheCache(t *testing.T) {
	ctx := context.Background()
	sum := sha256.Sum256([]byte("real-secret"))
	ks := &countingKeys{key: store.APIKey{ID: "k1", Name: "shop", Hash: sum[:], Scopes: []string{store.ScopeEvents}}}
	k := newKeyring("", ks)
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	if _, err := k.authenticate(ctx, "Bearer real-secret", now); err != nil {
		t.Fatal(err)
	}
	for i := range 2 * maxCachedKeys {
		if _, err := k.authenticate(ctx, fmt.Sprintf("Bearer guess-%d", i), now); err == nil {
			t.Fatal("a made-up secret was accepted")
		}
	}
	before := ks.lookups
	if _, err := k.authenticate(ctx, "Bearer real-secret", now); err != nil {
		t.Fatal(err)
	}
	if _, err := k.authenticate(ctx, fmt.Sprintf("Bearer guess-%d", 2*maxCachedKeys-1), now); err == nil {
		t.Fatal("a made-up secret was accepted")
	}
	if got := ks.lookups - before; got != 0 {
		t.Errorf("%d store lookups for the real key and a recent made-up one after the flood, want 0", got)
	}
}
