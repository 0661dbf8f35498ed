// Package session remembers how each shop session began — the login's
// decision and risk, whether a step-up was asked and passed — so that the
// risk of a login is carried into the checkout.
package session

import (
	"hash/maphash"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// State is what is known of a session.
type State struct {
	UserID        string
	LoginAt       time.Time
	LoginDecision string
	LoginRisk     int
	Unfamiliar    bool // the login came from a device and network the account never used
	// Stranger: besides, the account has history and no account of the
	// shop is known on the network (a stranger, campaign.StrangerOf).
	Stranger        bool
	Challenged      bool
	ChallengePassed bool
	WeakFactor      bool // the step-up passed was SMS
}

const shards = 32

// Tracker keeps the state of at most a bounded number of sessions, least
// recently used evicted. It is safe for concurrent use.
type Tracker struct {
	seed   maphash.Seed
	shards [shards]shard
}

type shard struct {
	mu  sync.Mutex
	lru *simplelru.LRU[string, State]
}

// New returns a tracker holding at most capacity sessions.
func New(capacity int) *Tracker {
	t := &Tracker{seed: maphash.MakeSeed()}
	per := max(capacity/shards, 1)
	for i := range t.shards {
		l, err := simplelru.NewLRU[string, State](per, nil)
		if err != nil {
			panic(err) // only for size <= 0, excluded above
		}
		t.shards[i].lru = l
	}
	return t
}

func (t *Tracker) shard(id string) *shard { return &t.shards[maphash.String(t.seed, id)%shards] }

// Login records the start of session id.
func (t *Tracker) Login(id string, st State) {
	if id == "" {
		return
	}
	s := t.shard(id)
	s.mu.Lock()
	s.lru.Add(id, st)
	s.mu.Unlock()
}

// Pass records that the session passed a strong step-up.
func (t *Tracker) Pass(id string) {
	t.update(id, func(st *State) { st.ChallengePassed = true })
}

// Weak records that the session passed a step-up with a weak factor (SMS):
// it does not count as passing the guard's challenge.
func (t *Tracker) Weak(id string) {
	t.update(id, func(st *State) { st.WeakFactor = true })
}

func (t *Tracker) update(id string, f func(*State)) {
	if id == "" {
		return
	}
	s := t.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.lru.Get(id)
	if !ok {
		return
	}
	f(&st)
	s.lru.Add(id, st)
}

// Get returns the state of session id; ok is false when it is unknown (never
// seen, or evicted).
func (t *Tracker) Get(id string) (State, bool) {
	if id == "" {
		return State{}, false
	}
	s := t.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lru.Get(id)
}
