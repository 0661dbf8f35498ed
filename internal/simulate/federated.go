package simulate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	guardclock "github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/federation"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
	"github.com/atoguard/atoguard/internal/traffic"
)

// Federated is "two shops, one crew": a crew with one combo list hits
// shop A, then, Lag later, shop B with the same list through partly the
// same proxies. Each shop is a guard of its own (its own records, keys
// and owners), run in process on event time; A's guard tells what its
// incident learned to B's federation store directly (an in-memory
// transport in place of Shared Signals). Shop B is played twice at once:
// alone, and federated.
type Federated struct {
	// Scenario is shop B's traffic: its owners and the crew's attack (the
	// first attack of the scenario is the crew).
	Scenario traffic.Scenario
	// SeedA seeds shop A's owners; zero: Scenario.Seed + 1. Shop A's
	// customers are other people with, for some, the same addresses.
	SeedA int64
	// Lag is how long after shop A the crew reaches shop B (default
	// DefaultLag).
	Lag time.Duration
	// SharedSources is the share of the crew's networks (/24, /64) it
	// uses at both shops (default 0.5); the rest are fresh at B.
	SharedSources float64
	// TickEvery is how often, in event time, the guards tick (publishing
	// facts, closing idle campaigns); default 10s as in serve.
	TickEvery time.Duration
	// Watch, when set, is called with what shop B's federated guard
	// received and decided, as it happens (simulate --federated).
	Watch func(Note)
}

// Note is one moment worth showing of a federated run.
type Note struct {
	At   time.Time
	Shop string // "A" or "B"
	Text string
}

// FederatedScenario returns the built-in scenario of simulate
// --federated: shop B's day, a slow residential crew among its owners.
func FederatedScenario() (traffic.Scenario, error) {
	data, err := scenarioFS.ReadFile("scenarios/two_shops.yaml")
	if err != nil {
		return traffic.Scenario{}, err
	}
	return traffic.Decode(bytes.NewReader(data))
}

// DefaultLag is how long after shop A the crew reaches shop B.
const DefaultLag = time.Hour

// PeerA is the issuer shop A's facts come from.
const PeerA = "https://shop-a.example"

// ShopOutcome is what one shop's guard let in and asked of its owners.
type ShopOutcome struct {
	StolenLogins      int     `json:"stolen_logins"`        // the crew's logins with a correct password
	StolenLetIn       int     `json:"stolen_logins_let_in"` // of those, answered allow
	OwnerLogins       int     `json:"owner_logins"`         // owners' successful logins in the evaluated span
	OwnerChallenged   int     `json:"owner_logins_challenged"`
	OwnerFriction     float64 `json:"owner_friction_percent"` // OwnerChallenged / OwnerLogins, in percent
	CrewAttempts      int     `json:"crew_attempts"`
	CrewOrders        int     `json:"crew_orders"`
	CrewOrdersLetIn   int     `json:"crew_orders_let_in"`
	Incidents         int     `json:"incidents"`
	IncidentAfter     string  `json:"incident_after,omitempty"` // from the crew's first attempt at this shop
	AttemptsBefore    int     `json:"crew_attempts_before_incident"`
	PeerReasons       int     `json:"answers_with_peer_reasons"`
	FactsPublished    int     `json:"facts_published,omitempty"`
	FactsReceived     int     `json:"facts_received,omitempty"`
	PasswordChangeAsk int     `json:"password_changes_asked"`

	crewStart time.Time
	incident  time.Time
}

// FederatedReport is the outcome of a federated run.
type FederatedReport struct {
	A         ShopOutcome             `json:"shop_a"`
	Alone     ShopOutcome             `json:"shop_b_alone"`
	Federated ShopOutcome             `json:"shop_b_federated"`
	Facts     map[federation.Kind]int `json:"facts_b_received"` // live at the end, per kind
	Events    int                     `json:"events"`
}

// shop is one guard of a federated run and its tally.
type shop struct {
	name     string
	eng      *engine.Engine
	st       *memory.Store
	out      ShopOutcome
	nextTick time.Time
}

// RunFederated plays cfg.
func RunFederated(ctx context.Context, cfg Federated) (FederatedReport, error) {
	cfg = cfg.withDefaults()
	evB, err := traffic.Generate(cfg.Scenario)
	if err != nil {
		return FederatedReport{}, fmt.Errorf("shop B: %w", err)
	}
	scA := cfg.Scenario
	scA.Seed, scA.Attacks = cfg.SeedA, nil
	evA, err := traffic.Generate(scA)
	if err != nil {
		return FederatedReport{}, fmt.Errorf("shop A: %w", err)
	}
	a, err := decodeAll(evA)
	if err != nil {
		return FederatedReport{}, err
	}
	b, err := decodeAll(evB)
	if err != nil {
		return FederatedReport{}, err
	}
	a = append(a, crewAtA(a, b, cfg)...)
	slices.SortStableFunc(a, func(x, y labeled) int { return x.ev.OccurredAt.Compare(y.ev.OccurredAt) })

	k := sha256.Sum256([]byte("two shops, one crew: the federation's key"))
	fkey := federation.Key(k[:])
	var fcfg federation.Config
	var now time.Time
	facts, err := federation.Open("", fcfg, func() time.Time { return now })
	if err != nil {
		return FederatedReport{}, err
	}
	shopA, err := newShop("A", "shop-a", &engine.Federation{Key: fkey, Publisher: transport{facts, cfg.Watch}})
	if err != nil {
		return FederatedReport{}, err
	}
	alone, err := newShop("B alone", "shop-b", nil)
	if err != nil {
		return FederatedReport{}, err
	}
	fed, err := newShop("B", "shop-b", &engine.Federation{Key: fkey, Facts: facts})
	if err != nil {
		return FederatedReport{}, err
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		if err := ctx.Err(); err != nil {
			return FederatedReport{}, err
		}
		if j >= len(b) || i < len(a) && a[i].ev.OccurredAt.Before(b[j].ev.OccurredAt) {
			now = a[i].ev.OccurredAt
			if err := shopA.play(ctx, a[i], cfg); err != nil {
				return FederatedReport{}, err
			}
			i++
			continue
		}
		now = b[j].ev.OccurredAt
		for _, s := range []*shop{alone, fed} {
			if err := s.play(ctx, b[j], cfg); err != nil {
				return FederatedReport{}, err
			}
		}
		j++
	}
	for _, s := range []*shop{shopA, alone, fed} {
		if err := s.finish(ctx); err != nil {
			return FederatedReport{}, err
		}
	}
	rep := FederatedReport{A: shopA.out, Alone: alone.out, Federated: fed.out, Events: len(a) + len(b), Facts: map[federation.Kind]int{}}
	for _, ps := range facts.Peers(now) {
		for k, n := range ps.Live {
			rep.Facts[k] += n
			rep.Federated.FactsReceived += n
		}
	}
	return rep, nil
}

func (c Federated) withDefaults() Federated {
	if c.SeedA == 0 {
		c.SeedA = c.Scenario.Seed + 1
	}
	if c.Lag <= 0 {
		c.Lag = DefaultLag
	}
	if c.SharedSources <= 0 {
		c.SharedSources = 0.5
	}
	if c.TickEvery <= 0 {
		c.TickEvery = 10 * time.Second
	}
	return c
}

// transport hands shop A's published facts to shop B's store, as B's
// Shared Signals receiver would once it verified them.
type transport struct {
	to    *federation.Store
	watch func(Note)
}

func (t transport) Publish(ctx context.Context, facts []federation.Fact) error {
	in := make([]federation.Fact, len(facts))
	for i, f := range facts {
		f.Peer, f.ID = PeerA, fmt.Sprintf("set-%d-%s", i, f.Subject[:min(8, len(f.Subject))])
		in[i] = f
	}
	if t.watch != nil && len(facts) > 0 {
		n := map[federation.Kind]int{}
		for _, f := range facts {
			n[f.Kind]++
		}
		t.watch(Note{At: facts[len(facts)-1].LastSeen, Shop: "A", Text: fmt.Sprintf("tells the federation %v", n)})
	}
	return t.to.Receive(ctx, in)
}

func newShop(name, keySeed string, fed *engine.Federation) (*shop, error) {
	pol, err := policy.Default()
	if err != nil {
		return nil, err
	}
	st := memory.New()
	key := sha256.Sum256([]byte(keySeed))
	eng, err := engine.New(engine.Config{}, engine.Deps{
		Clock: guardclock.New(guardclock.Event, nil), Policy: pol, Records: st, Writer: st, Key: key[:], Federation: fed,
	})
	if err != nil {
		return nil, err
	}
	return &shop{name: name, eng: eng, st: st}, nil
}

// labeled is a decoded event with its label.
type labeled struct {
	l  traffic.Label
	ev event.Event
}

func decodeAll(ls []traffic.Labeled) ([]labeled, error) {
	out := make([]labeled, len(ls))
	for i, l := range ls {
		ev, err := event.Decode(l.Event)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", i, err)
		}
		out[i] = labeled{l.Label, ev}
	}
	return out, nil
}

// crewAtA is the crew's visit to shop A: shop B's attack, Lag earlier,
// half its networks different, its logins matched against A's customers
// (a login that is no account at A fails as unknown there; the takeovers
// and orders of accounts A does not have are dropped).
func crewAtA(a, b []labeled, cfg Federated) []labeled {
	users := map[string]event.User{}
	for _, x := range a {
		if x.ev.User.ID != "" && x.ev.Login != "" {
			users[x.ev.Login] = event.User{ID: x.ev.User.ID, Email: x.ev.User.Email}
		}
	}
	atA := map[string]event.User{} // B's user id → A's account
	var out []labeled
	for _, x := range b {
		if x.l.Actor != traffic.ActorAttacker {
			continue
		}
		ev := x.ev
		ev.OccurredAt = ev.OccurredAt.Add(-cfg.Lag)
		ev.Context.IP = moveNetwork(ev.Context.IP, cfg.SharedSources)
		if ev.Type.IsLogin() {
			u, ok := users[ev.Login]
			switch {
			case ok:
				atA[ev.User.ID] = u
				ev.User = u
			default:
				ev.User = event.User{}
				ev.Type, ev.SessionID, ev.Properties.Reason = event.LoginFailed, "", event.ReasonUnknownAccount
			}
			x.l.AccountExists, x.l.ValidCredential = ok, ok && x.l.ValidCredential
		} else {
			u, ok := atA[ev.User.ID]
			if !ok {
				continue
			}
			ev.User.ID = u.ID
		}
		out = append(out, labeled{x.l, ev})
	}
	return out
}

// moveNetwork returns ip, or for a share 1-shared of networks (/24,
// /64; chosen by a hash of the network) the same host in another network.
func moveNetwork(ip netip.Addr, shared float64) netip.Addr {
	if ip.Is4() {
		b := ip.As4()
		if h := sha256.Sum256(b[:3]); float64(h[0])/256 < shared {
			return ip
		}
		b[1] ^= 0x5a
		return netip.AddrFrom4(b)
	}
	b := ip.As16()
	if h := sha256.Sum256(b[:8]); float64(h[0])/256 < shared {
		return ip
	}
	b[3] ^= 0x5a
	return netip.AddrFrom16(b)
}

// play assesses one event at the shop: owners pass the step-ups they are
// asked for, the crew cannot. The guard ticks every TickEvery of event
// time.
func (s *shop) play(ctx context.Context, x labeled, cfg Federated) error {
	ev := x.ev
	if s.nextTick.IsZero() {
		s.nextTick = ev.OccurredAt
	}
	for !ev.OccurredAt.Before(s.nextTick) {
		if err := s.eng.Tick(ctx); err != nil {
			return err
		}
		s.nextTick = s.nextTick.Add(cfg.TickEvery)
	}
	r, err := s.eng.Assess(ctx, ev)
	if err != nil {
		return err
	}
	s.tally(x, r, cfg.Watch)
	if x.l.Actor == traffic.ActorOwner && r.Challenge != nil {
		pass := event.Event{Type: event.MFASucceeded, OccurredAt: ev.OccurredAt.Add(20 * time.Second), User: ev.User,
			SessionID: ev.SessionID, Context: ev.Context,
			Properties: event.Properties{ChallengeID: r.Challenge.ID, Method: "totp"}}
		if _, err := s.eng.Assess(ctx, pass); err != nil {
			return err
		}
	}
	return nil
}

func (s *shop) tally(x labeled, r engine.Result, watch func(Note)) {
	o, ev := &s.out, &x.ev
	stopped := r.Decision == policy.Challenge || r.Decision == policy.Deny
	peer := slices.ContainsFunc(r.Reasons, func(rs policy.Reason) bool { return strings.HasPrefix(rs.Code, "peer.") })
	if peer {
		o.PeerReasons++
	}
	if len(r.Actions) > 0 {
		o.PasswordChangeAsk++
	}
	switch {
	case x.l.Actor == traffic.ActorAttacker && ev.Type.IsLogin():
		s.crewLogin(x, r, stopped, peer, watch)
	case x.l.Actor == traffic.ActorAttacker && ev.Type == event.OrderAttempt:
		o.CrewOrders++
		if r.Decision == policy.Allow {
			o.CrewOrdersLetIn++
		}
	case x.l.Actor == traffic.ActorOwner && x.l.Phase == traffic.PhaseEval && ev.Type == event.LoginSucceeded:
		o.OwnerLogins++
		if stopped {
			o.OwnerChallenged++
		}
	}
	if r.IncidentID != "" && o.incident.IsZero() {
		o.incident = ev.OccurredAt
		if watch != nil && s.name != "B alone" {
			watch(Note{At: ev.OccurredAt, Shop: s.name, Text: "incident " + r.IncidentID + " opened"})
		}
	}
}

// crewLogin counts one of the crew's logins.
func (s *shop) crewLogin(x labeled, r engine.Result, stopped, peer bool, watch func(Note)) {
	o, ev := &s.out, &x.ev
	if o.crewStart.IsZero() {
		o.crewStart = ev.OccurredAt
	}
	o.CrewAttempts++
	if o.incident.IsZero() {
		o.AttemptsBefore++
	}
	if x.l.ValidCredential {
		o.StolenLogins++
		if !stopped {
			o.StolenLetIn++
		}
	}
	if watch != nil && s.name == "B" && (peer || x.l.ValidCredential) && o.CrewAttempts <= 40 {
		watch(Note{At: ev.OccurredAt, Shop: "B", Text: fmt.Sprintf("crew %s %s from %s: %s %v", ev.Type, ev.Login, ev.Context.IP, r.Decision, codes(r.Reasons))})
	}
}

func codes(rs []policy.Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Code
	}
	return out
}

// finish completes the shop's outcome from its records.
func (s *shop) finish(ctx context.Context) error {
	if err := s.eng.Flush(ctx); err != nil {
		return err
	}
	incs, err := s.st.ListIncidents(ctx, "")
	if err != nil {
		return err
	}
	o := &s.out
	o.Incidents = len(incs)
	if len(incs) > 0 && !o.crewStart.IsZero() {
		first := slices.MinFunc(incs, func(x, y store.Incident) int { return x.StartedAt.Compare(y.StartedAt) })
		o.IncidentAfter = first.StartedAt.Sub(o.crewStart).Round(time.Second).String()
		for _, inc := range incs {
			n, _ := s.eng.Told(inc.ID)
			o.FactsPublished += n
		}
	}
	if o.OwnerLogins > 0 {
		o.OwnerFriction = float64(int(10000*float64(o.OwnerChallenged)/float64(o.OwnerLogins)+0.5)) / 100
	}
	return nil
}
