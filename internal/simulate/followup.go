package simulate

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/demoshop"
	"github.com/atoguard/atoguard/internal/traffic"
)

// What an attacker does with an account it got into, as in 2018: maybe
// change the contact email so the owner hears nothing, then order a phone
// for convenience-store pickup, paid by carrier billing.
const (
	fraudSKU     = "iphone-x-256-silver"
	fraudPayment = demoshop.PayCarrier
	// minDelay is the shortest time from an action to its follow-up; fast
	// mode batches never span more, so a follow-up always lands after the
	// batch that caused it.
	minDelay = 30 * time.Second
)

// FollowUps tunes what attackers and owners do after a login.
type FollowUps struct {
	// EmailChange is the share of takeovers in which the attacker changes
	// the contact email before ordering (default 0.5).
	EmailChange float64
	// Order is the share of takeovers followed by a fraudulent order of
	// the high-value phone (default 1).
	Order float64
}

func (f FollowUps) withDefaults() FollowUps {
	if f.EmailChange == 0 {
		f.EmailChange = 0.5
	}
	if f.Order == 0 {
		f.Order = 1
	}
	return f
}

// Kinds of follow-up actions.
const (
	fuEmail = iota + 1
	fuOrder
	fuMFAFailed    // an abandoned step-up, as the shop's sweep reports it
	fuMFASucceeded // an owner passing a step-up (fast mode's model of a working step-up)
)

// followUp is an action scheduled after an earlier one.
type followUp struct {
	at    time.Time
	kind  int
	label traffic.Label
	ev    client.Event // the login that led to it (context, user, session)
	chal  string
	seq   int      // tie-break: scheduling order
	br    *browser // live mode: the browser that acts
}

type followUps []followUp

func (h followUps) Len() int { return len(h) }
func (h followUps) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h followUps) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *followUps) Push(x any)   { *h = append(*h, x.(followUp)) }
func (h *followUps) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// planner schedules follow-ups reproducibly.
type planner struct {
	f   FollowUps
	r   *rand.Rand
	q   followUps
	seq int
}

func newPlanner(f FollowUps, seed int64) *planner {
	return &planner{f: f.withDefaults(), r: rand.New(rand.NewPCG(uint64(seed), 0x666f6c6c6f77))}
}

func (p *planner) push(fu followUp) {
	p.seq++
	fu.seq = p.seq
	heap.Push(&p.q, fu)
}

func (p *planner) between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(p.r.Int64N(int64(hi-lo)))
}

// takeover schedules what the attacker does in an account it got into;
// in live mode br is the attacker's browser.
func (p *planner) takeover(login client.Event, l traffic.Label, br *browser) {
	at := login.OccurredAt
	if p.r.Float64() < p.f.EmailChange {
		at = at.Add(p.between(minDelay, 2*time.Minute))
		p.push(followUp{at: at, kind: fuEmail, label: l, ev: login, br: br})
	}
	if p.r.Float64() < p.f.Order {
		p.push(followUp{at: at.Add(p.between(2*time.Minute, 6*time.Minute)), kind: fuOrder, label: l, ev: login, br: br})
	}
}

// abandoned schedules the mfa.failed the shop reports when a step-up
// expires unanswered.
func (p *planner) abandoned(login client.Event, l traffic.Label, c *client.ChallengeOffer) {
	at := login.OccurredAt.Add(5 * time.Minute)
	id := ""
	if c != nil {
		id = c.ID
		if !c.ExpiresAt.IsZero() {
			at = c.ExpiresAt
		}
	}
	if at.Before(login.OccurredAt.Add(minDelay)) {
		at = login.OccurredAt.Add(minDelay)
	}
	p.push(followUp{at: at.Add(p.between(0, 30*time.Second)), kind: fuMFAFailed, label: l, ev: login, chal: id})
}

// passed schedules an owner's successful step-up.
func (p *planner) passed(login client.Event, l traffic.Label, c *client.ChallengeOffer) {
	id := ""
	if c != nil {
		id = c.ID
	}
	p.push(followUp{at: login.OccurredAt.Add(p.between(minDelay, 90*time.Second)), kind: fuMFASucceeded, label: l, ev: login, chal: id})
}

func (p *planner) peek() (time.Time, bool) {
	if len(p.q) == 0 {
		return time.Time{}, false
	}
	return p.q[0].at, true
}

func (p *planner) pop() followUp { return heap.Pop(&p.q).(followUp) }

// fraudOrder is the order an attacker places.
func fraudOrder(r *rand.Rand) (*client.Order, demoshop.PickupStore) {
	prod, _ := demoshop.ProductBySKU(fraudSKU)
	store := demoshop.PickupStores[r.IntN(len(demoshop.PickupStores))]
	return &client.Order{
		ID: fmt.Sprintf("o-%012x", r.Uint64()>>16), Amount: prod.Price, Currency: "JPY",
		Items:    []client.Item{{SKU: prod.SKU, Quantity: 1, UnitPrice: prod.Price}},
		Shipping: &client.Shipping{Country: "JP", Line1: store.Name, NewForUser: true},
		Payment:  &client.Payment{Method: fraudPayment, NewForUser: true},
		Delivery: &client.Delivery{Method: demoshop.DeliveryKonbini, PickupStore: store.ID},
	}, store
}

// event builds the API event of a follow-up (fast mode).
func (p *planner) event(fu followUp) client.Event {
	base := fu.ev
	ev := client.Event{
		OccurredAt: fu.at, RequestID: fmt.Sprintf("req-fu-%d", fu.seq),
		User: base.User, SessionID: base.SessionID, Context: base.Context,
	}
	switch fu.kind {
	case fuEmail:
		ev.Type = client.ProfileUpdated
		ev.Properties = &client.Properties{Fields: []string{"email"}}
	case fuOrder:
		o, _ := fraudOrder(p.r)
		ev.Type = client.OrderAttempt
		ev.Properties = &client.Properties{Order: o}
	case fuMFAFailed:
		ev.Type = client.MFAFailed
		ev.Properties = &client.Properties{ChallengeID: fu.chal, Reason: "abandoned"}
	case fuMFASucceeded:
		ev.Type = client.MFASucceeded
		ev.Properties = &client.Properties{ChallengeID: fu.chal, Method: "totp"}
	}
	return ev
}
