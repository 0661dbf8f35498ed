// Package campaign detects credential-stuffing campaigns from site-wide
// login rates (failures, failures for unknown accounts, successes from
// unfamiliar contexts) compared with a baseline learned online for each
// hour of the day.
//
// A campaign opens when the count of any metric over the last Window
// exceeds its expected count by Z standard deviations and by at least
// MinExcess events, and closes once every metric has stayed under a lower
// bar for CloseAfter. Expected counts never fall below the floors, so a
// fresh install with no baseline still works. Minutes inside a campaign are
// not learned, so an attack does not teach the baseline to accept it.
package campaign

import (
	"encoding/json"
	"fmt"
	"math"
	"sync"
	"time"
)

// Metric indexes the site-wide rates watched.
type Metric int

// The metrics watched.
const (
	Failures Metric = iota
	UnknownAccounts
	UnfamiliarSuccesses
	numMetrics
)

var metricNames = [numMetrics]string{"login failures", "unknown-account failures", "successes from unfamiliar contexts"}

func (m Metric) String() string {
	if m < 0 || m >= numMetrics {
		return fmt.Sprintf("metric(%d)", int(m))
	}
	return metricNames[m]
}

// Config tunes the detector. Zero fields take the values of Defaults.
type Config struct {
	Window     time.Duration `yaml:"window"`      // span of the current rate (default 1m)
	Z          float64       `yaml:"z"`           // standard deviations above the baseline to open (default 6)
	MinExcess  float64       `yaml:"min_excess"`  // events above the expected count to open (default 10)
	CloseZ     float64       `yaml:"close_z"`     // standard deviations under which a metric has settled (default 3)
	CloseAfter time.Duration `yaml:"close_after"` // settled this long closes the campaign (default 10m)
	Alpha      float64       `yaml:"alpha"`       // learning rate of the baseline per minute (default 0.02)
	Learn      time.Duration `yaml:"learn"`       // minutes of traffic learned before any campaign opens (default 15m)
	// Floors are the lowest expected rates per minute, in metric order.
	Floors [numMetrics]float64 `yaml:"floors"`
}

// Defaults returns the default configuration.
func Defaults() Config {
	return Config{
		Window: time.Minute, Z: 6, MinExcess: 10, CloseZ: 3, CloseAfter: 10 * time.Minute,
		Alpha: 0.02, Learn: 15 * time.Minute, Floors: [numMetrics]float64{1, 0.5, 0.5},
	}
}

func (c Config) withDefaults() Config {
	d := Defaults()
	if c.Window <= 0 {
		c.Window = d.Window
	}
	if c.Z <= 0 {
		c.Z = d.Z
	}
	if c.MinExcess <= 0 {
		c.MinExcess = d.MinExcess
	}
	if c.CloseZ <= 0 {
		c.CloseZ = d.CloseZ
	}
	if c.CloseAfter <= 0 {
		c.CloseAfter = d.CloseAfter
	}
	if c.Alpha <= 0 || c.Alpha >= 1 {
		c.Alpha = d.Alpha
	}
	if c.Learn <= 0 {
		c.Learn = d.Learn
	}
	for i := range c.Floors {
		if c.Floors[i] <= 0 {
			c.Floors[i] = d.Floors[i]
		}
	}
	return c
}

// Obs is one login outcome.
type Obs struct {
	Failed              bool
	Unknown             bool // failed for an account that does not exist
	UnfamiliarSucceeded bool // correct password from a context the account never used
}

// State is the detector's answer after an observation.
type State struct {
	Active   bool
	Opened   bool      // this observation opened the campaign
	Closed   bool      // this observation closed one (Active is false)
	Since    time.Time // start of the active (or just closed) campaign
	Until    time.Time // end of a just closed campaign
	Metric   Metric    // what opened it
	Observed float64   // its count in the window when it opened
	Expected float64
}

const (
	slots       = 12   // buckets per window
	hourLearned = 30   // minutes learned before an hour's own baseline is used
	globalAlpha = 0.05 // learning rate of the all-hours baseline
)

type ewma struct {
	Mean float64 `json:"m"`
	Var  float64 `json:"v"`
	N    int64   `json:"n"`
}

func (e *ewma) add(x, alpha float64) {
	if e.N == 0 {
		e.Mean, e.N = x, 1
		return
	}
	d := x - e.Mean
	e.Mean += alpha * d
	e.Var = (1 - alpha) * (e.Var + alpha*d*d)
	e.N++
}

// Detector is the population-level campaign detector. It is safe for
// concurrent use.
type Detector struct {
	cfg  Config
	slot int64 // bucket width in nanoseconds

	mu        sync.Mutex
	buckets   [slots]bucket
	minute    int64 // the minute being counted (Unix minutes)
	minuteSum [numMetrics]float64
	baseline  [24][numMetrics]ewma
	global    [numMetrics]ewma // all hours, for hours not learned yet
	active    bool
	since     time.Time
	lastHot   time.Time
	opened    State
}

type bucket struct {
	idx int64 // Unix time / slot width
	n   [numMetrics]float64
}

// New returns a detector with cfg (zero fields take defaults).
func New(cfg Config) *Detector {
	cfg = cfg.withDefaults()
	return &Detector{cfg: cfg, slot: max(int64(cfg.Window)/slots, 1)}
}

// nanos returns now in Unix nanoseconds, clamped to [0, MaxInt64]: a time
// outside that range (the zero time, the year 2999) would otherwise wrap
// around to a negative bucket or minute.
func nanos(now time.Time) int64 {
	switch {
	case now.Before(time.Unix(0, 0)):
		return 0
	case now.After(time.Unix(0, math.MaxInt64)):
		return math.MaxInt64
	}
	return now.UnixNano()
}

// Observe counts one login outcome at now and returns the campaign state.
func (d *Detector) Observe(now time.Time, o Obs) State {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.advanceLocked(now)
	var inc [numMetrics]float64
	if o.Failed || o.Unknown {
		inc[Failures] = 1
	}
	if o.Unknown {
		inc[UnknownAccounts] = 1
	}
	if o.UnfamiliarSucceeded {
		inc[UnfamiliarSuccesses] = 1
	}
	b := d.bucketLocked(now)
	for i := range inc {
		b.n[i] += inc[i]
		d.minuteSum[i] += inc[i]
	}
	return d.evaluateLocked(now)
}

// Tick moves the detector to now without an observation, so a campaign
// closes when traffic stops.
func (d *Detector) Tick(now time.Time) State {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.advanceLocked(now)
	return d.evaluateLocked(now)
}

// Rate is one metric's current count over the window and what the
// baseline expects.
type Rate struct {
	Metric   string  `json:"metric"`
	Observed float64 `json:"observed"`
	Expected float64 `json:"expected"`
	Open     float64 `json:"open_at"` // count that opens a campaign
}

// Rates returns the current rates, for metrics and the dashboard.
func (d *Detector) Rates(now time.Time) []Rate {
	d.mu.Lock()
	defer d.mu.Unlock()
	counts := d.windowLocked(now)
	out := make([]Rate, numMetrics)
	for m := Metric(0); m < numMetrics; m++ {
		exp, sd := d.expectedLocked(now, m)
		out[m] = Rate{Metric: m.String(), Observed: counts[m], Expected: exp, Open: exp + math.Max(d.cfg.Z*sd, d.cfg.MinExcess)}
	}
	return out
}

func (d *Detector) bucketLocked(now time.Time) *bucket {
	idx := nanos(now) / d.slot // never negative
	b := &d.buckets[idx%slots]
	if b.idx != idx {
		*b = bucket{idx: idx}
	}
	return b
}

func (d *Detector) windowLocked(now time.Time) [numMetrics]float64 {
	var sum [numMetrics]float64
	cur := nanos(now) / d.slot
	for _, b := range d.buckets {
		if b.idx > cur-slots && b.idx <= cur {
			for i := range sum {
				sum[i] += b.n[i]
			}
		}
	}
	return sum
}

// advanceLocked feeds finished minutes into the baseline.
func (d *Detector) advanceLocked(now time.Time) {
	m := nanos(now) / int64(time.Minute)
	if d.minute == 0 {
		d.minute = m
		return
	}
	if m < d.minute-24*60 {
		// Over a day back: the minute counted was an absurd time (the
		// clock jumped far ahead, then came back); count from now on,
		// or no minute would be learned until time caught up with it.
		d.minute, d.minuteSum = m, [numMetrics]float64{}
		return
	}
	if m <= d.minute {
		return
	}
	if !d.active {
		d.learnLocked(d.minute, d.minuteSum)
		// Minutes with no login at all are part of the baseline too;
		// a gap of over a day is not learned minute by minute.
		for q := d.minute + 1; q < m && q < d.minute+24*60; q++ {
			d.learnLocked(q, [numMetrics]float64{})
		}
	}
	d.minute = m
	d.minuteSum = [numMetrics]float64{}
}

func (d *Detector) learnLocked(minute int64, counts [numMetrics]float64) {
	h := (minute / 60) % 24
	for i := range counts {
		d.baseline[h][i].add(counts[i], d.cfg.Alpha)
		d.global[i].add(counts[i], globalAlpha)
	}
}

// expectedLocked returns the expected count over one window at now and
// its standard deviation.
func (d *Detector) expectedLocked(now time.Time, m Metric) (float64, float64) {
	w := d.cfg.Window.Minutes()
	e := d.baseline[now.UTC().Hour()][m]
	if e.N < hourLearned {
		e = d.global[m]
	}
	perMin := math.Max(e.Mean, d.cfg.Floors[m])
	exp := perMin * w
	// Poisson spread, or the learned spread when traffic is burstier.
	sd := math.Max(math.Sqrt(exp), math.Sqrt(e.Var)*math.Sqrt(w))
	return exp, sd
}

// learningLocked reports whether too little traffic has been seen yet to
// open a campaign.
func (d *Detector) learningLocked() bool {
	return d.global[0].N < int64(d.cfg.Learn/time.Minute)
}

func (d *Detector) evaluateLocked(now time.Time) State {
	counts := d.windowLocked(now)
	learning := d.learningLocked()
	hot := false
	for m := Metric(0); m < numMetrics; m++ {
		exp, sd := d.expectedLocked(now, m)
		excess := counts[m] - exp
		if !d.active && !learning && excess >= math.Max(d.cfg.Z*sd, d.cfg.MinExcess) {
			d.active, d.since, d.lastHot = true, now, now
			d.opened = State{Active: true, Opened: true, Since: now, Metric: m, Observed: counts[m], Expected: exp}
			return d.opened
		}
		if excess >= math.Max(d.cfg.CloseZ*sd, d.cfg.MinExcess/4) {
			hot = true
		}
	}
	if !d.active {
		return State{}
	}
	if hot && now.After(d.lastHot) {
		d.lastHot = now
	}
	if now.Sub(d.lastHot) >= d.cfg.CloseAfter {
		d.active = false
		st := d.opened
		st.Active, st.Opened, st.Closed, st.Until = false, false, true, d.lastHot
		return st
	}
	st := d.opened
	st.Opened = false
	return st
}

type snapshot struct {
	Baseline [24][numMetrics]ewma `json:"baseline"`
	Global   [numMetrics]ewma     `json:"global"`
	Active   bool                 `json:"active"`
	Since    time.Time            `json:"since"`
	LastHot  time.Time            `json:"last_hot"`
	Opened   State                `json:"opened"`
	// The window's counts and the minute being counted, so that a restart
	// goes on counting where the snapshot stopped (absent from snapshots
	// of older versions: the window restarts empty).
	Buckets   []savedBucket       `json:"buckets,omitempty"`
	Minute    int64               `json:"minute,omitempty"`
	MinuteSum [numMetrics]float64 `json:"minute_sum"`
}

type savedBucket struct {
	Slot   int                 `json:"slot"`
	Idx    int64               `json:"idx"`
	Counts [numMetrics]float64 `json:"n"`
}

// Snapshot encodes the learned baseline, the window's counts and the
// campaign state, to be restored after a restart.
func (d *Detector) Snapshot() ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := snapshot{Baseline: d.baseline, Global: d.global, Active: d.active, Since: d.since, LastHot: d.lastHot,
		Opened: d.opened, Minute: d.minute, MinuteSum: d.minuteSum}
	for i, b := range d.buckets {
		if b.idx != 0 {
			s.Buckets = append(s.Buckets, savedBucket{Slot: i, Idx: b.idx, Counts: b.n})
		}
	}
	return json.Marshal(s)
}

// Restore loads a snapshot taken by Snapshot.
func (d *Detector) Restore(data []byte) error {
	var s snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("decoding campaign snapshot: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.baseline, d.global, d.active, d.since, d.lastHot, d.opened = s.Baseline, s.Global, s.Active, s.Since, s.LastHot, s.Opened
	d.minute, d.minuteSum, d.buckets = s.Minute, s.MinuteSum, [slots]bucket{}
	for _, b := range s.Buckets {
		if b.Slot >= 0 && b.Slot < slots {
			d.buckets[b.Slot] = bucket{idx: b.Idx, n: b.Counts}
		}
	}
	return nil
}
