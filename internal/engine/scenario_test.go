package engine

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
	"github.com/atoguard/atoguard/internal/traffic"
)

var update = flag.Bool("update", false, "rewrite the scenario golden summaries (and events.jsonl of data-only cases)")

// expectation is a scenario's expected.yaml: bounds the outcome must meet.
// A zero bound is not checked, except the incident counts.
type expectation struct {
	AttackerValidStoppedMin   float64  `yaml:"attacker_valid_stopped_min"`   // share of stolen-password logins challenged or denied
	AttackerLoginsDeniedMin   float64  `yaml:"attacker_logins_denied_min"`   // share of all attacker login events denied
	OwnerSuccessChallengedMax *float64 `yaml:"owner_success_challenged_max"` // share of owners' successful logins challenged or denied (besides those whose password an attacker used)
	OwnerNewDeviceChallenged  *float64 `yaml:"owner_new_device_challenged_max"`
	FraudOrdersAcceptedMax    *int     `yaml:"fraud_orders_accepted_max"` // attacker orders answered allow
	OwnerOrdersHeldMax        *float64 `yaml:"owner_orders_held_max"`     // share of owners' orders not allowed
	IncidentsMin              int      `yaml:"incidents_min"`
	IncidentsMax              int      `yaml:"incidents_max"`
	IncidentWithin            string   `yaml:"incident_within"` // from the attack's first event
	IncidentKinds             []string `yaml:"incident_kinds"`  // kinds that must each have an incident
}

// summary is the outcome of a scenario, kept as a golden file so a change
// in detection shows up in review.
type summary struct {
	Events                    int     `json:"events"`
	AttackerLogins            int     `json:"attacker_logins"`
	AttackerLoginsDenied      int     `json:"attacker_logins_denied"`
	AttackerValid             int     `json:"attacker_valid_credentials"`
	AttackerValidAllowed      int     `json:"attacker_valid_allowed"`
	AttackerValidStoppedShare float64 `json:"attacker_valid_stopped_share"`
	JailValidAllowed          int     `json:"per_ip_jail_valid_allowed"` // what a fail2ban-style jail (5 failures / 10 min per IP) lets through
	OwnerSuccesses            int     `json:"owner_successes"`
	OwnerChallenged           int     `json:"owner_successes_challenged"`
	OwnerChallengedShare      float64 `json:"owner_successes_challenged_share"`
	// Of those challenged, owners of accounts whose password an attacker
	// used before: stepped up on purpose (after-failed-step-up, when the
	// attacker walked away from its challenge) until the password changes.
	OwnerExposedChallenged   int    `json:"owner_successes_challenged_exposed"`
	OwnerNewDevice           int    `json:"owner_new_device_successes"` // what "step up every new device" would challenge
	OwnerNewDeviceChallenged int    `json:"owner_new_device_challenged"`
	AttackerOrders           int    `json:"attacker_orders"`
	AttackerOrdersAccepted   int    `json:"attacker_orders_accepted"`
	VictimOrders             int    `json:"victim_orders"` // owners' own orders after an attacker changed their contact data (held on purpose)
	VictimOrdersHeld         int    `json:"victim_orders_held"`
	OwnerOrders              int    `json:"owner_orders"`
	OwnerOrdersHeld          int    `json:"owner_orders_held"`
	Incidents                int    `json:"incidents"`
	FirstIncidentAfterAttack string `json:"first_incident_after_attack_start,omitempty"`
}

func loadCase(t *testing.T, dir string) []traffic.Labeled {
	t.Helper()
	if f, err := os.Open(filepath.Join(dir, "events.jsonl")); err == nil {
		defer f.Close()
		evs, err := traffic.ReadJSONL(f)
		if err != nil {
			t.Fatalf("reading events.jsonl: %v", err)
		}
		return evs
	}
	sc, err := traffic.Load(filepath.Join(dir, "scenario.yaml"))
	if err != nil {
		t.Fatalf("loading scenario: %v", err)
	}
	evs, err := traffic.Generate(sc)
	if err != nil {
		t.Fatalf("generating: %v", err)
	}
	return evs
}

// jail is the per-IP baseline: an IP with 5 or more failures in the last
// ten minutes is blocked.
type jail struct{ fails map[string][]time.Time }

func (j *jail) blocked(ip string, at time.Time) bool {
	n := 0
	for _, t := range j.fails[ip] {
		if at.Sub(t) < 10*time.Minute {
			n++
		}
	}
	return n >= 5
}

func (j *jail) fail(ip string, at time.Time) { j.fails[ip] = append(j.fails[ip], at) }

func TestScenarios(t *testing.T) {
	dirs, err := filepath.Glob("testdata/scenarios/*")
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel() // each scenario has an engine and a store of its own
			runScenario(t, dir)
		})
	}
}

func runScenario(t *testing.T, dir string) {
	exp := loadExpectation(t, dir)
	labeled := loadCase(t, dir)

	ctx := context.Background()
	st := memory.New()
	e := newEngine(t, "", st)
	run := newScenarioRun()
	for i := range labeled {
		ev, r := assessLabeled(ctx, t, e, labeled[i], i)
		run.tally(labeled[i].Label, ev, r)
		run.tick(ctx, t, e, ev.OccurredAt)
	}
	s, incs := run.end(ctx, t, e, st)
	logOutcome(t, s, incs)
	checkExpectations(t, exp, s, incs, run.attackStart)
	checkGolden(t, filepath.Join(dir, "summary.golden.json"), s)
}

// loadExpectation reads a scenario's expected.yaml, refusing unknown keys.
func loadExpectation(t *testing.T, dir string) expectation {
	t.Helper()
	var exp expectation
	data, err := os.ReadFile(filepath.Join(dir, "expected.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&exp); err != nil {
		t.Fatalf("expected.yaml: %v", err)
	}
	return exp
}

// assessLabeled assesses the scenario's event i. Owners have a factor
// and pass the step-ups they are asked for; attackers, holding only the
// password, cannot.
func assessLabeled(ctx context.Context, t *testing.T, e *Engine, l traffic.Labeled, i int) (event.Event, Result) {
	t.Helper()
	ev, err := event.Decode(l.Event)
	if err != nil {
		t.Fatalf("event %d: %v", i, err)
	}
	r, err := e.Assess(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	if l.Label.Actor == traffic.ActorOwner && r.Challenge != nil {
		passStepUp(ctx, t, e, ev, r.Challenge.ID)
	}
	return ev, r
}

// passStepUp answers the challenge ev was given with a TOTP code, as the
// owner would, twenty seconds later from the same context.
func passStepUp(ctx context.Context, t *testing.T, e *Engine, ev event.Event, challengeID string) {
	t.Helper()
	pass := decode(t, `{"type": "mfa.succeeded", "occurred_at": %q, "user": {"id": %q}, "session_id": %q,
		"context": {"ip": %q, "device_id": %q, "user_agent": %q}, "properties": {"challenge_id": %q, "method": "totp"}}`,
		ev.OccurredAt.Add(20*time.Second).Format(time.RFC3339Nano), ev.User.ID, ev.SessionID,
		ev.Context.IP, ev.Context.DeviceID, ev.Context.UserAgent, challengeID)
	if _, err := e.Assess(ctx, pass); err != nil {
		t.Fatal(err)
	}
}

// scenarioRun tallies a scenario's summary as its events are assessed.
type scenarioRun struct {
	s           summary
	attackStart time.Time
	jail        *jail
	victims     map[string]bool // accounts whose contact data an attacker changed
	exposed     map[string]bool // accounts whose password an attacker used
	lastTick    time.Time
}

func newScenarioRun() *scenarioRun {
	return &scenarioRun{jail: &jail{fails: map[string][]time.Time{}}, victims: map[string]bool{}, exposed: map[string]bool{}}
}

// tick runs the engine's periodic work once a minute of event time, as
// serve's ticker does on the event clock: campaigns close on their own
// and challenges that expired unanswered are swept as abandoned.
func (run *scenarioRun) tick(ctx context.Context, t *testing.T, e *Engine, at time.Time) {
	t.Helper()
	if at.Sub(run.lastTick) < time.Minute {
		return
	}
	run.lastTick = at
	if err := e.Tick(ctx); err != nil {
		t.Fatal(err)
	}
}

// tally counts one assessed event in the summary.
func (run *scenarioRun) tally(l traffic.Label, ev event.Event, r Result) {
	run.s.Events++
	stopped := r.Decision == policy.Challenge || r.Decision == policy.Deny
	ip := ev.Context.IP.String()
	jailed := run.jail.blocked(ip, ev.OccurredAt)
	if ev.Type == event.LoginFailed {
		run.jail.fail(ip, ev.OccurredAt)
	}
	switch {
	case ev.Type == event.ProfileUpdated && l.Actor == traffic.ActorAttacker:
		run.victims[ev.User.ID] = true
	case ev.Type == event.OrderAttempt:
		run.tallyOrder(l, ev, r)
	case l.Actor == traffic.ActorAttacker && ev.Type.IsLogin():
		run.tallyAttackerLogin(l, ev, r, stopped, jailed)
	case l.Actor == traffic.ActorOwner && l.Phase == traffic.PhaseEval && ev.Type == event.LoginSucceeded:
		run.tallyOwnerLogin(l, stopped)
		if stopped && run.exposed[ev.User.ID] {
			run.s.OwnerExposedChallenged++
		}
	}
}

// tallyOrder counts an order: a victim's own, an attacker's, or an
// owner's in the evaluation phase.
func (run *scenarioRun) tallyOrder(l traffic.Label, ev event.Event, r Result) {
	s := &run.s
	switch {
	case l.Actor == traffic.ActorOwner && run.victims[ev.User.ID]:
		s.VictimOrders++
		if r.Decision != policy.Allow {
			s.VictimOrdersHeld++
		}
	case l.Actor == traffic.ActorAttacker:
		s.AttackerOrders++
		if r.Decision == policy.Allow {
			s.AttackerOrdersAccepted++
		}
	case l.Phase == traffic.PhaseEval:
		s.OwnerOrders++
		if r.Decision != policy.Allow {
			s.OwnerOrdersHeld++
		}
	}
}

// tallyAttackerLogin counts an attacker's login, and what the engine and
// the per-IP jail let through of those with a valid password.
func (run *scenarioRun) tallyAttackerLogin(l traffic.Label, ev event.Event, r Result, stopped, jailed bool) {
	s := &run.s
	if run.attackStart.IsZero() {
		run.attackStart = ev.OccurredAt
	}
	s.AttackerLogins++
	if r.Decision == policy.Deny {
		s.AttackerLoginsDenied++
	}
	if !l.ValidCredential {
		return
	}
	run.exposed[ev.User.ID] = true
	s.AttackerValid++
	if !stopped {
		s.AttackerValidAllowed++
	}
	if !jailed {
		s.JailValidAllowed++
	}
}

// tallyOwnerLogin counts an owner's successful login in the evaluation
// phase, and whether it was stopped.
func (run *scenarioRun) tallyOwnerLogin(l traffic.Label, stopped bool) {
	s := &run.s
	s.OwnerSuccesses++
	if stopped {
		s.OwnerChallenged++
	}
	if l.NewDevice {
		s.OwnerNewDevice++
		if stopped {
			s.OwnerNewDeviceChallenged++
		}
	}
}

// end flushes the engine's incidents and completes the summary with
// them.
func (run *scenarioRun) end(ctx context.Context, t *testing.T, e *Engine, st *memory.Store) (summary, []store.Incident) {
	t.Helper()
	if err := e.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	incs, err := st.ListIncidents(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	return run.finish(incs), incs
}

// finish completes the summary with the incidents and the shares.
func (run *scenarioRun) finish(incs []store.Incident) summary {
	s := run.s
	s.Incidents = len(incs)
	if len(incs) > 0 && !run.attackStart.IsZero() {
		first := incs[len(incs)-1] // newest first
		s.FirstIncidentAfterAttack = first.StartedAt.Sub(run.attackStart).Round(time.Second).String()
	}
	if s.AttackerValid > 0 {
		s.AttackerValidStoppedShare = round4(1 - float64(s.AttackerValidAllowed)/float64(s.AttackerValid))
	}
	if s.OwnerSuccesses > 0 {
		s.OwnerChallengedShare = round4(float64(s.OwnerChallenged) / float64(s.OwnerSuccesses))
	}
	return s
}

func logOutcome(t *testing.T, s summary, incs []store.Incident) {
	t.Helper()
	t.Logf("summary: %+v", s)
	for _, inc := range incs {
		t.Logf("incident %s %s %v..%v attempts=%d ips=%d targeted=%d compromised=%d", inc.ID, inc.State,
			inc.StartedAt.Format(time.RFC3339), inc.EndedAt.Format(time.RFC3339), inc.Attempts, inc.DistinctIPs, inc.AccountsTargeted, inc.AccountsCompromised)
	}
}

func round4(x float64) float64 { return float64(int(x*10000+0.5)) / 10000 }

func checkExpectations(t *testing.T, exp expectation, s summary, incs []store.Incident, attackStart time.Time) {
	t.Helper()
	if exp.AttackerValidStoppedMin > 0 && s.AttackerValidStoppedShare < exp.AttackerValidStoppedMin {
		t.Errorf("stolen-password logins stopped: %.4f (%d of %d allowed), want >= %.4f",
			s.AttackerValidStoppedShare, s.AttackerValidAllowed, s.AttackerValid, exp.AttackerValidStoppedMin)
	}
	if exp.AttackerLoginsDeniedMin > 0 && s.AttackerLogins > 0 {
		if got := float64(s.AttackerLoginsDenied) / float64(s.AttackerLogins); got < exp.AttackerLoginsDeniedMin {
			t.Errorf("attacker logins denied: %.4f, want >= %.4f", got, exp.AttackerLoginsDeniedMin)
		}
	}
	// Owners of accounts whose password an attacker used are stepped up
	// on purpose (after-failed-step-up) and are not friction: they count
	// in owner_successes_challenged, not against this bound.
	if exp.OwnerSuccessChallengedMax != nil && s.OwnerSuccesses > 0 {
		n := s.OwnerChallenged - s.OwnerExposedChallenged
		if got := float64(n) / float64(s.OwnerSuccesses); got > *exp.OwnerSuccessChallengedMax {
			t.Errorf("owners' successful logins challenged, besides %d whose password an attacker used: %.4f (%d of %d), want <= %.4f",
				s.OwnerExposedChallenged, got, n, s.OwnerSuccesses, *exp.OwnerSuccessChallengedMax)
		}
	}
	if exp.OwnerNewDeviceChallenged != nil && s.OwnerNewDevice > 0 {
		if got := float64(s.OwnerNewDeviceChallenged) / float64(s.OwnerNewDevice); got > *exp.OwnerNewDeviceChallenged {
			t.Errorf("owners' new-device logins challenged: %.4f (%d of %d), want <= %.4f",
				got, s.OwnerNewDeviceChallenged, s.OwnerNewDevice, *exp.OwnerNewDeviceChallenged)
		}
	}
	if exp.FraudOrdersAcceptedMax != nil && s.AttackerOrdersAccepted > *exp.FraudOrdersAcceptedMax {
		t.Errorf("fraudulent orders accepted: %d of %d, want <= %d", s.AttackerOrdersAccepted, s.AttackerOrders, *exp.FraudOrdersAcceptedMax)
	}
	if exp.OwnerOrdersHeldMax != nil && s.OwnerOrders > 0 {
		if got := float64(s.OwnerOrdersHeld) / float64(s.OwnerOrders); got > *exp.OwnerOrdersHeldMax {
			t.Errorf("owners' orders held: %.4f (%d of %d), want <= %.4f", got, s.OwnerOrdersHeld, s.OwnerOrders, *exp.OwnerOrdersHeldMax)
		}
	}
	if s.Incidents < exp.IncidentsMin || s.Incidents > exp.IncidentsMax {
		t.Errorf("incidents: %d, want %d..%d", s.Incidents, exp.IncidentsMin, exp.IncidentsMax)
	}
	for _, kind := range exp.IncidentKinds {
		if !slices.ContainsFunc(incs, func(in store.Incident) bool { return in.Kind == kind }) {
			t.Errorf("no incident of kind %s", kind)
		}
	}
	if exp.IncidentWithin != "" && len(incs) > 0 {
		within, err := time.ParseDuration(exp.IncidentWithin)
		if err != nil {
			t.Fatalf("incident_within: %v", err)
		}
		first := incs[len(incs)-1]
		if d := first.StartedAt.Sub(attackStart); d > within || d < 0 {
			t.Errorf("first incident %v after the attack started, want within %v", d, within)
		}
	}
}

func checkGolden(t *testing.T, path string, s summary) {
	t.Helper()
	got, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/engine -run TestScenarios -update)", err)
	}
	if string(got) != string(want) {
		t.Errorf("summary differs from %s (run with -update if the change is intended):\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestWriteEvents regenerates events.jsonl for the data-only cases from
// their generator spec (events.scenario.yaml) when run with -update.
func TestWriteEvents(t *testing.T) {
	specs, _ := filepath.Glob("testdata/scenarios/*/events.scenario.yaml")
	for _, spec := range specs {
		if !*update {
			continue
		}
		sc, err := traffic.Load(spec)
		if err != nil {
			t.Fatal(err)
		}
		evs, err := traffic.Generate(sc)
		if err != nil {
			t.Fatal(err)
		}
		f, err := os.Create(filepath.Join(filepath.Dir(spec), "events.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		if err := traffic.WriteJSONL(f, evs); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		fmt.Println("wrote", f.Name(), len(evs), "events")
	}
}
