// Package order detects the shapes of fraudulent ordering across
// accounts: one delivery address or pickup store used by many accounts
// (a drop point), and one item suddenly bought by many accounts from
// unfamiliar contexts (a surge that a launch rush of regular owners does
// not make).
package order

import (
	"hash/maphash"
	"math"
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
	shards [shards]dropShard
}

type dropShard struct {
	mu  sync.Mutex
	lru *simplelru.LRU[string, *dropEntry]
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
	h := maphash.String(d.seed, account) | 1
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

// Surge watches how often each item (SKU) is ordered. An item surges when
// its orders in the last hour are far above its own daily average; the
// share of those orders that came from risky contexts tells a campaign
// from a launch rush of regular owners.
type Surge struct {
	minOrders float64
	factor    float64
	seed      maphash.Seed
	shards    [shards]surgeShard
}

type surgeShard struct {
	mu  sync.Mutex
	lru *simplelru.LRU[string, *surgeEntry]
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
