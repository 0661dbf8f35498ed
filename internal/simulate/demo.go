package simulate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/demoshop"
	"github.com/atoguard/atoguard/internal/traffic"
)

// DemoTarget is a running `atoguard demo`: its shop, which believes
// X-Forwarded-For from loopback, seeded with DemoAccounts(Accounts, Key),
// and its guard on the wall clock behind it.
type DemoTarget struct {
	ShopURL  string
	Accounts int
	Key      []byte
	// Guard reads the guard's incidents (admin scope); nil when no key is
	// at hand, and the run then cannot say when the incident opened.
	Guard *client.Client
	// CampaignReady is when the guard's campaign detector has done
	// learning: the attack does not start before (zero: at once).
	CampaignReady time.Time
	// Profiles is the guard's store, and GuardKey its secret key: the
	// warm-up history teaches the guard the owners' profiles there
	// (WarmProfiles), on the history's own days. Nil: the owners' usual
	// devices log in through the shop instead (see shopWarmup), days of
	// history in seconds of the guard's wall clock, which its campaign
	// detector may take for a crew.
	Profiles GuardProfiles
	GuardKey []byte
}

// DemoConfig configures a live run against a running demo.
type DemoConfig struct {
	Name     string
	Scenario traffic.Scenario
	Target   DemoTarget
	// AttackSpan is the wall time the attack is played in (default 1m):
	// the simulated time runs that much faster than the wall clock.
	AttackSpan time.Duration
	// Before and After are the simulated time of owners' traffic played
	// before the attack starts and after it ends (default 45m and 15m).
	Before, After time.Duration
	Workers       int
	FollowUps     FollowUps
	// Progress receives progress bars (stderr); nil shows none.
	Progress io.Writer
	// Status receives a line when the run waits for the guard (stdout);
	// nil says nothing.
	Status io.Writer
}

// DemoResult is what a run against a demo saw.
type DemoResult struct {
	Summary Summary // the demo's guard, as the shop's pages showed it
	// Speed is how many times faster than the wall clock the simulated
	// time ran.
	Speed float64
	// AttackStart and AttackEnd are the wall times of the attack's first
	// and last simulated minute.
	AttackStart, AttackEnd time.Time
	// Incident is the first incident the guard opened at or after the
	// attack's start (nil: none, or no Guard to ask).
	Incident *client.Incident
	// Asked says whether the guard was asked for its incidents.
	Asked bool
	// AlreadyOpen: no incident opened during the attack because one that
	// earlier traffic opened was still open; Incident is that one.
	AlreadyOpen bool
	// Started is the wall time the run began (its warm-up first), and
	// EvalStart when the warm-up was done and the owners' evaluated
	// traffic began.
	Started, EvalStart time.Time
	// Opened is every incident the guard opened during the run, by start
	// time, the attack's and any other: one that started before the
	// attack is a false incident (see OpenedBefore).
	Opened []client.Incident
	Took   time.Duration
}

// OpenedBefore is the incidents of Opened that started before the attack:
// the owners' traffic opened them.
func (r *DemoResult) OpenedBefore() []client.Incident {
	var out []client.Incident
	for _, inc := range r.Opened {
		if inc.StartedAt.Before(r.AttackStart.Add(-time.Second)) {
			out = append(out, inc)
		}
	}
	return out
}

// DemoEmail is the email of demo account id (u-000123 →
// user000123@example.jp), as DemoAccounts makes them.
func DemoEmail(id string) (string, bool) {
	n, ok := demoIndex(id)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("user%06d@example.jp", n), true
}

func demoIndex(id string) (int, bool) {
	s, ok := strings.CutPrefix(id, "u-")
	if !ok || len(s) != 6 {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	return n, err == nil && n > 0
}

// RunDemo plays the scenario's attack, and the owners' traffic around it,
// through a running demo's shop pages on the wall clock, compressed so
// that the attack takes AttackSpan, with the demo's own guard on. The
// generated owners u-NNNNNN are the demo's accounts of that id (the
// scenario may not have more owners than the demo has accounts). First
// the guard learns their history, so that it knows their usual devices:
// into its store with Target.Profiles (the history's days end now), else
// through the shop's login page (see shopWarmup).
//
// Unlike Run it plays once (the demo's guard is on) and only the span
// around the attack, and the shop's clock is the wall clock: step-ups
// expire in wall minutes, after the run. Its figures show the demo at
// work; the reports of Run are the measured ones.
func RunDemo(ctx context.Context, cfg DemoConfig) (*DemoResult, error) {
	t := cfg.Target
	if t.ShopURL == "" || len(t.Key) == 0 {
		return nil, errors.New("simulate: no demo shop to run against")
	}
	if cfg.Scenario.Owners.Accounts > t.Accounts {
		return nil, fmt.Errorf("the scenario has %d owners, the demo only %d accounts: use a smaller --scale", cfg.Scenario.Owners.Accounts, t.Accounts)
	}
	cfg = cfg.withDefaults()
	labeled, err := traffic.Generate(cfg.Scenario)
	if err != nil {
		return nil, err
	}
	all, err := parseStream(labeled)
	if err != nil {
		return nil, err
	}
	var attackFrom, attackTo time.Time
	for _, it := range all {
		if it.label.Actor == traffic.ActorAttacker && it.label.Phase == traffic.PhaseEval && it.ev.Type != client.OrderAttempt {
			at := it.ev.OccurredAt
			if attackFrom.IsZero() || at.Before(attackFrom) {
				attackFrom = at
			}
			if at.After(attackTo) {
				attackTo = at
			}
		}
	}
	if attackFrom.IsZero() {
		return nil, errors.New("the scenario has no attack to play")
	}
	from, to := attackFrom.Add(-cfg.Before), attackTo.Add(cfg.After)

	// The warm-up, then the evaluated events of [from, to), with the
	// generated emails replaced by the demo's.
	var items []item
	for _, it := range all {
		if it.label.Phase == traffic.PhaseEval && (it.ev.OccurredAt.Before(from) || !it.ev.OccurredAt.Before(to)) {
			continue
		}
		if it.label.Actor != traffic.ActorOwner && it.label.Actor != traffic.ActorAttacker {
			continue
		}
		if u := it.ev.User; u != nil {
			email, ok := DemoEmail(u.ID)
			if !ok {
				return nil, fmt.Errorf("account %q: not one of the demo's", u.ID)
			}
			cp := *u
			cp.Email = email
			it.ev.User = &cp
			it.ev.Login = email
		}
		items = append(items, it)
	}
	accounts := population(items, t.Key)
	for i := range accounts {
		// The demo's password, also where a spray found a common one in
		// the generated traffic: the demo's accounts use none.
		accounts[i].Password = OwnerPassword(t.Key, accounts[i].ID)
	}

	attackWall := max(attackTo.Sub(attackFrom), time.Minute)
	speed := float64(attackWall) / float64(cfg.AttackSpan)
	var (
		mu        sync.Mutex
		wall0     time.Time
		evalStart time.Time
		attackAt  time.Time
	)
	wallOf := func(sim time.Time) time.Time {
		return wall0.Add(time.Duration(float64(sim.Sub(from)) / speed))
	}
	started := time.Now()
	if err := warmDemo(ctx, t, items, accounts, from, started); err != nil {
		return nil, err
	}
	st := &Stack{
		ShopURL: t.ShopURL, WarmupThroughShop: t.Profiles == nil,
		// The shop runs on the wall clock: pace the simulated time.
		SetTime: func(sim time.Time) {
			mu.Lock()
			if wall0.IsZero() {
				evalStart = time.Now()
				// Before the detector is ready an attack would teach it
				// that attacks are normal: start late enough.
				wall0 = time.Now()
				if ready := t.CampaignReady.Add(2 * time.Second).Add(-time.Duration(float64(attackFrom.Sub(from)) / speed)); ready.After(wall0) {
					wall0 = ready
					if cfg.Status != nil {
						fmt.Fprintf(cfg.Status, "the guard's campaign detector learns the shop's traffic until %s (demo --learn): waiting for it\n", t.CampaignReady.Local().Format("15:04:05"))
					}
				}
			}
			due := wallOf(sim)
			mu.Unlock()
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
				}
			}
			mu.Lock()
			if attackAt.IsZero() && !sim.Before(attackFrom.Add(-chunkSpan)) {
				attackAt = time.Now()
			}
			mu.Unlock()
		},
		Stop: func() error { return nil },
	}
	step := max(time.Minute, (to.Sub(from) / 60).Round(time.Minute))
	sc := newScorer("on", from, to, step)
	p := newPlanner(cfg.FollowUps, cfg.Scenario.Seed)
	workers := cfg.Workers
	if workers <= 0 {
		workers = 8
	}
	bar := newBar(cfg.Progress, len(items), "demo, guard on")
	err = runLive(ctx, items, st, accounts, t.Key, workers, cfg.Scenario.Seed, p, sc, barFunc(bar))
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(cfg.Progress)
	}
	if err != nil {
		return nil, err
	}
	res := &DemoResult{Speed: speed, Took: time.Since(started), Started: started, EvalStart: evalStart}
	mu.Lock()
	res.AttackStart, res.AttackEnd = attackAt, attackAt.Add(time.Duration(float64(attackTo.Sub(attackFrom))/speed))
	mu.Unlock()
	var incs []client.Incident
	if t.Guard != nil {
		if incs, err = res.readIncidents(ctx, t.Guard); err != nil {
			return nil, err
		}
	}
	res.Summary = sc.finish(nil)
	res.Summary.Incidents = len(incs)
	for i := range incs {
		if res.Incident == nil || incs[i].StartedAt.Before(res.Incident.StartedAt) {
			res.Incident = &incs[i]
		}
	}
	if res.Incident != nil && !res.AlreadyOpen {
		d := res.Incident.StartedAt.Sub(res.AttackStart)
		res.Summary.IncidentAfter = d.Round(100 * time.Millisecond).String()
		secs := d.Seconds()
		res.Summary.IncidentSeconds = &secs
		st := res.Incident.StartedAt.UTC()
		res.Summary.IncidentStart = &st
		res.Summary.IncidentReached, res.Summary.IncidentCompr = res.Incident.AccountsTargeted, res.Incident.AccountsCompromised
	}
	return res, nil
}

// withDefaults fills in the spans left zero.
func (cfg DemoConfig) withDefaults() DemoConfig {
	if cfg.AttackSpan <= 0 {
		cfg.AttackSpan = time.Minute
	}
	if cfg.Before <= 0 {
		cfg.Before = 45 * time.Minute
	}
	if cfg.After <= 0 {
		cfg.After = 15 * time.Minute
	}
	return cfg
}

// warmDemo teaches the demo's guard the owners' warm-up history in items
// (WarmProfiles), moved so that the evaluated span's start (from) is now;
// without t.Profiles it does nothing (the shop's pages play it).
func warmDemo(ctx context.Context, t DemoTarget, items []item, accounts []demoshop.SeedAccount, from, now time.Time) error {
	if t.Profiles == nil {
		return nil
	}
	passwords := make(map[string]string, len(accounts))
	for _, a := range accounts {
		passwords[a.ID] = a.Password
	}
	history, err := demoHistory(items, now.Sub(from), passwords)
	if err != nil {
		return err
	}
	return WarmProfiles(ctx, t.Profiles, t.GuardKey, history)
}

// readIncidents reads the guard's incidents into r: every one the run
// opened into Opened, and returns those that started at or after the
// attack's start (when there are none, an earlier one still open becomes
// r.Incident, AlreadyOpen).
func (r *DemoResult) readIncidents(ctx context.Context, g *client.Client) ([]client.Incident, error) {
	listed, err := g.Incidents(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("reading the guard's incidents: %w", err)
	}
	r.Asked = true
	var incs []client.Incident
	var open *client.Incident
	for i := range listed {
		// A second of slack for the two clocks' reading; earlier runs'
		// incidents are not this one's.
		if !listed[i].StartedAt.Before(r.Started.Add(-time.Second)) {
			r.Opened = append(r.Opened, listed[i])
		}
		if !listed[i].StartedAt.Before(r.AttackStart.Add(-time.Second)) {
			incs = append(incs, listed[i])
		} else if listed[i].EndedAt == nil || !listed[i].EndedAt.Before(r.AttackStart) {
			open = &listed[i]
		}
	}
	sort.Slice(r.Opened, func(a, b int) bool { return r.Opened[a].StartedAt.Before(r.Opened[b].StartedAt) })
	if len(incs) == 0 && open != nil {
		r.AlreadyOpen, r.Incident = true, open
	}
	return incs, nil
}
