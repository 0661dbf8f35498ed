// Package spray detects password spraying: one password tried against many
// accounts. It counts, per password, the distinct accounts its failed
// logins named within a window of event time, keyed by an HMAC of the
// password digest so that no digest is kept, in a table of bounded size.
//
// Per password the accounts are held exactly up to 16 in the window, then
// estimated with a HyperLogLog sketch over the current and the previous
// window. Only failed logins are counted: a spray fails on nearly every
// account, while a common password that many owners really use succeeds,
// and must not look like an attack. A spraying episode opens when one
// password reaches OpenAt accounts and closes after CloseAfter without
// any password at that level.
//
// The HMAC key rotates: with the key before the rotation given as the
// previous key, counts restored from a snapshot taken under it carry over
// to the new key the next time their password is seen.
package spray

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"hash/maphash"
	"sync"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// IncidentKind is the kind of the incidents a spraying episode opens.
const IncidentKind = "password_spraying"

// Config tunes the detector. Zero fields take the values of Defaults.
type Config struct {
	Window       time.Duration `yaml:"window"`        // span over which distinct accounts are counted (default 1h)
	MaxPasswords int           `yaml:"max_passwords"` // passwords tracked at once, least recently used evicted (default 100000)
	OpenAt       float64       `yaml:"open_at"`       // distinct accounts of one password that open a spraying episode (default 20)
	CloseAfter   time.Duration `yaml:"close_after"`   // an episode closes after this long with no password at OpenAt (default 30m)
	// KeyFile holds the HMAC key (32 or more bytes); empty means a key
	// derived from the guard's secret key.
	KeyFile string `yaml:"key_file"`
	// PreviousKeyFile holds the key used before a rotation: counts saved
	// under it carry over. Empty: none.
	PreviousKeyFile string `yaml:"previous_key_file"`
	Key             []byte `yaml:"-"` // the key itself (serve reads KeyFile into it)
	PreviousKey     []byte `yaml:"-"`
}

// Defaults returns the default configuration (without keys).
func Defaults() Config {
	return Config{Window: time.Hour, MaxPasswords: 100_000, OpenAt: 20, CloseAfter: 30 * time.Minute}
}

func (c Config) withDefaults() Config {
	d := Defaults()
	if c.Window <= 0 {
		c.Window = d.Window
	}
	if c.MaxPasswords <= 0 {
		c.MaxPasswords = d.MaxPasswords
	}
	if c.OpenAt <= 0 {
		c.OpenAt = d.OpenAt
	}
	if c.CloseAfter <= 0 {
		c.CloseAfter = d.CloseAfter
	}
	return c
}

// MinKeyBytes is the shortest key accepted.
const MinKeyBytes = 32

// DeriveKey derives the detector's key from the guard's secret key.
func DeriveKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("atoguard password-spray key v1"))
	return m.Sum(nil)
}

// Obs is one login that carried a password digest.
type Obs struct {
	SHA1 [20]byte
	// Digest, when set, is the password's Digest under the detector's
	// key and SHA1 is not used: a login replayed from the audit log.
	Digest  *Digest
	Account uint64 // a stable hash of the account or login; 0 when none
	Failed  bool   // only failed logins are counted
}

// Result is what the detector says of one login.
type Result struct {
	// Accounts is about the number of distinct accounts this password
	// failed on within the window, this login included.
	Accounts float64
	// Hot is Accounts >= OpenAt: the password is being sprayed.
	Hot   bool
	State State
}

// State is the spraying episode, site-wide.
type State struct {
	Active bool
	Opened bool      // this observation opened it
	Closed bool      // this observation or tick closed it
	Since  time.Time // when it opened
	Until  time.Time // when closed: the last sprayed attempt
}

const (
	exact        = 16
	hllPrecision = 10 // 1 KiB when dense, about 3% error
	shards       = 32
)

type mac [16]byte

// Digest is a password's keyed digest as the detector counts it (an
// HMAC-SHA-256 of its SHA-1 under the detector's key, cut to 16 bytes):
// what the audit log keeps of a login so that a restart can replay it.
type Digest [16]byte

// Digest returns the digest of a password's SHA-1 under the detector's
// key, and the id of that key (KeyID).
func (d *Detector) Digest(sha1 *[20]byte) (Digest, string) { return Digest(d.mac(sha1)), d.keyID }

// KeyID names the detector's key without revealing it.
func (d *Detector) KeyID() string { return d.keyID }

// entry is the state of one password. Times are Unix seconds.
type entry struct {
	ids     [exact]uint64
	seen    [exact]int64
	hll     *hyperloglog.Sketch // current window, once exact overflowed
	hllPrev *hyperloglog.Sketch
	bucket  int64 // the window hll covers (unix / window)
}

// Detector counts accounts per password. It is safe for concurrent use.
type Detector struct {
	cfg    Config
	window int64 // seconds
	keyID  string
	prevID string
	pool   sync.Pool // of hash.Hash for the current key
	seed   maphash.Seed
	shards [shards]shard

	mu       sync.Mutex
	active   bool
	since    time.Time
	lastHot  time.Time
	prev     map[mac]*entry // restored under the previous key, not yet seen again
	prevTill time.Time      // prev is dropped after this
}

type shard struct {
	mu  sync.Mutex
	lru *simplelru.LRU[mac, *entry]
}

// New returns a detector. cfg.Key must be set (see DeriveKey).
func New(cfg Config) (*Detector, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Key) < MinKeyBytes {
		return nil, fmt.Errorf("spray key: %d bytes, want at least %d", len(cfg.Key), MinKeyBytes)
	}
	if len(cfg.PreviousKey) > 0 && len(cfg.PreviousKey) < MinKeyBytes {
		return nil, fmt.Errorf("previous spray key: %d bytes, want at least %d", len(cfg.PreviousKey), MinKeyBytes)
	}
	d := &Detector{cfg: cfg, window: int64(max(cfg.Window/time.Second, 1)), seed: maphash.MakeSeed()}
	d.keyID = keyID(cfg.Key)
	if len(cfg.PreviousKey) > 0 {
		d.prevID = keyID(cfg.PreviousKey)
	}
	key := cfg.Key
	d.pool.New = func() any { return hmac.New(sha256.New, key) }
	per := max(cfg.MaxPasswords/shards, 1)
	for i := range d.shards {
		l, err := simplelru.NewLRU[mac, *entry](per, nil)
		if err != nil {
			return nil, err
		}
		d.shards[i].lru = l
	}
	return d, nil
}

// keyID names a key without revealing it.
func keyID(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("key id"))
	return fmt.Sprintf("%x", m.Sum(nil)[:8])
}

func (d *Detector) mac(sha1 *[20]byte) mac {
	h := d.pool.Get().(hash.Hash)
	h.Reset()
	h.Write(sha1[:])
	var out mac
	copy(out[:], h.Sum(nil))
	d.pool.Put(h)
	return out
}

func macWith(key []byte, sha1 *[20]byte) mac {
	m := hmac.New(sha256.New, key)
	m.Write(sha1[:])
	var out mac
	copy(out[:], m.Sum(nil))
	return out
}

func (d *Detector) shard(k mac) *shard {
	return &d.shards[maphash.Bytes(d.seed, k[:])%shards]
}

// Observe counts o at now and returns what it says of the password.
func (d *Detector) Observe(now time.Time, o Obs) Result {
	var k mac
	if o.Digest != nil {
		k = mac(*o.Digest)
	} else {
		k = d.mac(&o.SHA1)
	}
	t := now.Unix()
	s := d.shard(k)
	s.mu.Lock()
	e, ok := s.lru.Get(k)
	if !ok && o.Digest == nil {
		if pe := d.takePrevious(now, &o.SHA1); pe != nil {
			e, ok = pe, true
			s.lru.Add(k, e)
		}
	}
	var n float64
	switch {
	case o.Failed && o.Account != 0:
		if !ok {
			e = &entry{}
			s.lru.Add(k, e)
		}
		e.add(t, d.window, mix(o.Account))
		n = e.distinct(t, d.window)
	case ok:
		n = e.distinct(t, d.window)
	}
	s.mu.Unlock()

	hot := n >= d.cfg.OpenAt
	return Result{Accounts: n, Hot: hot, State: d.evaluate(now, hot)}
}

// takePrevious moves the entry saved under the previous key for sha1, if
// any, to the caller.
func (d *Detector) takePrevious(now time.Time, sha1 *[20]byte) *entry {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.prev == nil {
		return nil
	}
	if now.After(d.prevTill) {
		d.prev = nil
		return nil
	}
	k := macWith(d.cfg.PreviousKey, sha1)
	e := d.prev[k]
	delete(d.prev, k)
	return e
}

// Tick moves the episode to now, closing it when no password was sprayed
// for CloseAfter.
func (d *Detector) Tick(now time.Time) State { return d.evaluate(now, false) }

func (d *Detector) evaluate(now time.Time, hot bool) State {
	d.mu.Lock()
	defer d.mu.Unlock()
	if hot {
		if !d.active {
			d.active, d.since, d.lastHot = true, now, now
			return State{Active: true, Opened: true, Since: now}
		}
		if now.After(d.lastHot) {
			d.lastHot = now
		}
	}
	if !d.active {
		return State{}
	}
	if now.Sub(d.lastHot) >= d.cfg.CloseAfter {
		d.active = false
		return State{Closed: true, Since: d.since, Until: d.lastHot}
	}
	return State{Active: true, Since: d.since}
}

// SetEpisode sets the episode state, for a restart that restored an open
// incident without the detector's snapshot, or the other way round.
func (d *Detector) SetEpisode(active bool, since, lastHot time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.active, d.since, d.lastHot = active, since, lastHot
}

// Len returns the number of passwords tracked.
func (d *Detector) Len() int {
	n := 0
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		n += s.lru.Len()
		s.mu.Unlock()
	}
	return n
}

// mix spreads the bits of an account hash (a finalizer of MurmurHash3),
// as the sketch needs uniform hashes; never 0.
func mix(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h | 1
}

func (e *entry) add(now, window int64, id uint64) {
	oldest := 0
	for i := range e.ids {
		if e.ids[i] == id {
			e.seen[i] = now
			e.addHLL(now, window, id)
			return
		}
		if e.seen[i] < e.seen[oldest] {
			oldest = i
		}
	}
	inWindow := e.ids[oldest] != 0 && now-e.seen[oldest] < window
	if inWindow && e.hll == nil {
		// Exact overflowed: more than 16 distinct accounts in the window.
		e.hll, _ = hyperloglog.NewSketch(hllPrecision, true)
		e.bucket = now / window
		for i := range e.ids {
			if now-e.seen[i] < window {
				e.hll.InsertHash(e.ids[i])
			}
		}
	}
	e.ids[oldest], e.seen[oldest] = id, now
	e.addHLL(now, window, id)
}

func (e *entry) addHLL(now, window int64, id uint64) {
	if e.hll == nil {
		return
	}
	switch b := now / window; {
	case b == e.bucket+1:
		e.hllPrev, e.bucket = e.hll, b
		e.hll, _ = hyperloglog.NewSketch(hllPrecision, true)
	case b > e.bucket+1:
		// Quiet for over a window: back to exact counting.
		e.hll, e.hllPrev = nil, nil
		return
	}
	e.hll.InsertHash(id)
}

func (e *entry) distinct(now, window int64) float64 {
	var n float64
	for i := range e.ids {
		if e.ids[i] != 0 && now-e.seen[i] < window {
			n++
		}
	}
	if e.hll != nil && now/window <= e.bucket+1 {
		n = max(n, float64(e.hll.Estimate()))
		if e.hllPrev != nil {
			n = max(n, float64(e.hllPrev.Estimate()))
		}
	}
	return n
}

// Snapshot encodes what the detector knows, to be restored after a
// restart: the episode and the passwords seen on at least two accounts.
func (d *Detector) Snapshot(now time.Time) ([]byte, error) {
	snap := snapshot{KeyID: d.keyID}
	d.mu.Lock()
	snap.Active, snap.Since, snap.LastHot = d.active, d.since, d.lastHot
	d.mu.Unlock()
	t := now.Unix()
	for i := range d.shards {
		s := &d.shards[i]
		s.mu.Lock()
		for _, k := range s.lru.Keys() {
			e, _ := s.lru.Peek(k)
			if e.distinct(t, d.window) < 2 {
				continue
			}
			se, err := e.save(k)
			if err != nil {
				s.mu.Unlock()
				return nil, err
			}
			snap.Entries = append(snap.Entries, se)
		}
		s.mu.Unlock()
	}
	return json.Marshal(snap)
}

type snapshot struct {
	KeyID   string      `json:"key_id"`
	Active  bool        `json:"active"`
	Since   time.Time   `json:"since"`
	LastHot time.Time   `json:"last_hot"`
	Entries []savedItem `json:"entries"`
}

type savedItem struct {
	MAC     mac      `json:"mac"`
	IDs     []uint64 `json:"ids"`
	Seen    []int64  `json:"seen"`
	HLL     []byte   `json:"hll,omitempty"`
	HLLPrev []byte   `json:"hll_prev,omitempty"`
	Bucket  int64    `json:"bucket"`
}

func (e *entry) save(k mac) (savedItem, error) {
	it := savedItem{MAC: k, IDs: e.ids[:], Seen: e.seen[:], Bucket: e.bucket}
	var err error
	if e.hll != nil {
		if it.HLL, err = e.hll.MarshalBinary(); err != nil {
			return it, err
		}
	}
	if e.hllPrev != nil {
		if it.HLLPrev, err = e.hllPrev.MarshalBinary(); err != nil {
			return it, err
		}
	}
	return it, nil
}

func (it *savedItem) entry() (*entry, error) {
	if len(it.IDs) != exact || len(it.Seen) != exact {
		return nil, errors.New("bad entry size")
	}
	e := &entry{bucket: it.Bucket}
	copy(e.ids[:], it.IDs)
	copy(e.seen[:], it.Seen)
	for _, p := range []struct {
		data []byte
		dst  **hyperloglog.Sketch
	}{{it.HLL, &e.hll}, {it.HLLPrev, &e.hllPrev}} {
		if len(p.data) == 0 {
			continue
		}
		sk, _ := hyperloglog.NewSketch(hllPrecision, true)
		if err := sk.UnmarshalBinary(p.data); err != nil {
			return nil, err
		}
		*p.dst = sk
	}
	return e, nil
}

// ErrOtherKey is returned by Restore for a snapshot taken under a key that
// is neither the current nor the previous one: its counts are dropped.
var ErrOtherKey = errors.New("spray snapshot taken under another key")

// Restore loads a snapshot taken by Snapshot at now. A snapshot taken
// under the previous key carries its counts over as their passwords are
// seen again, for one window.
func (d *Detector) Restore(data []byte, now time.Time) error {
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("decoding spray snapshot: %w", err)
	}
	d.mu.Lock()
	d.active, d.since, d.lastHot = snap.Active, snap.Since, snap.LastHot
	d.mu.Unlock()
	switch snap.KeyID {
	case d.keyID:
		for i := range snap.Entries {
			e, err := snap.Entries[i].entry()
			if err != nil {
				return fmt.Errorf("decoding spray snapshot: %w", err)
			}
			k := snap.Entries[i].MAC
			s := d.shard(k)
			s.mu.Lock()
			s.lru.Add(k, e)
			s.mu.Unlock()
		}
	case d.prevID:
		prev := make(map[mac]*entry, len(snap.Entries))
		for i := range snap.Entries {
			e, err := snap.Entries[i].entry()
			if err != nil {
				return fmt.Errorf("decoding spray snapshot: %w", err)
			}
			prev[snap.Entries[i].MAC] = e
		}
		d.mu.Lock()
		d.prev, d.prevTill = prev, now.Add(d.cfg.Window)
		d.mu.Unlock()
	default:
		return ErrOtherKey
	}
	return nil
}
