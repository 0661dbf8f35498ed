// Package window counts login outcomes per key (an IP, a prefix, a device)
// over sliding time windows, in a table whose memory is bounded.
//
// Counts are exponentially decayed with time constants of one minute, ten
// minutes and one hour: at a steady rate r per minute the one-hour count is
// about 60r, and a burst fades over the window instead of falling off a
// cliff. Distinct logins per key are exact up to 16 in the last hour and
// then estimated with a HyperLogLog sketch over the current and the
// previous clock hour. When the table is full the least recently used key
// is evicted.
package window

import (
	"hash/maphash"
	"math"
	"sync"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// Obs is one observed login outcome.
type Obs struct {
	Failed    bool
	Unknown   bool // failed for an account that does not exist
	Succeeded bool
	Login     uint64 // hash of the normalized login; 0 when none
}

// Stats are the decayed counts of one key after an observation.
type Stats struct {
	Attempts1m       float64
	Attempts10m      float64
	Attempts1h       float64
	Failures10m      float64
	Failures1h       float64
	Unknown1h        float64
	Successes1h      float64
	DistinctLogins1h float64
}

// FailureRatio is the share of the last hour's attempts that failed.
func (s Stats) FailureRatio() float64 { return ratio(s.Failures1h, s.Attempts1h) }

// UnknownRatio is the share of the last hour's attempts that named an
// account that does not exist.
func (s Stats) UnknownRatio() float64 { return ratio(s.Unknown1h, s.Attempts1h) }

func ratio(a, b float64) float64 {
	if b < 1 {
		b = 1
	}
	return a / b
}

const (
	exactLogins  = 16
	hllPrecision = 10 // 1 KiB when dense, about 3% error
	shards       = 64
)

var taus = [3]float64{time.Minute.Seconds(), (10 * time.Minute).Seconds(), time.Hour.Seconds()}

// entry is the state of one key. Times are Unix seconds.
type entry struct {
	last    int64
	att     [3]float32 // 1m, 10m, 1h
	fail    [2]float32 // 10m, 1h
	unknown float32    // 1h
	success float32    // 1h
	logins  [exactLogins]uint32
	seen    [exactLogins]uint32
	hll     *hyperloglog.Sketch // current clock hour, once exact overflowed
	hllPrev *hyperloglog.Sketch
	hllHour int64
	// Estimating a sketch costs microseconds, so estimates are kept and
	// refreshed after every est/16 new insertions (about 6% staleness).
	estCur, estPrev float32
	sinceEst        uint32
}

// Table holds the entries of one kind of key. It is safe for concurrent
// use.
type Table struct {
	seed   maphash.Seed
	shards [shards]shard
}

type shard struct {
	mu  sync.Mutex
	lru *simplelru.LRU[string, *entry]
}

// New returns a table that keeps at most capacity keys (at least one per
// shard).
func New(capacity int) *Table {
	per := max(capacity/shards, 1)
	t := &Table{seed: maphash.MakeSeed()}
	for i := range t.shards {
		l, err := simplelru.NewLRU[string, *entry](per, nil)
		if err != nil {
			panic(err) // only for size <= 0, excluded above
		}
		t.shards[i].lru = l
	}
	return t
}

func (t *Table) shard(key string) *shard {
	return &t.shards[maphash.String(t.seed, key)%shards]
}

// Observe counts o for key at now and returns the key's stats including it.
func (t *Table) Observe(key string, now time.Time, o Obs) Stats {
	s := t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.lru.Get(key)
	if !ok {
		e = &entry{last: now.Unix()}
		s.lru.Add(key, e)
	}
	e.observe(now.Unix(), o)
	return e.stats(now.Unix())
}

// Peek returns the stats of key at now without counting anything.
func (t *Table) Peek(key string, now time.Time) Stats {
	s := t.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.lru.Peek(key)
	if !ok {
		return Stats{}
	}
	return e.stats(now.Unix())
}

// Len returns the number of keys held.
func (t *Table) Len() int {
	n := 0
	for i := range t.shards {
		s := &t.shards[i]
		s.mu.Lock()
		n += s.lru.Len()
		s.mu.Unlock()
	}
	return n
}

// decayTo ages the counters to now. An observation older than the last
// one (out-of-order events) is counted without ageing.
func (e *entry) decayTo(now int64) {
	dt := float64(now - e.last)
	if dt <= 0 {
		return
	}
	var f [3]float32
	for i, tau := range taus {
		f[i] = float32(math.Exp(-dt / tau))
	}
	e.att[0] *= f[0]
	e.att[1] *= f[1]
	e.att[2] *= f[2]
	e.fail[0] *= f[1]
	e.fail[1] *= f[2]
	e.unknown *= f[2]
	e.success *= f[2]
	e.last = now
}

func (e *entry) observe(now int64, o Obs) {
	e.decayTo(now)
	for i := range e.att {
		e.att[i]++
	}
	if o.Failed || o.Unknown {
		e.fail[0]++
		e.fail[1]++
	}
	if o.Unknown {
		e.unknown++
	}
	if o.Succeeded {
		e.success++
	}
	if o.Login != 0 {
		e.addLogin(now, o.Login)
	}
}

func (e *entry) addLogin(now int64, h uint64) {
	h32 := uint32(h>>32) | 1 // never 0, so 0 marks a free slot
	oldest := 0
	for i := range e.logins {
		if e.logins[i] == h32 {
			e.seen[i] = uint32(now)
			e.addHLL(now, h)
			return
		}
		if e.seen[i] < e.seen[oldest] {
			oldest = i
		}
	}
	inWindow := e.logins[oldest] != 0 && now-int64(e.seen[oldest]) < int64(taus[2])
	if inWindow && e.hll == nil {
		// Exact overflowed: more than exactLogins distinct in the hour.
		e.hll, _ = hyperloglog.NewSketch(hllPrecision, true)
		e.hllHour = now / 3600
		for i := range e.logins {
			e.hll.InsertHash(uint64(e.logins[i]) << 32)
		}
	}
	e.logins[oldest] = h32
	e.seen[oldest] = uint32(now)
	e.addHLL(now, h)
}

func (e *entry) addHLL(now int64, h uint64) {
	if e.hll == nil {
		return
	}
	hour := now / 3600
	switch {
	case hour == e.hllHour+1:
		e.hllPrev, e.hllHour = e.hll, hour
		e.estPrev = float32(e.hllPrev.Estimate())
		e.hll, _ = hyperloglog.NewSketch(hllPrecision, true)
		e.estCur, e.sinceEst = 0, 0
	case hour > e.hllHour+1:
		// Quiet for over an hour: start over in exact mode.
		e.hll, e.hllPrev = nil, nil
		e.estCur, e.estPrev, e.sinceEst = 0, 0, 0
		return
	}
	e.hll.InsertHash(uint64(uint32(h>>32)|1) << 32)
	e.sinceEst++
	if e.sinceEst >= max(1, uint32(e.estCur/16)) {
		e.estCur, e.sinceEst = float32(e.hll.Estimate()), 0
	}
}

func (e *entry) stats(now int64) Stats {
	d := *e // a copy to age without changing the entry on reads
	d.decayTo(now)
	var exact float64
	for i := range d.logins {
		if d.logins[i] != 0 && now-int64(d.seen[i]) < int64(taus[2]) {
			exact++
		}
	}
	distinct := exact
	if d.hll != nil && now/3600 <= d.hllHour+1 {
		distinct = max(distinct, float64(d.estCur), float64(d.estPrev))
	}
	return Stats{
		Attempts1m:       float64(d.att[0]),
		Attempts10m:      float64(d.att[1]),
		Attempts1h:       float64(d.att[2]),
		Failures10m:      float64(d.fail[0]),
		Failures1h:       float64(d.fail[1]),
		Unknown1h:        float64(d.unknown),
		Successes1h:      float64(d.success),
		DistinctLogins1h: distinct,
	}
}
