package engine

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/incident"
	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/signal/campaign"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
)

// hub is a fake of the hot layer: it hands each instance's events to the
// others at once, and keeps the incident claims.
type hub struct {
	mu      sync.Mutex
	engines []*Engine
	claims  map[string]claim
	queue   []delivery
}

type claim struct {
	id    string
	since time.Time
}

type delivery struct {
	to   *Engine
	data []byte
}

type peer struct {
	h    *hub
	self int
}

func (p peer) Publish(data []byte) {
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	for i, e := range p.h.engines {
		if i != p.self {
			p.h.queue = append(p.h.queue, delivery{e, data})
		}
	}
}

// deliver applies the queued events; the instances' own Assess calls
// publish after their write, so the test delivers between events.
func (h *hub) deliver(t *testing.T) {
	t.Helper()
	h.mu.Lock()
	q := h.queue
	h.queue = nil
	h.mu.Unlock()
	for _, d := range q {
		if err := d.to.Apply(context.Background(), d.data); err != nil {
			t.Fatalf("apply: %v", err)
		}
	}
}

func (p peer) Claim(_ context.Context, kind, id string, since time.Time) (string, time.Time, error) {
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	if c, ok := p.h.claims[kind]; ok {
		return c.id, c.since, nil
	}
	p.h.claims[kind] = claim{id, since}
	return id, since, nil
}

func (p peer) Release(_ context.Context, kind, id string) (bool, error) {
	p.h.mu.Lock()
	defer p.h.mu.Unlock()
	if c, ok := p.h.claims[kind]; ok && c.id == id {
		delete(p.h.claims, kind)
		return true, nil
	}
	return false, nil
}

// TestTwoInstancesActAsOne sends the distributed scenario alternately to
// two engines sharing a store and a hub, and to one engine alone: every
// decision is the same, and there is one incident with the same totals.
func TestTwoInstancesActAsOne(t *testing.T) {
	scenario := "testdata/scenarios/distributed"
	if raceOn {
		scenario = "testdata/scenarios/burst" // see race_on_test.go
	}
	labeled := loadCase(t, scenario)
	ctx := context.Background()
	p := newInstancePair(t)

	differ := 0
	for i := range labeled {
		ev, err := event.Decode(labeled[i].Event)
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		got, want := p.assess(ctx, t, i, ev)
		if got.Decision != want.Decision {
			differ++
			if differ <= 5 {
				t.Errorf("event %d (%s %s): two instances decided %s, one %s (%v vs %v)", i, ev.Type, ev.Account(),
					got.Decision, want.Decision, codes(got.Reasons), codes(want.Reasons))
			}
		}
		// A step-up the owner passes, answered on the other instance.
		if labeled[i].Label.Actor == "owner" && got.Challenge != nil {
			p.passOnTheOther(ctx, t, i, ev, got, want)
		}
	}
	if differ > 0 {
		t.Errorf("%d of %d decisions differ", differ, len(labeled))
	}
	for _, e := range []*Engine{p.one, p.a, p.b} {
		if err := e.Flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	compareIncidents(ctx, t, p.shared, p.alone)
}

// instancePair is one engine alone on its store, and two engines a and b
// sharing another store and a hub.
type instancePair struct {
	alone, shared *memory.Store
	one, a, b     *Engine
	h             *hub
}

func newInstancePair(t *testing.T) *instancePair {
	t.Helper()
	p := &instancePair{alone: memory.New(), shared: memory.New(), h: &hub{claims: map[string]claim{}}}
	p.one = newEngine(t, "", p.alone)
	p.a = newEngine(t, "", p.shared, func(d *Deps) { d.Peers = peer{p.h, 0} })
	p.b = newEngine(t, "", p.shared, func(d *Deps) { d.Peers = peer{p.h, 1} })
	p.h.engines = []*Engine{p.a, p.b}
	return p
}

// assess sends event i to the lone engine (want) and to a or b in turn
// (got), then delivers what the instances told each other.
func (p *instancePair) assess(ctx context.Context, t *testing.T, i int, ev event.Event) (got, want Result) {
	t.Helper()
	want, err := p.one.Assess(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	got, err = []*Engine{p.a, p.b}[i%2].Assess(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	p.h.deliver(t)
	return got, want
}

// passOnTheOther answers the owner's challenge on the instance that did
// not make it, and the lone engine's challenge on that engine.
func (p *instancePair) passOnTheOther(ctx context.Context, t *testing.T, i int, ev event.Event, got, want Result) {
	t.Helper()
	pass := decode(t, `{"type": "mfa.succeeded", "occurred_at": %q, "user": {"id": %q}, "session_id": %q,
		"context": {"ip": %q}, "properties": {"challenge_id": %q, "method": "totp"}}`,
		ev.OccurredAt.Add(20*time.Second).Format(time.RFC3339Nano), ev.User.ID, ev.SessionID,
		ev.Context.IP, got.Challenge.ID)
	if _, err := []*Engine{p.b, p.a}[i%2].Assess(ctx, pass); err != nil {
		t.Fatal(err)
	}
	p.h.deliver(t)
	if ch, err := p.shared.GetChallenge(ctx, got.Challenge.ID); err != nil || ch.State != store.ChallengePassed {
		t.Fatalf("challenge made on one instance, answered on the other: state %q, err %v", ch.State, err)
	}
	if want.Challenge != nil {
		passAlone := pass
		passAlone.Properties.ChallengeID = want.Challenge.ID
		if _, err := p.one.Assess(ctx, passAlone); err != nil {
			t.Fatal(err)
		}
	}
}

// compareIncidents checks the two instances' store has the incidents the
// lone engine's has, with the same totals and as many accounts.
func compareIncidents(ctx context.Context, t *testing.T, shared, alone *memory.Store) {
	t.Helper()
	wantIncs, err := alone.ListIncidents(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	gotIncs, err := shared.ListIncidents(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(gotIncs) != len(wantIncs) || len(gotIncs) == 0 {
		t.Fatalf("incidents: two instances %d, one %d", len(gotIncs), len(wantIncs))
	}
	for i := range gotIncs {
		g, w := gotIncs[i], wantIncs[i]
		if g.Kind != w.Kind || g.Attempts != w.Attempts || g.AccountsTargeted != w.AccountsTargeted ||
			g.AccountsCompromised != w.AccountsCompromised || !g.StartedAt.Equal(w.StartedAt) {
			t.Errorf("incident %d: two instances %+v\none %+v", i, g, w)
		}
		ga, err := shared.ListIncidentAccounts(ctx, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		wa, err := alone.ListIncidentAccounts(ctx, w.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(ga) != len(wa) {
			t.Errorf("incident %d: %d accounts recorded by two instances, %d by one", i, len(ga), len(wa))
		}
	}
}

func codes(rs []policy.Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}

// downRecords is a store whose profiles cannot be read while down is set,
// as shared records out of reach.
type downRecords struct {
	*memory.Store
	down bool
}

func (d *downRecords) GetProfile(ctx context.Context, account string) (store.Profile, error) {
	if d.down {
		return store.Profile{}, errors.New("connection refused")
	}
	return d.Store.GetProfile(ctx, account)
}

// TestOutage: with UseOutage, an event whose account cannot be read is
// answered, without familiarity; failing closed steps up an unfamiliar
// login then, and any while the hot layer is down.
func TestOutage(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		use      bool
		closed   bool
		hubDown  bool
		recsDown bool
		want     policy.Decision
		wantErr  bool
	}{
		{name: "records down, no outage mode: fails", recsDown: true, wantErr: true},
		{name: "records down, open", use: true, recsDown: true, want: policy.Allow},
		{name: "records down, closed", use: true, closed: true, recsDown: true, want: policy.Challenge},
		{name: "hub down, open", use: true, hubDown: true, want: policy.Allow},
		{name: "hub down, closed", use: true, closed: true, hubDown: true, want: policy.Challenge},
		{name: "all up, closed", use: true, closed: true, want: policy.Allow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &downRecords{Store: memory.New()}
			e := newEngine(t, "", st, func(d *Deps) {
				if tc.use {
					d.Outage = &Outage{Closed: tc.closed, HubDown: func() bool { return tc.hubDown }}
				}
			})
			// u-1 logs in from home for a week (familiar), then from a new
			// phone on a new network.
			for d := range 7 {
				if _, err := e.Assess(ctx, login(t, "login.succeeded", "u-1", "203.0.113.7", "d-home", t0.Add(time.Duration(d)*24*time.Hour))); err != nil {
					t.Fatal(err)
				}
			}
			e.familiar.Forget("u-1")
			st.down = tc.recsDown
			r, err := e.Assess(ctx, login(t, "login.succeeded", "u-1", "198.51.100.9", "d-new", t0.Add(8*24*time.Hour)))
			if tc.wantErr {
				if err == nil {
					t.Fatalf("answered %s without records", r.Decision)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if r.Decision != tc.want {
				t.Errorf("decision %s %v, want %s", r.Decision, codes(r.Reasons), tc.want)
			}
			degraded := slices.Contains(codes(r.Reasons), "guard.degraded")
			if degraded != (tc.want == policy.Challenge) {
				t.Errorf("reasons %v", codes(r.Reasons))
			}
		})
	}
}

// TestSettleAfterDurable: with peers, an incident opened here is named
// only once the records that opened it are durable; the instance that
// claimed second writes what it counted under the first one's name and
// announces nothing, the first writes and announces its own.
func TestSettleAfterDurable(t *testing.T) {
	ctx := context.Background()
	p, err := notify.NewPlanner(notify.Config{SMTP: notify.SMTPConfig{Host: "127.0.0.1", From: "Shop <security@example.jp>"},
		OperatorEmails: []string{"soc@example.jp"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name      string
		claimed   string // the incident another instance claimed first; "": none
		wantID    string // "": this instance's own
		wantNotes int
	}{
		{name: "first to claim", wantNotes: 1},
		{name: "second to claim", claimed: "inc_first", wantID: "inc_first", wantNotes: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memory.New()
			h := &hub{claims: map[string]claim{}}
			if tc.claimed != "" {
				h.claims[incident.KindCredentialStuffing] = claim{tc.claimed, t0.Add(-time.Minute)}
			}
			e := newEngine(t, "", st, func(d *Deps) { d.Peers = peer{h, 0}; d.Notifications = p })
			var tr transitions
			e.campaignTransition(campaign.State{Opened: true, Active: true, Since: t0}, &tr)
			local := e.tracker.OpenID()
			if len(tr.claims) != 1 || len(tr.incidents) != 0 || len(tr.opened) != 0 {
				t.Fatalf("opening with peers: %+v, want one claim and nothing written yet", tr)
			}
			e.tracked(e.tracker, &e.mu, &e.lastIncSave, incident.Hit{Account: "u-1", Known: true, Succeeded: true, IP: "192.0.2.1", Outcome: store.OutcomeAllowed}, t0.Add(2*time.Second), &learned{})
			if _, ok := e.incidentSnapshot(e.tracker); ok {
				t.Error("an unclaimed incident's counters would be written")
			}
			if err := e.settle(ctx, &tr); err != nil {
				t.Fatal(err)
			}
			want := tc.wantID
			if want == "" {
				want = local
			}
			inc, err := st.GetIncident(ctx, want)
			if err != nil {
				t.Fatalf("incident %s after settling: %v", want, err)
			}
			if inc.State != store.IncidentOpen || e.tracker.OpenID() != want {
				t.Errorf("incident %+v, tracker on %q, want %s open", inc, e.tracker.OpenID(), want)
			}
			if tc.wantID != "" {
				if _, err := st.GetIncident(ctx, local); err == nil {
					t.Errorf("the second claimant's own incident %s was written", local)
				}
				accts, err := st.ListIncidentAccounts(ctx, want)
				if err != nil || len(accts) != 1 || accts[0].Account != "u-1" {
					t.Errorf("accounts under the adopted name: %+v (%v)", accts, err)
				}
			}
			ns, err := st.ClaimNotifications(ctx, time.Now().Add(time.Hour), time.Minute, 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(ns) != tc.wantNotes {
				t.Errorf("%d announcements, want %d", len(ns), tc.wantNotes)
			}
		})
	}
}
