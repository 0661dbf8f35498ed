// Package campaign detects credential-stuffing campaigns from site-wide
// login rates (failures, failures for unknown accounts, successes from
// unfamiliar contexts) compared with a baseline learned online for each
// hour of the day.
//
// Two tests open a campaign, both judging the mix of the traffic (each
// metric's share of all logins) as well as its volume, so that a surge of
// real owners (a launch, a sale: more logins of the usual mix) opens none:
//
//   - the one-minute test: the count of a metric over the last Window
//     exceeds its expected count by Z standard deviations and by at least
//     MinExcess events, and exceeds by as much what its learned share of
//     the window's logins predicts;
//   - the strangers test (strangers.go): a Poisson CUSUM over finished
//     minutes on the correct passwords from contexts that match nothing
//     the account and the shop know, by class of strangeness, against
//     each class's learned share of the logins: a crew with a pre-checked
//     list, which fails nothing, a handful of strangers an hour;
//   - the sequential test: a Poisson CUSUM per metric over finished
//     minutes, of the log-likelihood ratio of "the metric runs Delta per
//     minute (or Shift times) above its learned share of that minute's
//     logins" against "it runs at its share". It accumulates a small,
//     persistent excess (a slow crew trying a few logins a minute for
//     hours) that no single minute shows, and opens at H.
//
// A campaign closes once every metric has stayed under a lower bar for
// CloseAfter (the one-minute counts under CloseZ, and no minute moved a
// CUSUM over H/2 by H/4).
// Expected counts never fall below the floors, so a fresh install with no
// baseline still works; the sequential test waits for Learn minutes of
// traffic. Minutes inside a campaign are not learned, so an attack does not
// teach the baseline to accept it.
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

// Strangers is what the strangers test watches: correct passwords from
// strangers (see Stranger). It is not one of the rates of Rates.
const Strangers = numMetrics

var metricNames = [numMetrics]string{"login failures", "unknown-account failures", "successes from unfamiliar contexts"}

func (m Metric) String() string {
	if m == Strangers {
		return "correct passwords from strangers"
	}
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
	// The sequential test: H is the CUSUM that opens (default 12); Delta
	// the smallest excess per minute it looks for, in metric order
	// (default 1, 0.5, 0.15); Shift the relative excess it looks for when
	// that is larger (default 1: twice the share).
	H     float64             `yaml:"h"`
	Delta [numMetrics]float64 `yaml:"delta"`
	Shift float64             `yaml:"shift"`
	// PeerWeight is what a login from a source another shop's guard saw
	// in a campaign (Obs.Peer) counts for in every metric (default 4), so
	// that a crew a peer reported opens a campaign here after a few
	// attempts instead of a minute of them.
	PeerWeight float64 `yaml:"peer_weight"`
}

// Defaults returns the default configuration.
func Defaults() Config {
	return Config{
		Window: time.Minute, Z: 6, MinExcess: 10, CloseZ: 3, CloseAfter: 10 * time.Minute,
		Alpha: 0.02, Learn: 15 * time.Minute, Floors: [numMetrics]float64{1, 0.5, 0.5},
		H: 12, Delta: [numMetrics]float64{1, 0.5, 0.15}, Shift: 1, PeerWeight: 4,
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
		if c.Delta[i] <= 0 {
			c.Delta[i] = d.Delta[i]
		}
	}
	if c.H <= 0 {
		c.H = d.H
	}
	if c.Shift <= 0 {
		c.Shift = d.Shift
	}
	if c.PeerWeight <= 0 {
		c.PeerWeight = d.PeerWeight
	}
	return c
}

// Obs is one login outcome.
type Obs struct {
	Failed              bool
	Succeeded           bool // a correct password (first logins are judged among them)
	Unknown             bool // failed for an account that does not exist
	UnfamiliarSucceeded bool // correct password from a context the account never used
	// Stranger classes a correct password for the strangers test
	// (StrangerOf); NotStranger for every other login.
	Stranger Stranger
	// Peer: the login came from a network prefix or fingerprint a peer's
	// campaign used (federation); it counts Config.PeerWeight times.
	Peer bool
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
	// Sequential: the sequential test opened it (a small excess that
	// lasted), not the one-minute one.
	Sequential bool
	// Strangers: the strangers test stands high while the campaign is
	// open: more correct passwords from strangers than the owners bring.
	Strangers bool
	// FirstLogins: while the campaign is open, first logins (accounts
	// with no good session on record) from networks no account of the
	// shop is known on ran over the last hour well beyond what the owners
	// bring: the campaign gets into accounts that have no history to
	// tell a stranger by.
	FirstLogins bool
}

const (
	slots       = 12    // buckets per window
	hourLearned = 30    // minutes learned before an hour's own baseline is used
	globalAlpha = 0.05  // learning rate of the all-hours baseline
	shareAlpha  = 0.002 // learning rate of the all-hours mix, per minute (about 8 hours)
	sharePrior  = 200   // logins of the all-hours mix an hour's own mix is weighed against
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

	mu          sync.Mutex
	buckets     [slots]bucket
	minute      int64 // the minute being counted (Unix minutes)
	minuteSum   [numMetrics]float64
	minuteTotal float64 // logins in the minute being counted
	baseline    [24][numMetrics]ewma
	global      [numMetrics]ewma // all hours, for hours not learned yet
	// shares holds, per hour and for all hours (index 24), the decayed
	// counts of each metric and of all logins (index numMetrics): the
	// learned mix of the traffic.
	shares   [25][numMetrics + 1]float64
	cusum    [numMetrics]float64
	str      strangers // the strangers test (strangers.go)
	seqHotAt time.Time // end of the last minute that kept the sequential test hot
	active   bool
	since    time.Time
	lastHot  time.Time
	opened   State
}

type bucket struct {
	idx   int64 // Unix time / slot width
	n     [numMetrics]float64
	total float64
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
	if o.Peer {
		for i := range inc {
			inc[i] *= d.cfg.PeerWeight
		}
	}
	b := d.bucketLocked(now)
	for i := range inc {
		b.n[i] += inc[i]
		d.minuteSum[i] += inc[i]
	}
	b.total++
	d.minuteTotal++
	d.str.count(o.Stranger)
	d.str.First.count(o.Stranger == StrangerNoHistory, o.Succeeded)
	return d.evaluateLocked(now)
}

// Abandoned counts, at now, a challenge asked outside any campaign that
// expired unanswered (see AbandonedChallenge; it is not a login) and
// returns the campaign state: with a few strangers in a language their
// account never used, or a takeover sign, it opens a campaign of
// strangers.
func (d *Detector) Abandoned(now time.Time) State {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.advanceLocked(now)
	d.str.count(AbandonedChallenge)
	return d.evaluateLocked(now)
}

// Sign counts a takeover sign at now (see TakeoverSign; it is not a
// login) and returns the campaign state: enough of them open a campaign
// of strangers (signs.go).
func (d *Detector) Sign(now time.Time) State {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.advanceLocked(now)
	d.str.count(TakeoverSign)
	// The aftermath of a campaign that closed within the signs' window
	// (its crew's last challenges expiring, its takeovers' contact
	// changes) is that campaign's, not a new one.
	if d.active || d.lastHot.IsZero() || now.Sub(d.lastHot) >= signsWindow {
		d.str.Signs.add(now)
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

// Rate is where one of the detector's tests stands on one metric: for the
// one-minute test (Rates), the metric's count over the window, what the
// baseline expects and the count that opens a campaign; for the slower
// tests (Tests), their statistic against their threshold.
type Rate struct {
	Test     string  `json:"test"` // WindowTest, SequentialTest, StrangersTest or FirstLoginsTest
	Metric   string  `json:"metric"`
	Observed float64 `json:"observed"`
	Expected float64 `json:"expected"`
	Open     float64 `json:"open_at"` // the threshold: what opens a campaign (first logins: what is a crew's)
	// Learning: too little traffic has been learned yet for the test to
	// open a campaign (the first minutes of an install; the takeover
	// signs and challenges walked away from wait for a day).
	Learning bool `json:"learning,omitempty"`
}

// The tests a Rate describes.
const (
	// WindowTest: the one-minute test; Observed is the count over the
	// window, Open the count that opens a campaign.
	WindowTest = "window"
	// SequentialTest: a metric's CUSUM (Observed) against H (Open);
	// Expected is 0.
	SequentialTest = "sequential"
	// StrangersTest: the strangers test's CUSUM against its threshold
	// (takeover signs raise it to the threshold); Expected is 0.
	StrangersTest = "strangers"
	// FirstLoginsTest: the last hour's first logins from strangers'
	// networks (decayed), what the owners' learned share of the correct
	// passwords brings, and the count from which they are taken as a
	// crew's (State.FirstLogins). It opens no campaign: it steps up first
	// logins while one is open.
	FirstLoginsTest = "first_logins"
)

// FirstLogins names what the first-logins row of Tests counts.
const FirstLogins = "first logins from strangers' networks"

// Rates returns the one-minute test's current rates, for metrics and the
// dashboard.
func (d *Detector) Rates(now time.Time) []Rate {
	d.mu.Lock()
	defer d.mu.Unlock()
	counts, total := d.windowTotalLocked(now)
	out := make([]Rate, numMetrics)
	for m := Metric(0); m < numMetrics; m++ {
		exp, sd := d.expectedLocked(now, m)
		out[m] = Rate{Test: WindowTest, Metric: m.String(), Observed: counts[m], Expected: exp, Open: exp + d.openExcess(sd, total-counts[m]),
			Learning: d.learningLocked()}
	}
	return out
}

// Tests returns where the slower tests stand, for the dashboard: the
// sequential test of each metric it watches, the strangers test and the
// first logins, as of the last finished minute. It changes nothing.
func (d *Detector) Tests() []Rate {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []Rate
	for m := Metric(0); m < numMetrics; m++ {
		if m == UnfamiliarSuccesses {
			continue // the strangers test's (see cusumLocked)
		}
		out = append(out, Rate{Test: SequentialTest, Metric: m.String(), Observed: d.cusum[m], Open: d.cfg.H, Learning: d.learningLocked()})
	}
	f := &d.str.First
	return append(out,
		Rate{Test: StrangersTest, Metric: Strangers.String(), Observed: d.str.Cusum, Open: d.str.h(d.cfg.H),
			Learning: d.learningLocked() || !d.str.learnedDay()},
		Rate{Test: FirstLoginsTest, Metric: FirstLogins, Observed: f.Recent[0], Expected: f.owners(), Open: f.crewAt()})
}

func (d *Detector) bucketLocked(now time.Time) *bucket {
	idx := nanos(now) / d.slot // never negative
	b := &d.buckets[idx%slots]
	if b.idx != idx {
		*b = bucket{idx: idx}
	}
	return b
}

// windowTotalLocked returns the counts over the window and the logins in it.
func (d *Detector) windowTotalLocked(now time.Time) ([numMetrics]float64, float64) {
	var sum [numMetrics]float64
	total := 0.0
	cur := nanos(now) / d.slot
	for _, b := range d.buckets {
		if b.idx > cur-slots && b.idx <= cur {
			for i := range sum {
				sum[i] += b.n[i]
			}
			total += b.total
		}
	}
	return sum, total
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
		d.minute, d.minuteSum, d.minuteTotal = m, [numMetrics]float64{}, 0
		return
	}
	if m <= d.minute {
		return
	}
	// The sequential test judges the finished minute against the shares
	// learned before it, and the empty minutes after it (a long gap
	// starts it afresh).
	d.cusumLocked(d.minute, d.minuteSum, d.minuteTotal)
	d.strangersLocked(m)
	if m-d.minute > 60 {
		d.cusum = [numMetrics]float64{}
	} else {
		for q := d.minute + 1; q < m; q++ {
			d.cusumLocked(q, [numMetrics]float64{}, 0)
		}
	}
	if !d.active {
		d.learnLocked(d.minute, d.minuteSum, d.minuteTotal)
		// Minutes with no login at all are part of the baseline too;
		// a gap of over a day is not learned minute by minute.
		for q := d.minute + 1; q < m && q < d.minute+24*60; q++ {
			d.learnLocked(q, [numMetrics]float64{}, 0)
		}
	}
	d.minute = m
	d.minuteSum = [numMetrics]float64{}
	d.minuteTotal = 0
	d.str.Minute = [numStrangers]float64{}
}

// strangersLocked feeds the finished minute and the empty minutes up to m
// (now's) to the strangers test, and learns them outside a campaign.
func (d *Detector) strangersLocked(m int64) {
	empty := float64(min(m-d.minute-1, 24*60))
	if !d.learningLocked() {
		d.str.judge(d.str.Minute, d.minuteTotal, d.str.h(d.cfg.H))
		d.str.Cusum = math.Max(d.str.Cusum-empty*d.str.drift(), 0)
	}
	d.str.First.finish(empty, !d.active)
	if !d.active {
		d.str.learn(d.str.Minute, d.minuteTotal)
		d.str.decay(empty)
	}
}

func (d *Detector) learnLocked(minute int64, counts [numMetrics]float64, total float64) {
	h := (minute / 60) % 24
	for i := range counts {
		d.baseline[h][i].add(counts[i], d.cfg.Alpha)
		d.global[i].add(counts[i], globalAlpha)
	}
	for i := range counts {
		d.shares[h][i] = (1-d.cfg.Alpha)*d.shares[h][i] + counts[i]
		d.shares[24][i] = (1-shareAlpha)*d.shares[24][i] + counts[i]
	}
	d.shares[h][numMetrics] = (1-d.cfg.Alpha)*d.shares[h][numMetrics] + total
	d.shares[24][numMetrics] = (1-shareAlpha)*d.shares[24][numMetrics] + total
}

// shareLocked returns metric m's learned share of all logins in hour h,
// drawn towards the all-hours share while the hour has few logins, and
// false when no login has been learned yet.
func (d *Detector) shareLocked(h int, m Metric) (float64, bool) {
	all := d.shares[24]
	if all[numMetrics] < 1 {
		return 0, false
	}
	p := all[m] / all[numMetrics]
	hr := d.shares[h]
	return math.Min((hr[m]+sharePrior*p)/(hr[numMetrics]+sharePrior), 1), true
}

// cusumLocked feeds one finished minute to the sequential test: for each
// metric, the log-likelihood ratio of its count under "Delta per minute
// (or Shift times its share) above its share of the minute's logins"
// against "at its share", accumulated and floored at zero (Page's CUSUM),
// capped at 2H so that it settles within the hour an attack stops.
func (d *Detector) cusumLocked(minute int64, counts [numMetrics]float64, total float64) {
	if d.learningLocked() {
		return
	}
	h := int((minute / 60) % 24)
	for m := Metric(0); m < numMetrics; m++ {
		p, ok := d.shareLocked(h, m)
		if !ok {
			continue
		}
		if m == UnfamiliarSuccesses {
			// Strangers with correct passwords are the strangers
			// test's, which weighs what else of their context is new.
			continue
		}
		lambda0 := math.Max(p*total, 0.01)
		delta := math.Max(d.cfg.Shift*lambda0, d.cfg.Delta[m])
		llr := counts[m]*math.Log1p(delta/lambda0) - delta
		d.cusum[m] = math.Min(math.Max(d.cusum[m]+llr, 0), 2*d.cfg.H)
		// A minute well above its share, while the test is high, keeps
		// a campaign open; owners' stray typos do not.
		if d.cusum[m] >= d.cfg.H/2 && llr >= d.cfg.H/4 {
			d.seqHotAt = time.Unix((minute+1)*60, 0)
		}
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

// mixMovedLocked reports whether a metric's count over the window also
// stands out of its learned share of the window's logins: a surge of real
// owners raises every count with the volume, an attack moves the mix.
// With no share learned yet, the count alone decides.
func (d *Detector) mixMovedLocked(now time.Time, m Metric, count, total float64) bool {
	p, ok := d.shareLocked(now.UTC().Hour(), m)
	if !ok {
		return true
	}
	exp := mixExpected(p, count, total)
	sd := math.Sqrt(math.Max(exp, 1))
	return count-exp >= math.Max(d.cfg.Z*sd, d.cfg.MinExcess)
}

// mixExpected is the count a metric of share p is expected to reach
// among total logins, count of them its own: the odds of the share times
// the other logins, so that an excess under test does not raise its own
// expectation. A metric that is most of the traffic is taken as its share
// of all of it.
func mixExpected(p, count, total float64) float64 {
	if p > 0.5 {
		return p * total
	}
	return p / (1 - p) * math.Max(total-count, 0)
}

// learningLocked reports whether too little traffic has been seen yet to
// open a campaign.
func (d *Detector) learningLocked() bool {
	return d.global[0].N < int64(d.cfg.Learn/time.Minute)
}

// volumeExcess scales the least excess that opens a campaign with the
// square root of the window's other logins: in a big shop the owners'
// own failures cluster (a typo is one or two failures before the
// success, which may fall in the next window) and, at 60,000 accounts,
// a minute of 13 failures among 29 logins, or 16 among 45, came every
// week or two from owners alone. A crew that keeps trying passes it
// seconds later; in a small shop MinExcess stays the bar.
const volumeExcess = 3

// openExcess is the least excess over the expected count that opens a
// campaign, for the expectation's spread sd and the window's other
// logins.
func (d *Detector) openExcess(sd, other float64) float64 {
	return max(d.cfg.Z*sd, d.cfg.MinExcess, volumeExcess*math.Sqrt(max(other, 0)))
}

func (d *Detector) evaluateLocked(now time.Time) State {
	counts, total := d.windowTotalLocked(now)
	learning := d.learningLocked()
	hot := false
	for m := Metric(0); m < numMetrics; m++ {
		exp, sd := d.expectedLocked(now, m)
		excess := counts[m] - exp
		if !d.active && !learning && excess >= d.openExcess(sd, total-counts[m]) && d.mixMovedLocked(now, m, counts[m], total) {
			return d.openLocked(now, State{Metric: m, Observed: counts[m], Expected: exp})
		}
		if excess >= math.Max(d.cfg.CloseZ*sd, d.cfg.MinExcess/4) {
			hot = true
		}
		if d.cusum[m] >= d.cfg.H && !d.active && !learning {
			return d.openLocked(now, State{Metric: m, Observed: counts[m], Expected: exp, Sequential: true})
		}
	}
	if len(d.str.Signs.At) > 1 && d.str.learnedDay() && d.str.Signs.stands(now, d.str.signsExpected) {
		// Takeover signs are the strangers test's evidence too: the
		// campaign they open is one of strangers, and stays one while
		// their correct passwords keep coming.
		d.str.Cusum = math.Max(d.str.Cusum, d.str.h(d.cfg.H))
	}
	if d.str.Cusum >= d.str.h(d.cfg.H) && !d.active && !learning {
		return d.openLocked(now, State{Metric: Strangers, Sequential: true})
	}
	if d.opened.Metric == Strangers && d.str.Cusum >= strangersHot*d.str.h(d.cfg.H) {
		hot = true
	}
	if !d.active {
		return State{}
	}
	return d.keepOrCloseLocked(now, hot)
}

// openLocked opens a campaign at now, opened by what st says.
func (d *Detector) openLocked(now time.Time, st State) State {
	d.active, d.since, d.lastHot = true, now, now
	st.Active, st.Opened, st.Since = true, true, now
	d.opened = st
	return d.withStrangers(d.opened)
}

// keepOrCloseLocked moves the open campaign's last hot moment (hot: the
// one-minute test or the strangers test stands high at now) and closes
// the campaign once it has been quiet long enough.
func (d *Detector) keepOrCloseLocked(now time.Time, hot bool) State {
	if hot && now.After(d.lastHot) {
		d.lastHot = now
	}
	if d.seqHotAt.After(d.lastHot) && !d.seqHotAt.After(now) {
		d.lastHot = d.seqHotAt
	}
	closeAfter := d.cfg.CloseAfter
	if d.opened.Sequential {
		// A small excess that lasted leaves quiet minutes between its
		// attempts: a slow crew is one campaign, not one an hour.
		closeAfter = max(closeAfter, strangersCloseAfter)
	}
	if now.Sub(d.lastHot) >= closeAfter {
		d.active = false
		d.cusum = [numMetrics]float64{}
		d.str.Cusum = 0 // what the campaign brought is its own
		st := d.opened
		st.Active, st.Opened, st.Closed, st.Until = false, false, true, d.lastHot
		return st
	}
	st := d.opened
	st.Opened = false
	return d.withStrangers(st)
}

// withStrangers sets st.Strangers (the strangers test opened the
// campaign and stands high) and st.FirstLogins.
func (d *Detector) withStrangers(st State) State {
	st.Strangers = st.Metric == Strangers && d.str.Cusum >= strangersHot*d.str.h(d.cfg.H)
	st.FirstLogins = d.str.First.excess()
	return st
}

type snapshot struct {
	Baseline [24][numMetrics]ewma        `json:"baseline"`
	Global   [numMetrics]ewma            `json:"global"`
	Shares   [25][numMetrics + 1]float64 `json:"shares"`
	Cusum    [numMetrics]float64         `json:"cusum"`
	Active   bool                        `json:"active"`
	Since    time.Time                   `json:"since"`
	LastHot  time.Time                   `json:"last_hot"`
	Opened   State                       `json:"opened"`
	// The strangers test (absent from snapshots of older versions: it
	// starts afresh).
	Strangers strangers `json:"strangers"`
	// The window's counts and the minute being counted, so that a restart
	// goes on counting where the snapshot stopped (absent from snapshots
	// of older versions: the window restarts empty).
	Buckets     []savedBucket       `json:"buckets,omitempty"`
	Minute      int64               `json:"minute,omitempty"`
	MinuteSum   [numMetrics]float64 `json:"minute_sum"`
	MinuteTotal float64             `json:"minute_total,omitempty"`
}

type savedBucket struct {
	Slot   int                 `json:"slot"`
	Idx    int64               `json:"idx"`
	Counts [numMetrics]float64 `json:"n"`
	Total  float64             `json:"total,omitempty"` // logins counted
}

// Snapshot encodes the learned baseline, the window's counts and the
// campaign state, to be restored after a restart.
func (d *Detector) Snapshot() ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := snapshot{Baseline: d.baseline, Global: d.global, Shares: d.shares, Cusum: d.cusum, Active: d.active, Since: d.since, LastHot: d.lastHot,
		Opened: d.opened, Strangers: d.str, Minute: d.minute, MinuteSum: d.minuteSum, MinuteTotal: d.minuteTotal}
	for i, b := range d.buckets {
		if b.idx != 0 {
			s.Buckets = append(s.Buckets, savedBucket{Slot: i, Idx: b.idx, Counts: b.n, Total: b.total})
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
	d.shares, d.cusum, d.str = s.Shares, s.Cusum, s.Strangers
	d.minute, d.minuteSum, d.minuteTotal, d.buckets = s.Minute, s.MinuteSum, s.MinuteTotal, [slots]bucket{}
	for _, b := range s.Buckets {
		if b.Slot >= 0 && b.Slot < slots {
			d.buckets[b.Slot] = bucket{idx: b.Idx, n: b.Counts, total: b.Total}
		}
	}
	return nil
}
