// Package familiarity learns the devices, networks, browsers and places
// each account uses in good sessions, and says how familiar a new login's
// context is.
//
// Profiles are small and bounded: at most MaxMarks entries per kind, the
// least recently seen dropped first. Values are stored as keyed hashes, not
// in clear. Profiles live in a bounded cache in front of a record store.
package familiarity

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"math"
	"sync"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Config bounds the detector. Zero fields take the defaults.
type Config struct {
	MaxProfiles int `yaml:"max_profiles"` // profiles cached in memory (default 100000); the rest stay in the store
	MaxMarks    int `yaml:"max_marks"`    // entries per kind per account (default 16)
}

// Context is what is learned about a login: raw values, hashed inside.
// Empty values are neither learned nor judged.
type Context struct {
	Device  string
	Network string // the IP's prefix
	Agent   string // AgentFamily of the user agent
	Country string
	ASN     string
	// Language is the browser's language preference, as LanguageOf
	// reduces the Accept-Language header.
	Language string
}

// Facts say how familiar a context is to an account.
type Facts struct {
	HasHistory   bool // the account has logged in well before
	Logins       int  // good sessions learned
	DeviceKnown  bool
	NetworkKnown bool
	AgentKnown   bool
	CountryKnown bool
	ASNKnown     bool
	MFAFailures  int // failed step-ups in the last 24 hours
	// ChallengesAbandoned: of MFAFailures, the challenges that expired
	// unanswered (ChallengeAbandoned).
	ChallengesAbandoned int
	// LanguageKnown: the browser's language preference was seen in a good
	// session of the account.
	LanguageKnown bool
	// NetworkSeenInShop: the network was seen in a good session of some
	// account of the shop (Networks); set by the caller.
	NetworkSeenInShop bool
	// RangeSeenInShop: likewise the network's address block (IPv4 /8,
	// IPv6 /12: a regional registry's allocation); set by the caller.
	RangeSeenInShop bool
	Grade           Grade // how strange the context is, weighed per account
	// LastLogin is when the account's last good session was learned; zero
	// without history.
	LastLogin time.Time
}

// Familiar reports whether the login comes from a device or a network the
// account has used before.
func (f Facts) Familiar() bool { return f.DeviceKnown || f.NetworkKnown }

// Record is a profile as it is stored: the account, its encoded profile
// and when it was encoded. The zero Record means there is nothing to
// write.
type Record struct {
	Account   string
	Data      []byte
	UpdatedAt time.Time
}

// ErrNoProfile is what a Loader returns for an account with no stored
// profile.
var ErrNoProfile = errors.New("no stored profile")

// Loader reads stored profiles.
type Loader interface {
	// LoadProfile returns account's stored profile, or an error that
	// wraps ErrNoProfile when there is none.
	LoadProfile(ctx context.Context, account string) (Record, error)
}

const shards = 32

// Detector keeps account profiles. It is safe for concurrent use.
type Detector struct {
	key      []byte
	loader   Loader
	maxMarks int
	seed     maphash.Seed
	macs     sync.Pool // of *keyedMAC, reset before each use
	shards   [shards]profileShard
}

type profileShard struct {
	mu  sync.Mutex
	lru *simplelru.LRU[string, *profile]
}

// New returns a detector hashing values with key and loading profiles
// that are not cached from loader.
func New(cfg Config, key []byte, loader Loader) *Detector {
	if cfg.MaxProfiles <= 0 {
		cfg.MaxProfiles = 100_000
	}
	if cfg.MaxMarks <= 0 {
		cfg.MaxMarks = 16
	}
	d := &Detector{key: key, loader: loader, maxMarks: cfg.MaxMarks, seed: maphash.MakeSeed()}
	d.macs.New = func() any { return &keyedMAC{mac: hmac.New(sha256.New, key)} }
	per := max(cfg.MaxProfiles/shards, 1)
	for i := range d.shards {
		l, err := simplelru.NewLRU[string, *profile](per, nil)
		if err != nil {
			panic(err) // only for size <= 0, excluded above
		}
		d.shards[i].lru = l
	}
	return d
}

type mark struct {
	H uint64 `json:"h"`
	F int64  `json:"f"` // first seen, Unix seconds
	L int64  `json:"l"` // last seen
	N uint32 `json:"n"`
}

type profile struct {
	Devices   []mark           `json:"d,omitempty"`
	Networks  []mark           `json:"n,omitempty"`
	Agents    []mark           `json:"a,omitempty"`
	Countries []mark           `json:"c,omitempty"`
	ASNs      []mark           `json:"s,omitempty"`
	Languages []mark           `json:"g,omitempty"`
	Hours     []uint16         `json:"hr,omitempty"` // good sessions per hour of the day (UTC), 24 entries once any is learned
	Logins    int              `json:"l"`
	First     int64            `json:"t"`
	Last      int64            `json:"ll,omitempty"` // last good session, Unix seconds (absent from older profiles: lastLogin falls back on the marks)
	MFAFails  []int64          `json:"m,omitempty"`  // Unix seconds, the last few
	Abandons  []int64          `json:"ab,omitempty"` // of MFAFails, the challenges that expired unanswered
	Addresses []mark           `json:"ad,omitempty"` // delivery addresses of good orders
	Stores    []mark           `json:"ps,omitempty"` // pickup stores of good orders
	Payments  []mark           `json:"pm,omitempty"` // payment methods of good orders
	Orders    int              `json:"o,omitempty"`
	Changes   map[string]int64 `json:"ch,omitempty"` // contact field → last change, Unix seconds

	saved int64 // when this profile was last handed out to persist (Unix seconds), in memory only
}

const maxMFAFails = 8

func (d *Detector) hash(kind, v string) uint64 {
	k := d.macs.Get().(*keyedMAC)
	defer d.macs.Put(k)
	k.mac.Reset()
	k.buf = append(append(append(k.buf[:0], kind...), 0), v...)
	k.mac.Write(k.buf)
	return binary.BigEndian.Uint64(k.mac.Sum(k.sum[:0]))
}

// keyedMAC is a keyed HMAC-SHA256 with buffers of its own, so that hashing
// a value allocates nothing.
type keyedMAC struct {
	mac hash.Hash
	buf []byte
	sum [sha256.Size]byte
}

func (d *Detector) shard(account string) *profileShard {
	return &d.shards[maphash.String(d.seed, account)%shards]
}

// get returns the cached profile of account, loading it on a miss; nil
// when the account has none. The shard lock is not held while loading.
func (d *Detector) get(ctx context.Context, account string) (*profile, error) {
	s := d.shard(account)
	s.mu.Lock()
	p, ok := s.lru.Get(account)
	s.mu.Unlock()
	if ok {
		return p, nil
	}
	rec, err := d.loader.LoadProfile(ctx, account)
	switch {
	case errors.Is(err, ErrNoProfile):
		p = &profile{}
	case err != nil:
		return nil, fmt.Errorf("loading profile: %w", err)
	default:
		p = &profile{}
		if err := json.Unmarshal(rec.Data, p); err != nil {
			return nil, fmt.Errorf("decoding profile of %q: %w", account, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.lru.Get(account); ok {
		return cur, nil // loaded concurrently
	}
	s.lru.Add(account, p)
	return p, nil
}

// Forget drops account's cached profile: another instance of the guard
// changed the stored one, which the next use reads again.
func (d *Detector) Forget(account string) {
	s := d.shard(account)
	s.mu.Lock()
	s.lru.Remove(account)
	s.mu.Unlock()
}

// Assess says how familiar c is to account at now.
func (d *Detector) Assess(ctx context.Context, account string, c Context, now time.Time) (Facts, error) {
	p, err := d.get(ctx, account)
	if err != nil {
		return Facts{}, err
	}
	s := d.shard(account)
	s.mu.Lock()
	defer s.mu.Unlock()
	f := Facts{HasHistory: p.Logins > 0, Logins: p.Logins}
	f.DeviceKnown = c.Device != "" && has(p.Devices, d.hash("d", c.Device))
	f.NetworkKnown = c.Network != "" && has(p.Networks, d.hash("n", c.Network))
	f.AgentKnown = c.Agent != "" && has(p.Agents, d.hash("a", c.Agent))
	f.CountryKnown = c.Country != "" && has(p.Countries, d.hash("c", c.Country))
	f.ASNKnown = c.ASN != "" && has(p.ASNs, d.hash("s", c.ASN))
	f.LanguageKnown = c.Language != "" && has(p.Languages, d.hash("g", c.Language))
	f.Grade = grade(p, c, f, now)
	if t := p.lastLogin(); t > 0 {
		f.LastLogin = time.Unix(t, 0).UTC()
	}
	day := now.Add(-24 * time.Hour).Unix()
	for _, t := range p.MFAFails {
		if t >= day && t <= now.Unix() {
			f.MFAFailures++
		}
	}
	for _, t := range p.Abandons {
		if t >= day && t <= now.Unix() {
			f.ChallengesAbandoned++
		}
	}
	return f, nil
}

// writeFirstLogins is how many first good sessions of an account are
// written each, so that a restart counts them exactly.
const writeFirstLogins = 4

// refreshEvery is how long a profile whose login only refreshed what it
// already knew (last-seen times, counters) may go without being written:
// what is learned is written at once, a refresh at most this often.
const refreshEvery = time.Hour

// Learn records c as a good context of account and returns the profile to
// persist — or the zero Profile when the login only refreshed what the
// profile already knew and it was written less than refreshEvery ago
// (losing such a refresh in a crash loses nothing that decides).
func (d *Detector) Learn(ctx context.Context, account string, c Context, now time.Time) (Record, error) {
	return d.change(ctx, account, now, func(p *profile) bool {
		t := now.Unix()
		if p.First == 0 {
			p.First = t
		}
		p.Last = max(p.Last, t)
		p.Logins++
		grew := p.Logins == 1
		learn := func(ms []mark, kind, v string) []mark {
			if v == "" {
				return ms
			}
			h := d.hash(kind, v)
			grew = grew || !has(ms, h)
			return d.touch(ms, h, t)
		}
		p.Devices = learn(p.Devices, "d", c.Device)
		p.Networks = learn(p.Networks, "n", c.Network)
		p.Agents = learn(p.Agents, "a", c.Agent)
		p.Countries = learn(p.Countries, "c", c.Country)
		p.ASNs = learn(p.ASNs, "s", c.ASN)
		p.Languages = learn(p.Languages, "g", c.Language)
		if len(p.Hours) != 24 {
			p.Hours = make([]uint16, 24)
		}
		if h := now.UTC().Hour(); p.Hours[h] < math.MaxUint16 {
			grew = grew || p.Hours[h] == 0 // a new hour is learned at once, like a new device
			p.Hours[h]++
		}
		// The first few logins are always written: how many good
		// sessions an account has decides while it has few (the policy's
		// Account.Logins >= 3, the campaign detector's settled accounts).
		grew = grew || p.Logins <= writeFirstLogins
		return grew || p.saved == 0 || t-p.saved >= int64(refreshEvery/time.Second)
	})
}

// MFAFailed records a failed step-up for account and returns the profile
// to persist.
func (d *Detector) MFAFailed(ctx context.Context, account string, now time.Time) (Record, error) {
	return d.change(ctx, account, now, func(p *profile) bool {
		p.MFAFails = append(p.MFAFails, now.Unix())
		if len(p.MFAFails) > maxMFAFails {
			p.MFAFails = p.MFAFails[len(p.MFAFails)-maxMFAFails:]
		}
		return true
	})
}

// ChallengeAbandoned records a challenge of account that expired
// unanswered at now: a failed step-up (MFAFailed), and marked as one left
// unanswered. It returns the profile to persist.
func (d *Detector) ChallengeAbandoned(ctx context.Context, account string, now time.Time) (Record, error) {
	return d.change(ctx, account, now, func(p *profile) bool {
		p.MFAFails = lastFails(append(p.MFAFails, now.Unix()))
		p.Abandons = lastFails(append(p.Abandons, now.Unix()))
		return true
	})
}

// lastFails keeps the last maxMFAFails of ts.
func lastFails(ts []int64) []int64 {
	if len(ts) > maxMFAFails {
		return ts[len(ts)-maxMFAFails:]
	}
	return ts
}

// PasswordChanged forgets account's failed step-ups: they counted because
// someone else likely knew the password, and that password no longer
// works. It returns the profile to persist, or the zero Profile when
// there was nothing to forget.
func (d *Detector) PasswordChanged(ctx context.Context, account string, now time.Time) (Record, error) {
	return d.change(ctx, account, now, func(p *profile) bool {
		forgot := len(p.MFAFails) > 0 || len(p.Abandons) > 0
		p.MFAFails, p.Abandons = nil, nil
		return forgot
	})
}

// change applies f to account's profile, loaded if not cached, under its
// shard's lock, and returns the profile to persist: the zero Profile when
// f reports nothing worth writing.
func (d *Detector) change(ctx context.Context, account string, now time.Time, f func(p *profile) bool) (Record, error) {
	p, err := d.get(ctx, account)
	if err != nil {
		return Record{}, err
	}
	s := d.shard(account)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !f(p) {
		return Record{}, nil
	}
	return d.encodeLocked(account, p, now)
}

func (d *Detector) encodeLocked(account string, p *profile, now time.Time) (Record, error) {
	p.saved = now.Unix()
	data, err := json.Marshal(p)
	if err != nil {
		return Record{}, fmt.Errorf("encoding profile: %w", err)
	}
	return Record{Account: account, Data: data, UpdatedAt: now}, nil
}

// lastLogin returns when the account's last good session was learned
// (Unix seconds), 0 for none: the profile's own record, or for a profile
// of an older version the latest mark of a device or network.
func (p *profile) lastLogin() int64 {
	if p.Last > 0 || p.Logins == 0 {
		return p.Last
	}
	var t int64
	for _, ms := range [][]mark{p.Devices, p.Networks} {
		for _, m := range ms {
			t = max(t, m.L)
		}
	}
	return t
}

func has(ms []mark, h uint64) bool {
	for _, m := range ms {
		if m.H == h {
			return true
		}
	}
	return false
}

// touch marks h seen at t, dropping the least recently seen entry when
// the list is full.
func (d *Detector) touch(ms []mark, h uint64, t int64) []mark {
	for i := range ms {
		if ms[i].H == h {
			ms[i].L = max(ms[i].L, t)
			ms[i].N++
			return ms
		}
	}
	if len(ms) < d.maxMarks {
		return append(ms, mark{H: h, F: t, L: t, N: 1})
	}
	oldest := 0
	for i := range ms {
		if ms[i].L < ms[oldest].L {
			oldest = i
		}
	}
	ms[oldest] = mark{H: h, F: t, L: t, N: 1}
	return ms
}

// OrderContext is what is learned about an order: raw values, hashed
// inside. Empty values are neither learned nor judged.
type OrderContext struct {
	Address     string // normalized delivery address (package address)
	PickupStore string
	Payment     string // payment method
}

// OrderFacts say how familiar an order is to an account.
type OrderFacts struct {
	Orders       int // good orders learned
	AddressKnown bool
	StoreKnown   bool
	PaymentKnown bool
	// Changes maps a contact field (email, phone, shipping_address,
	// notification_settings, payment_method) to its last change.
	Changes map[string]time.Time
}

// AssessOrder says how familiar o is to account.
func (d *Detector) AssessOrder(ctx context.Context, account string, o OrderContext) (OrderFacts, error) {
	p, err := d.get(ctx, account)
	if err != nil {
		return OrderFacts{}, err
	}
	s := d.shard(account)
	s.mu.Lock()
	defer s.mu.Unlock()
	f := OrderFacts{Orders: p.Orders}
	f.AddressKnown = o.Address != "" && has(p.Addresses, d.hash("ad", o.Address))
	f.StoreKnown = o.PickupStore != "" && has(p.Stores, d.hash("ps", o.PickupStore))
	f.PaymentKnown = o.Payment != "" && has(p.Payments, d.hash("pm", o.Payment))
	if len(p.Changes) > 0 {
		f.Changes = make(map[string]time.Time, len(p.Changes))
		for k, v := range p.Changes {
			f.Changes[k] = time.Unix(v, 0).UTC()
		}
	}
	return f, nil
}

// LearnOrder records o as a good order of account and returns the profile
// to persist.
func (d *Detector) LearnOrder(ctx context.Context, account string, o OrderContext, now time.Time) (Record, error) {
	return d.change(ctx, account, now, func(p *profile) bool {
		t := now.Unix()
		p.Orders++
		if o.Address != "" {
			p.Addresses = d.touch(p.Addresses, d.hash("ad", o.Address), t)
		}
		if o.PickupStore != "" {
			p.Stores = d.touch(p.Stores, d.hash("ps", o.PickupStore), t)
		}
		if o.Payment != "" {
			p.Payments = d.touch(p.Payments, d.hash("pm", o.Payment), t)
		}
		return true
	})
}

// ContactChanged records that fields of account's contact data changed at
// now and returns the profile to persist.
func (d *Detector) ContactChanged(ctx context.Context, account string, fields []string, now time.Time) (Record, error) {
	return d.change(ctx, account, now, func(p *profile) bool {
		if p.Changes == nil {
			p.Changes = map[string]int64{}
		}
		for _, f := range fields {
			p.Changes[f] = max(p.Changes[f], now.Unix())
		}
		return true
	})
}
