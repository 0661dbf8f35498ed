// Package order detects the shapes of fraudulent ordering across
// accounts: one delivery address or pickup store used by many accounts
// (a drop point), and one item suddenly bought by many accounts from
// unfamiliar contexts (a surge that a launch rush of regular owners does
// not make).
package order

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"hash/maphash"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

const shards = 32

// DropPoints counts the distinct accounts that used each delivery key
// (a normalized address, a pickup store, a recipient) within a window, in
// bounded memory: at most maxKeys keys, and an exact count of up to
// maxAccounts accounts each (enough to see a drop point).
type DropPoints struct {
	window time.Duration
	seed   maphash.Seed
	shards [shards]shard[*dropEntry]
}

// shard is one lock's part of a bounded table.
type shard[V any] struct {
	mu  sync.Mutex
	lru *simplelru.LRU[string, V]
}

// snapshotShards calls save with each key and value of the shards, each
// shard's least recently used first.
func snapshotShards[V any](shs []shard[V], save func(key string, v V)) {
	for i := range shs {
		s := &shs[i]
		s.mu.Lock()
		for _, k := range s.lru.Keys() {
			v, _ := s.lru.Peek(k)
			save(k, v)
		}
		s.mu.Unlock()
	}
}

// restoreShards decodes a snapshot of items (S) and adds each to its
// shard as the key and value entry makes of it.
func restoreShards[S, V any](data []byte, what string, shs []shard[V], seed maphash.Seed, entry func(S) (string, V, error)) error {
	var in []S
	if err := json.Unmarshal(data, &in); err != nil {
		return fmt.Errorf("decoding %s: %w", what, err)
	}
	for _, it := range in {
		key, v, err := entry(it)
		if err != nil {
			return fmt.Errorf("decoding %s: %w", what, err)
		}
		s := &shs[maphash.String(seed, key)%shards]
		s.mu.Lock()
		s.lru.Add(key, v)
		s.mu.Unlock()
	}
	return nil
}

const maxAccounts = 32

type dropEntry struct {
	accounts [maxAccounts]uint64
	seen     [maxAccounts]int64 // Unix seconds
}

// NewDropPoints returns a counter over window keeping at most maxKeys keys.
func NewDropPoints(maxKeys int, window time.Duration) *DropPoints {
	d := &DropPoints{window: window, seed: maphash.MakeSeed()}
	per := max(maxKeys/shards, 1)
	for i := range d.shards {
		l, err := simplelru.NewLRU[string, *dropEntry](per, nil)
		if err != nil {
			panic(err) // only for size <= 0, excluded above
		}
		d.shards[i].lru = l
	}
	return d
}

// Observe records that account used key at now and returns the number of
// distinct accounts, this one included, that used key within the window.
func (d *DropPoints) Observe(key, account string, now time.Time) int {
	if key == "" {
		return 0
	}
	s := &d.shards[maphash.String(d.seed, key)%shards]
	h := accountHash(account)
	t := now.Unix()
	cutoff := now.Add(-d.window).Unix()
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.lru.Get(key)
	if !ok {
		e = &dropEntry{}
		s.lru.Add(key, e)
	}
	slot, oldest := -1, 0
	for i := range e.accounts {
		if e.accounts[i] == h {
			slot = i
			break
		}
		if e.seen[i] < e.seen[oldest] {
			oldest = i
		}
	}
	if slot < 0 {
		slot = oldest
		e.accounts[slot] = h
	}
	e.seen[slot] = max(e.seen[slot], t)
	n := 0
	for i := range e.accounts {
		if e.accounts[i] != 0 && e.seen[i] > cutoff {
			n++
		}
	}
	return n
}

// accountHash is how an account is counted: the same across restarts, so
// that a snapshot's counts go on.
func accountHash(account string) uint64 {
	f := fnv.New64a()
	f.Write([]byte(account))
	return f.Sum64() | 1
}

// savedDrop is a drop point as a snapshot keeps it.
type savedDrop struct {
	Key      string   `json:"k"`
	Accounts []uint64 `json:"a"`
	Seen     []int64  `json:"s"`
}

// Snapshot encodes the drop points used within the window at now, each
// shard's least recently used first, to be restored after a restart.
func (d *DropPoints) Snapshot(now time.Time) ([]byte, error) {
	cutoff := now.Add(-d.window).Unix()
	var out []savedDrop
	snapshotShards(d.shards[:], func(k string, e *dropEntry) {
		if slices.Max(e.seen[:]) > cutoff {
			out = append(out, savedDrop{Key: k, Accounts: slices.Clone(e.accounts[:]), Seen: slices.Clone(e.seen[:])})
		}
	})
	return json.Marshal(out)
}

// Restore loads a snapshot taken by Snapshot.
func (d *DropPoints) Restore(data []byte) error {
	return restoreShards(data, "drop points", d.shards[:], d.seed, func(sd savedDrop) (string, *dropEntry, error) {
		if len(sd.Accounts) != maxAccounts || len(sd.Seen) != maxAccounts {
			return "", nil, fmt.Errorf("%d accounts, want %d", len(sd.Accounts), maxAccounts)
		}
		e := &dropEntry{}
		copy(e.accounts[:], sd.Accounts)
		copy(e.seen[:], sd.Seen)
		return sd.Key, e, nil
	})
}

// Surge watches how often each item (SKU) is ordered. An item surges when
// its orders in the last hour are far above its own daily average; the
// share of those orders that came from risky contexts tells a campaign
// from a launch rush of regular owners.
type Surge struct {
	minOrders float64
	factor    float64
	seed      maphash.Seed
	shards    [shards]shard[*surgeEntry]
}

type surgeEntry struct {
	last  int64
	hour  float64 // decayed, time constant 1h
	risky float64 // risky orders, decayed 1h
	day   float64 // decayed, time constant 24h
	first int64
}

// SurgeState is an item's state after an order.
type SurgeState struct {
	Orders1h   float64 // about the orders of the last hour
	PerHour    float64 // the item's usual orders per hour (24h average before this hour)
	Surging    bool
	RiskyShare float64 // share of the last hour's orders from risky contexts
}

// NewSurge returns a surge detector keeping at most maxItems items: an
// item surges when its last hour holds at least minOrders orders and
// factor times its usual hourly rate.
func NewSurge(maxItems int, minOrders, factor float64) *Surge {
	s := &Surge{minOrders: minOrders, factor: factor, seed: maphash.MakeSeed()}
	per := max(maxItems/shards, 1)
	for i := range s.shards {
		l, err := simplelru.NewLRU[string, *surgeEntry](per, nil)
		if err != nil {
			panic(err) // only for size <= 0, excluded above
		}
		s.shards[i].lru = l
	}
	return s
}

// Observe counts an order of sku at now, risky or not, and returns the
// item's state.
func (s *Surge) Observe(sku string, risky bool, now time.Time) SurgeState {
	sh := &s.shards[maphash.String(s.seed, sku)%shards]
	t := now.Unix()
	sh.mu.Lock()
	defer sh.mu.Unlock()
	e, ok := sh.lru.Get(sku)
	if !ok {
		e = &surgeEntry{last: t, first: t}
		sh.lru.Add(sku, e)
	}
	if dt := float64(t - e.last); dt > 0 {
		e.hour *= math.Exp(-dt / 3600)
		e.risky *= math.Exp(-dt / 3600)
		e.day *= math.Exp(-dt / 86400)
		e.last = t
	}
	// The usual rate excludes the current hour's orders.
	perHour := math.Max(e.day-e.hour, 0) / 24
	e.hour++
	e.day++
	if risky {
		e.risky++
	}
	st := SurgeState{Orders1h: e.hour, PerHour: perHour, RiskyShare: e.risky / e.hour}
	st.Surging = e.hour >= s.minOrders && e.hour >= s.factor*math.Max(perHour, 1)
	return st
}

// savedItem is an item as a snapshot keeps it.
type savedItem struct {
	SKU   string  `json:"sku"`
	Last  int64   `json:"last"`
	Hour  float64 `json:"hour"`
	Risky float64 `json:"risky"`
	Day   float64 `json:"day"`
	First int64   `json:"first"`
}

// Snapshot encodes the items watched, each shard's least recently
// ordered first, to be restored after a restart.
func (s *Surge) Snapshot() ([]byte, error) {
	var out []savedItem
	snapshotShards(s.shards[:], func(k string, e *surgeEntry) {
		out = append(out, savedItem{SKU: k, Last: e.last, Hour: e.hour, Risky: e.risky, Day: e.day, First: e.first})
	})
	return json.Marshal(out)
}

// Restore loads a snapshot taken by Snapshot.
func (s *Surge) Restore(data []byte) error {
	return restoreShards(data, "item surges", s.shards[:], s.seed, func(it savedItem) (string, *surgeEntry, error) {
		return it.SKU, &surgeEntry{last: it.Last, hour: it.Hour, risky: it.Risky, day: it.Day, first: it.First}, nil
	})
}
