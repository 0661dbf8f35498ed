// Package logreplay replays a shop's existing logs — access logs or JSON
// lines of an auth log — through the engine on event time, and reports
// the campaigns they hold, their sources and the logins they reached.
package logreplay

import (
	"cmp"
	"context"
	"crypto/rand"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/signal/source"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
)

// NoPages is the client fingerprint of a login from an IP that loaded no
// page or asset in the browse window before it: a client that only posts
// to the form. The engine's fingerprint window counts them all together.
const NoPages = "no-pages"

// replayRules are added to the built-in policy for a replay: a failed
// login from a client that loads no pages while such clients fail en masse
// marks its IP as a campaign source (live, the shop's own view of its
// clients would do that; a failed login needs no decision).
const replayRules = `
  - id: replay-no-pages-failing
    description: (replay) A failed login from a client that loaded no pages, while such clients fail en masse, marks its source.
    when: Event.Failed && Fingerprint.Failures10m >= 50 && Fingerprint.UnknownRatio >= 0.3
    decision: deny
    risk: 70
    reasons: [source.fingerprint_velocity]
`

// ReplayPolicy returns the built-in policy with the replay's rules.
func ReplayPolicy() (*policy.Policy, error) {
	p, err := policy.Parse(append(policy.DefaultYAML(), replayRules...))
	if err != nil {
		return nil, fmt.Errorf("replay policy: %w", err)
	}
	return p, nil
}

// Options tune a run besides its configuration.
type Options struct {
	Policy  *policy.Policy // nil: ReplayPolicy
	Workers int            // parsers; 0: one per core
	// Progress, when set, is told the raw bytes read and the lines
	// replayed, from the replaying goroutine.
	Progress func(bytes, lines int64)
	// Key is the secret for keyed hashes; nil: a random one. With Into,
	// the guard's own key.
	Key []byte
	// Into, when set, is a guard's store the replay warms: see Guard.
	Into Guard
}

// maxBatch is the most events assessed in one engine call.
const maxBatch = 256

// Run replays the inputs in one pass and returns the report.
func Run(ctx context.Context, cfg Config, ins []Input, opt Options) (*Report, error) {
	start := time.Now()
	m, err := newMapper(cfg)
	if err != nil {
		return nil, err
	}
	r, err := newReplayer(cfg, opt)
	if err != nil {
		return nil, err
	}
	ins = sortInputs(ins, m)
	for _, in := range ins {
		r.rep.Inputs = append(r.rep.Inputs, in.Name)
	}
	workers := opt.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	var read atomic.Int64 // raw bytes, set by the reading goroutine
	progress := func(n int64) { read.Store(n) }
	err = pipeline(ctx, ins, m, workers, func(c *chunk) error {
		if err := r.chunk(ctx, c, ins[c.input].Name); err != nil {
			return err
		}
		if opt.Progress != nil {
			opt.Progress(read.Load(), r.rep.Lines)
		}
		return nil
	}, progress)
	if err != nil {
		return nil, err
	}
	if err := r.finish(ctx); err != nil {
		return nil, err
	}
	r.rep.Elapsed = time.Since(start).Round(time.Millisecond).String()
	if s := time.Since(start).Seconds(); s > 0 {
		r.rep.LinesPerSecond = int64(float64(r.rep.Lines) / s)
	}
	return r.rep, nil
}

// replayer is the ordered half of a run: it restores time order within
// the slack and feeds the engine.
type replayer struct {
	cfg    Config
	eng    *engine.Engine
	st     *memory.Store
	warm   bool // save the baselines into the guard (Options.Into)
	browse *browseTracker
	rep    *Report
	tl     timeline

	q        queue
	logTime  *logTime
	maxT     time.Time // latest line time seen
	lastT    time.Time // time of the last line replayed
	lateRun  bool      // the previous line was late beyond the slack
	lastTick time.Time

	batch []event.Event
	srcs  map[netip.Addr]*Source
	// unlisted counts the distinct sources named past MaxListed.
	unlisted *hyperloglog.Sketch
}

func newReplayer(cfg Config, opt Options) (*replayer, error) {
	pol := opt.Policy
	if pol == nil {
		var err error
		if pol, err = ReplayPolicy(); err != nil {
			return nil, err
		}
	}
	key := opt.Key
	if key == nil {
		key = make([]byte, 32)
		rand.Read(key)
	}
	st := memory.New()
	var records engine.Records = st
	var writer engine.Writer = sink{st}
	if opt.Into != nil {
		if opt.Key == nil {
			return nil, fmt.Errorf("warming a guard: its secret key is needed")
		}
		records, writer = warm{Store: st, guard: opt.Into}, warmSink{mem: sink{st}, guard: opt.Into}
	}
	lt := &logTime{}
	eng, err := engine.New(cfg.Engine, engine.Deps{
		Clock: clock.New(clock.Event, lt.now), Policy: pol, Records: records, Writer: writer, Key: key,
		Breached: engine.NoBreachCheck{},
	})
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	return &replayer{
		cfg: cfg, eng: eng, st: st, warm: opt.Into != nil, browse: newBrowseTracker(cfg.Browse), logTime: lt,
		rep:  &Report{Format: cfg.Format, Events: map[string]int64{}},
		srcs: map[netip.Addr]*Source{}, unlisted: hyperloglog.New14(),
	}, nil
}

// logTime is the replay's wall clock: the latest line time read. A live
// guard's event clock takes no event time more than a few minutes past
// the wall time (one absurd timestamp must not drag every window to the
// year 2999); a replay's present is its logs' own time, so logs that run
// past the machine's clock (generated logs, a server's clock set ahead)
// replay as they are instead of freezing the engine's time at today.
// Before the first line it is the machine's clock.
type logTime struct{ ns atomic.Int64 }

func (l *logTime) set(t time.Time) { l.ns.Store(t.UnixNano()) }

func (l *logTime) now() time.Time {
	if ns := l.ns.Load(); ns != 0 {
		return time.Unix(0, ns)
	}
	return time.Now()
}

// sink writes what a replay learns into the memory store, leaving out
// what grows with every event and is not reported (audit, challenges,
// reviews, notifications).
type sink struct{ st *memory.Store }

func (s sink) Write(ctx context.Context, b store.Batch) error {
	b.Audit, b.Challenges, b.Reviews, b.Notifications, b.Contacts = nil, nil, nil, nil, nil
	return s.st.Write(ctx, b)
}

// maxExamples is how many malformed lines and clock jumps are quoted.
const maxExamples = 5

// chunk replays one parsed chunk.
func (r *replayer) chunk(ctx context.Context, c *chunk, input string) error {
	for i := range c.items {
		it := &c.items[i]
		r.rep.Lines++
		switch it.kind {
		case kindSkip:
			continue
		case kindMalformed:
			r.rep.Malformed++
			if len(r.rep.MalformedExamples) < maxExamples {
				r.rep.MalformedExamples = append(r.rep.MalformedExamples, Example{
					Input: input, Line: c.firstLine + int64(i), Text: truncate(it.line, 300), Error: it.err.Error(),
				})
			}
			continue
		}
		if err := r.push(ctx, it, input, c.firstLine+int64(i)); err != nil {
			return err
		}
	}
	return nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n] + "…"
	}
	return strings.Clone(s)
}

// maxQueued bounds the reorder queue whatever the slack.
const maxQueued = 1 << 20

// push queues a line in time order and replays the lines the slack lets go.
func (r *replayer) push(ctx context.Context, it *item, input string, line int64) error {
	t := it.t
	switch {
	case r.maxT.IsZero() || t.After(r.maxT):
		r.maxT, r.lateRun = t, false
		r.logTime.set(t)
	case r.maxT.Sub(t) > r.cfg.Slack:
		// Older than the slack allows: the clock jumped back. Report it
		// and replay the line at the time reached, so the engine's time
		// never runs backwards.
		r.rep.LateLines++
		if !r.lateRun {
			r.rep.ClockJumps++
			if len(r.rep.Jumps) < maxExamples {
				r.rep.Jumps = append(r.rep.Jumps, Jump{Input: input, Line: line, From: r.maxT, To: t})
			}
		}
		r.lateRun = true
		t = r.lastT
	default:
		r.lateRun = false
	}
	if t.Before(r.lastT) {
		t = r.lastT
	}
	r.q.push(queued{t: t.UnixNano(), it: it})
	horizon := r.maxT.Add(-r.cfg.Slack).UnixNano()
	for r.q.len() > 0 && (r.q.front().t < horizon || r.q.len() > maxQueued) {
		if err := r.replay(ctx, r.q.pop()); err != nil {
			return err
		}
	}
	return nil
}

// replay hands one line, in time order, to the browse tracker or the
// engine.
func (r *replayer) replay(ctx context.Context, q queued) error {
	it := q.it
	if r.rep.zone == nil {
		r.rep.zone = it.t.Location()
	}
	t := time.Unix(0, q.t).In(r.rep.zone)
	r.lastT = t
	if r.rep.From.IsZero() {
		r.rep.From = t
	}
	r.rep.To = t
	if it.kind == kindBrowse {
		r.rep.Browse++
		r.browse.mark(it.ip, t)
		return nil
	}
	ev := *it.ev
	ev.OccurredAt = t
	if !r.cfg.IsJSON() && !r.browse.seen(it.ip, t) {
		ev.Context.ClientFingerprint = NoPages
	}
	r.rep.Events[string(ev.Type)]++
	r.batch = append(r.batch, ev)
	if len(r.batch) >= maxBatch {
		return r.assess(ctx)
	}
	return nil
}

// assess runs the batch through the engine and keeps what the report
// needs from each answer.
func (r *replayer) assess(ctx context.Context) error {
	if len(r.batch) == 0 {
		return nil
	}
	res, err := r.eng.AssessBatch(ctx, r.batch)
	if err != nil {
		return fmt.Errorf("assessing events: %w", err)
	}
	for i := range r.batch {
		r.observe(&r.batch[i], &res[i])
	}
	last := r.batch[len(r.batch)-1].OccurredAt
	r.batch = r.batch[:0]
	if last.Sub(r.lastTick) >= time.Minute {
		r.lastTick = last
		if err := r.eng.Tick(ctx); err != nil {
			return fmt.Errorf("moving the engine's clock: %w", err)
		}
	}
	return nil
}

// sourceReason reports whether a decision names its source: the IP, its
// network, its client or its user agent looked like an attack's.
func sourceReason(res *engine.Result) bool {
	for _, rs := range res.Reasons {
		if strings.HasPrefix(rs.Code, "source.") || strings.HasPrefix(rs.Code, "bot.") {
			return true
		}
	}
	return false
}

// observe keeps what the report needs of one assessed event.
func (r *replayer) observe(ev *event.Event, res *engine.Result) {
	succeeded, failed := ev.Type == event.LoginSucceeded, ev.Type == event.LoginFailed
	if !succeeded && !failed {
		return
	}
	flagged := sourceReason(res)
	r.tl.add(ev.OccurredAt, succeeded, flagged)
	if flagged {
		r.flagSource(ev, res, succeeded)
	}
	if !succeeded || res.IncidentID == "" {
		return
	}
	if !flagged {
		r.rep.OtherIncidentSuccesses++
		return
	}
	if len(r.rep.Logins) >= r.cfg.MaxListed {
		r.rep.LoginsOverflow++
		return
	}
	l := Login{
		Time: ev.OccurredAt, IP: ev.Context.IP.String(), UserAgent: ev.Context.UserAgent, Login: ev.Login,
		Incident: res.IncidentID, Decision: string(res.Decision),
	}
	for _, rs := range res.Reasons {
		l.Reasons = append(l.Reasons, rs.Code)
	}
	r.rep.Logins = append(r.rep.Logins, l)
}

// flagSource counts a login from a source the engine named.
func (r *replayer) flagSource(ev *event.Event, res *engine.Result, succeeded bool) {
	ip := ev.Context.IP
	s, ok := r.srcs[ip]
	if !ok {
		if len(r.srcs) >= r.cfg.MaxListed {
			b := ip.As16()
			r.unlisted.Insert(b[:])
			return
		}
		s = &Source{IP: ip.String(), Prefix: source.Prefix(ip).String(), First: ev.OccurredAt, Incident: res.IncidentID}
		for _, rs := range res.Reasons {
			if strings.HasPrefix(rs.Code, "source.") || strings.HasPrefix(rs.Code, "bot.") {
				s.Reason = rs.Code
				break
			}
		}
		r.srcs[ip] = s
	}
	s.Attempts++
	if succeeded {
		s.Successes++
	}
	s.Last = ev.OccurredAt
}

// finish replays what is queued and gathers the report.
func (r *replayer) finish(ctx context.Context) error {
	for r.q.len() > 0 {
		if err := r.replay(ctx, r.q.pop()); err != nil {
			return err
		}
	}
	if err := r.assess(ctx); err != nil {
		return err
	}
	if err := r.eng.Tick(ctx); err != nil {
		return fmt.Errorf("moving the engine's clock: %w", err)
	}
	if err := r.eng.Flush(ctx); err != nil {
		return fmt.Errorf("writing open incidents: %w", err)
	}
	if r.warm {
		if err := r.eng.Save(ctx); err != nil {
			return fmt.Errorf("saving the baselines: %w", err)
		}
	}
	incs, err := r.st.ListIncidents(ctx, "")
	if err != nil {
		return fmt.Errorf("listing incidents: %w", err)
	}
	slices.SortFunc(incs, func(a, b store.Incident) int { return a.StartedAt.Compare(b.StartedAt) })
	logins := map[string]int{}
	for _, l := range r.rep.Logins {
		logins[l.Incident]++
	}
	for _, inc := range incs {
		ri := Incident{
			ID: inc.ID, Kind: inc.Kind, State: inc.State, Start: inc.StartedAt, End: inc.EndedAt,
			Attempts: inc.Attempts, DistinctIPs: inc.DistinctIPs, DistinctPrefixes: inc.DistinctPrefixes,
			AccountsTargeted: inc.AccountsTargeted, AccountsCompromised: inc.AccountsCompromised,
			TopSources: inc.TopSources, SuccessfulLogins: logins[inc.ID],
		}
		if !r.cfg.IsJSON() {
			ri.AccountsTargeted, ri.AccountsCompromised = 0, 0 // an access log names no accounts
		} else {
			accts, err := r.st.ListIncidentAccounts(ctx, inc.ID)
			if err != nil {
				return fmt.Errorf("listing the accounts of %s: %w", inc.ID, err)
			}
			for _, a := range accts {
				if a.Known && a.Outcome != "failed" && len(r.rep.Accounts) < r.cfg.MaxListed {
					r.rep.Accounts = append(r.rep.Accounts, Account{
						Incident: a.IncidentID, Account: a.Account, Outcome: a.Outcome, Attempts: a.Attempts,
						FirstSeen: a.FirstSeen, LastSeen: a.LastSeen,
					})
				}
			}
		}
		r.rep.Incidents = append(r.rep.Incidents, ri)
	}
	for _, s := range r.srcs {
		r.rep.Sources = append(r.rep.Sources, *s)
	}
	r.rep.SourcesOverflow = int64(r.unlisted.Estimate())
	slices.SortFunc(r.rep.Sources, func(a, b Source) int {
		return cmp.Or(cmp.Compare(b.Attempts, a.Attempts), strings.Compare(a.IP, b.IP))
	})
	r.rep.Timeline, r.rep.Step = r.tl.points()
	return nil
}

// queued is a line waiting in the reorder queue.
type queued struct {
	t  int64 // Unix nanoseconds
	it *item
}

// queue holds lines in time order, then arrival order. Logs are nearly
// in order, so a line is inserted from the back, moving past the few
// later ones, and lines leave from the front.
type queue struct {
	buf  []queued
	head int
}

func (q *queue) len() int       { return len(q.buf) - q.head }
func (q *queue) front() *queued { return &q.buf[q.head] }

func (q *queue) push(x queued) {
	q.buf = append(q.buf, x)
	i := len(q.buf) - 1
	for i > q.head && q.buf[i-1].t > x.t {
		q.buf[i] = q.buf[i-1]
		i--
	}
	q.buf[i] = x
}

func (q *queue) pop() queued {
	x := q.buf[q.head]
	q.buf[q.head] = queued{}
	q.head++
	if q.head > 1024 && q.head > len(q.buf)/2 {
		n := copy(q.buf, q.buf[q.head:])
		clear(q.buf[n:])
		q.buf, q.head = q.buf[:n], 0
	}
	return x
}

// browseTracker remembers when each IP last loaded a page or asset, in
// two generations of one window each, so memory holds only the IPs of
// the last two windows (and at most MaxIPs).
type browseTracker struct {
	window    time.Duration
	max       int
	cur, prev map[netip.Addr]int64 // unix seconds
	since     time.Time            // start of cur
}

func newBrowseTracker(b Browse) *browseTracker {
	return &browseTracker{window: b.Window, max: b.MaxIPs, cur: map[netip.Addr]int64{}, prev: map[netip.Addr]int64{}}
}

func (b *browseTracker) mark(ip netip.Addr, t time.Time) {
	if b.since.IsZero() {
		b.since = t
	}
	if t.Sub(b.since) >= b.window || len(b.cur) >= b.max/2 {
		b.prev, b.cur, b.since = b.cur, make(map[netip.Addr]int64, len(b.cur)), t
	}
	b.cur[ip] = t.Unix()
}

func (b *browseTracker) seen(ip netip.Addr, t time.Time) bool {
	last, ok := b.cur[ip]
	if !ok {
		last, ok = b.prev[ip]
	}
	return ok && t.Unix()-last <= int64(b.window/time.Second)
}
