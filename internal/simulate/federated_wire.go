package simulate

import (
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/traffic"
)

// TwoShopsTraffic is "two shops, one crew" as the events each shop's
// guard API takes, for two guards run apart and federated over the wire
// (Shared Signals): shop A's traffic (its owners, and the crew's visit Lag
// earlier, as RunFederated plays it) and shop B's, each in time order and
// labelled.
func TwoShopsTraffic(cfg Federated) (a, b []traffic.Labeled, err error) {
	cfg = cfg.withDefaults()
	b, err = traffic.Generate(cfg.Scenario)
	if err != nil {
		return nil, nil, fmt.Errorf("shop B: %w", err)
	}
	scA := cfg.Scenario
	scA.Seed, scA.Attacks = cfg.SeedA, nil
	a, err = traffic.Generate(scA)
	if err != nil {
		return nil, nil, fmt.Errorf("shop A: %w", err)
	}
	crew, err := crewAtAWire(a, b, cfg)
	if err != nil {
		return nil, nil, err
	}
	a = append(a, crew...)
	at := func(l traffic.Labeled) time.Time {
		var ev struct {
			OccurredAt time.Time `json:"occurred_at"`
		}
		_ = json.Unmarshal(l.Event, &ev) // generated: always well formed
		return ev.OccurredAt
	}
	slices.SortStableFunc(a, func(x, y traffic.Labeled) int { return at(x).Compare(at(y)) })
	return a, b, nil
}

// crewAtAWire is crewAtA on the API's events: shop B's attack, Lag
// earlier, part of its networks elsewhere, its logins matched against
// shop A's customers.
func crewAtAWire(a, b []traffic.Labeled, cfg Federated) ([]traffic.Labeled, error) {
	users := map[string]client.User{}
	for _, l := range a {
		var ev client.Event
		if err := json.Unmarshal(l.Event, &ev); err != nil {
			return nil, fmt.Errorf("shop A's event: %w", err)
		}
		if ev.User != nil && ev.User.ID != "" && ev.Login != "" {
			users[ev.Login] = *ev.User
		}
	}
	atA := map[string]client.User{} // B's user id → A's account
	var out []traffic.Labeled
	for _, x := range b {
		if x.Label.Actor != traffic.ActorAttacker {
			continue
		}
		var ev client.Event
		if err := json.Unmarshal(x.Event, &ev); err != nil {
			return nil, fmt.Errorf("the crew's event: %w", err)
		}
		ev.OccurredAt = ev.OccurredAt.Add(-cfg.Lag)
		if ip, err := netip.ParseAddr(ev.Context.IP); err == nil {
			ev.Context.IP = moveNetwork(ip, cfg.SharedSources).String()
		}
		switch ev.Type {
		case client.LoginSucceeded, client.LoginFailed:
			u, ok := users[ev.Login]
			if ok {
				if ev.User != nil {
					atA[ev.User.ID] = u
				}
				ev.User = &u
			} else {
				ev.User, ev.SessionID, ev.Type = nil, "", client.LoginFailed
				if ev.Properties == nil {
					ev.Properties = &client.Properties{}
				}
				ev.Properties.Reason = client.ReasonUnknownAccount
			}
			x.Label.AccountExists, x.Label.ValidCredential = ok, ok && x.Label.ValidCredential
		default:
			if ev.User == nil {
				continue
			}
			u, ok := atA[ev.User.ID]
			if !ok {
				continue
			}
			ev.User.ID = u.ID
		}
		raw, err := json.Marshal(&ev)
		if err != nil {
			return nil, fmt.Errorf("the crew's event at A: %w", err)
		}
		out = append(out, traffic.Labeled{Label: x.Label, Event: raw})
	}
	return out, nil
}

// ShopPlayer plays one shop's traffic at its guard's API in batches of
// event time, as RunFederated plays it in process: owners pass the
// step-ups they are asked for (an mfa.succeeded 20 s later), the crew
// cannot. The incident is the first answer that names one.
type ShopPlayer struct {
	g Assessor
	q wireQueue
	o ShopOutcome
}

// NewShopPlayer returns a player of evs (in time order) at g.
func NewShopPlayer(g Assessor, evs []traffic.Labeled) *ShopPlayer {
	return &ShopPlayer{g: g, q: wireQueue{evs: evs}}
}

// Done reports whether every event was played.
func (p *ShopPlayer) Done() bool {
	_, ok, _ := p.q.peek()
	return !ok
}

// PlayUntil plays the events that occur before until.
func (p *ShopPlayer) PlayUntil(ctx context.Context, until time.Time) error {
	const window = 15 * time.Second // under the owners' 20 s: an answer is in a later batch
	for {
		first, ok, err := p.q.peek()
		if err != nil {
			return err
		}
		if !ok || !first.ev.OccurredAt.Before(until) {
			return nil
		}
		end := first.ev.OccurredAt.Add(window)
		if end.After(until) {
			end = until
		}
		var batch []wireItem
		for len(batch) < maxBatch {
			next, ok, err := p.q.peek()
			if err != nil {
				return err
			}
			if !ok || !next.ev.OccurredAt.Before(end) {
				break
			}
			p.q.pop()
			batch = append(batch, next)
		}
		if err := p.assess(ctx, batch); err != nil {
			return err
		}
	}
}

func (p *ShopPlayer) assess(ctx context.Context, batch []wireItem) error {
	raws := make([]json.RawMessage, len(batch))
	for k := range batch {
		raws[k] = batch[k].raw
	}
	rs, err := p.g.AssessRaw(ctx, raws)
	if err != nil {
		return fmt.Errorf("assessing a batch of %d events: %w", len(batch), err)
	}
	for k, x := range batch {
		r := rs[k]
		tallyWire(&p.o, x.l, &x.ev, r)
		if x.l.Actor != traffic.ActorOwner || x.ev.Type != client.LoginSucceeded || r.Decision != client.Challenge || r.Challenge == nil {
			continue
		}
		pass := client.Event{Type: client.MFASucceeded, OccurredAt: x.ev.OccurredAt.Add(20 * time.Second), User: x.ev.User,
			SessionID: x.ev.SessionID, Context: x.ev.Context,
			Properties: &client.Properties{ChallengeID: r.Challenge.ID, Method: "totp"}}
		raw, err := json.Marshal(&pass)
		if err != nil {
			return err
		}
		p.q.answer(wireItem{ev: pass, raw: raw})
	}
	return nil
}

// Outcome is the shop's tally so far.
func (p *ShopPlayer) Outcome() ShopOutcome {
	o := p.o
	if !o.crewStart.IsZero() && !o.incident.IsZero() {
		o.IncidentAfter = o.incident.Sub(o.crewStart).Round(time.Second).String()
	}
	if o.OwnerLogins > 0 {
		o.OwnerFriction = float64(int(10000*float64(o.OwnerChallenged)/float64(o.OwnerLogins)+0.5)) / 100
	}
	return o
}

// wireItem is one event of PlayShop: generated (with its label) or an
// owner's answer to a step-up (no label).
type wireItem struct {
	l   traffic.Label
	ev  client.Event
	raw json.RawMessage
}

// wireQueue merges the generated events and the owners' answers in time
// order.
type wireQueue struct {
	evs     []traffic.Labeled
	i       int
	next    *wireItem  // evs[i], decoded
	answers []wireItem // in time order
}

// peek returns the next event, without taking it.
func (q *wireQueue) peek() (wireItem, bool, error) {
	if q.next == nil && q.i < len(q.evs) {
		x := wireItem{l: q.evs[q.i].Label, raw: q.evs[q.i].Event}
		if err := json.Unmarshal(x.raw, &x.ev); err != nil {
			return wireItem{}, false, fmt.Errorf("event %d: %w", q.i, err)
		}
		q.next = &x
	}
	switch {
	case len(q.answers) > 0 && (q.next == nil || q.answers[0].ev.OccurredAt.Before(q.next.ev.OccurredAt)):
		return q.answers[0], true, nil
	case q.next != nil:
		return *q.next, true, nil
	}
	return wireItem{}, false, nil
}

// pop takes the event peek returned.
func (q *wireQueue) pop() {
	if len(q.answers) > 0 && (q.next == nil || q.answers[0].ev.OccurredAt.Before(q.next.ev.OccurredAt)) {
		q.answers = q.answers[1:]
		return
	}
	q.next = nil
	q.i++
}

// answer queues an owner's answer to a step-up.
func (q *wireQueue) answer(x wireItem) {
	at, _ := slices.BinarySearchFunc(q.answers, x.ev.OccurredAt, func(a wireItem, t time.Time) int {
		if a.ev.OccurredAt.After(t) {
			return 1
		}
		return -1
	})
	q.answers = slices.Insert(q.answers, at, x)
}

// tallyWire counts one answer of the guard, as shop.tally does.
func tallyWire(o *ShopOutcome, l traffic.Label, ev *client.Event, r client.Result) {
	if l.Actor == "" {
		return // an owner's answer to a step-up
	}
	stopped := r.Decision == client.Challenge || r.Decision == client.Deny
	if slices.ContainsFunc(r.Reasons, func(rs client.Reason) bool { return strings.HasPrefix(rs.Code, "peer.") }) {
		o.PeerReasons++
	}
	if len(r.Actions) > 0 {
		o.PasswordChangeAsk++
	}
	login := ev.Type == client.LoginSucceeded || ev.Type == client.LoginFailed
	switch {
	case l.Actor == traffic.ActorAttacker && login:
		if o.crewStart.IsZero() {
			o.crewStart = ev.OccurredAt
		}
		o.CrewAttempts++
		if o.incident.IsZero() {
			o.AttemptsBefore++
		}
		if l.ValidCredential {
			o.StolenLogins++
			if !stopped {
				o.StolenLetIn++
			}
		}
	case l.Actor == traffic.ActorAttacker && ev.Type == client.OrderAttempt:
		o.CrewOrders++
		if r.Decision == client.Allow {
			o.CrewOrdersLetIn++
		}
	case l.Actor == traffic.ActorOwner && l.Phase == traffic.PhaseEval && ev.Type == client.LoginSucceeded:
		o.OwnerLogins++
		if stopped {
			o.OwnerChallenged++
		}
	}
	if r.IncidentID != "" && o.incident.IsZero() {
		o.incident = ev.OccurredAt
	}
}
