package engine

import (
	"context"
	"path"
	"slices"
	"time"

	"github.com/atoguard/atoguard/internal/address"
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/signal/familiarity"
	"github.com/atoguard/atoguard/internal/signal/order"
	"github.com/atoguard/atoguard/internal/signal/session"
	"github.com/atoguard/atoguard/internal/store"
)

// OrderConfig tunes order screening. Zero values take defaults.
type OrderConfig struct {
	// HighValue maps a currency to the amount (in the currency's unit as
	// sent) from which an order is high value. Default: JPY 50000, USD
	// 500, EUR 500.
	HighValue map[string]int64 `yaml:"high_value"`
	// RiskySKUs are glob patterns (path.Match) of items that make any
	// order high value, e.g. "iphone-*".
	RiskySKUs []string `yaml:"risky_skus"`
	// ContactCooldown is how long after a contact change a high-value
	// order is held (default 72h).
	ContactCooldown time.Duration `yaml:"contact_cooldown"`
	// DropPointWindow is how long an address or pickup store remembers the
	// accounts that used it (default 72h).
	DropPointWindow time.Duration `yaml:"drop_point_window"`
	MaxDropPoints   int           `yaml:"max_drop_points"` // default 100000
	// SurgeMinOrders and SurgeFactor: an item surges when its last hour
	// holds at least SurgeMinOrders orders and SurgeFactor times its usual
	// hourly rate (defaults 10 and 5).
	SurgeMinOrders float64 `yaml:"surge_min_orders"`
	SurgeFactor    float64 `yaml:"surge_factor"`
	MaxItems       int     `yaml:"max_items"`    // items watched for surges (default 10000)
	MaxSessions    int     `yaml:"max_sessions"` // sessions remembered (default 200000)
}

func (c OrderConfig) withDefaults() OrderConfig {
	if c.HighValue == nil {
		c.HighValue = map[string]int64{"JPY": 50000, "USD": 500, "EUR": 500}
	}
	if c.ContactCooldown <= 0 {
		c.ContactCooldown = 72 * time.Hour
	}
	if c.DropPointWindow <= 0 {
		c.DropPointWindow = 72 * time.Hour
	}
	if c.MaxDropPoints <= 0 {
		c.MaxDropPoints = 100_000
	}
	if c.SurgeMinOrders <= 0 {
		c.SurgeMinOrders = 10
	}
	if c.SurgeFactor <= 0 {
		c.SurgeFactor = 5
	}
	if c.MaxItems <= 0 {
		c.MaxItems = 10_000
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 200_000
	}
	return c
}

// orderSignals are the cross-account order detectors and the sessions.
type orderSignals struct {
	cfg      OrderConfig
	drops    *order.DropPoints
	surge    *order.Surge
	sessions *session.Tracker
}

func newOrderSignals(cfg OrderConfig) *orderSignals {
	cfg = cfg.withDefaults()
	return &orderSignals{
		cfg:      cfg,
		drops:    order.NewDropPoints(cfg.MaxDropPoints, cfg.DropPointWindow),
		surge:    order.NewSurge(cfg.MaxItems, cfg.SurgeMinOrders, cfg.SurgeFactor),
		sessions: session.New(cfg.MaxSessions),
	}
}

// Payment methods and delivery methods with a meaning of their own.
const (
	payCarrier     = "carrier_billing"
	payConvenience = "convenience_store"
)

func isPickup(d event.Delivery) bool {
	return d.PickupStore != "" || d.Method == "convenience_store" || d.Method == "store_pickup" || d.Method == "pickup"
}

// orderContext is what familiarity learns of an order.
func orderContext(o *event.Order) familiarity.OrderContext {
	oc := familiarity.OrderContext{Payment: o.Payment.Method}
	if isPickup(o.Delivery) {
		oc.PickupStore = o.Delivery.PickupStore
	} else {
		oc.Address = address.Key(address.Address{
			PostalCode: o.Shipping.PostalCode, Country: o.Shipping.Country, Region: o.Shipping.Region,
			City: o.Shipping.City, Line1: o.Shipping.Line1, Line2: o.Shipping.Line2,
		})
	}
	return oc
}

// sessionFacts fills in how the event's session began.
func (os *orderSignals) sessionFacts(ev *event.Event, now time.Time, in *policy.Input) {
	st, ok := os.sessions.Get(ev.SessionID)
	if !ok || (ev.User.ID != "" && st.UserID != ev.User.ID) {
		return
	}
	in.Session = policy.SessionFacts{
		Known: true, LoginDecision: st.LoginDecision, LoginRisk: st.LoginRisk, Unfamiliar: st.Unfamiliar,
		Challenged: st.Challenged, ChallengePassed: st.ChallengePassed, WeakFactor: st.WeakFactor,
		MinutesSinceLogin: now.Sub(st.LoginAt).Minutes(),
	}
}

// orderFacts fills in the facts of an order.attempt and returns what to
// learn if the order is allowed.
func (e *Engine) orderFacts(ctx context.Context, ev *event.Event, now time.Time, in *policy.Input) (familiarity.OrderContext, error) {
	o := ev.Properties.Order
	if ev.Type != event.OrderAttempt || o == nil {
		return familiarity.OrderContext{}, nil
	}
	cfg := e.orders.cfg
	oc := orderContext(o)
	f := policy.OrderFacts{
		Present: true, Amount: o.Amount, Currency: o.Currency,
		Pickup:                  isPickup(o.Delivery),
		CarrierBilling:          o.Payment.Method == payCarrier,
		ConvenienceStorePayment: o.Payment.Method == payConvenience,
		HoursSinceContactChange: -1,
	}
	for _, it := range o.Items {
		if slices.ContainsFunc(cfg.RiskySKUs, func(p string) bool { ok, _ := path.Match(p, it.SKU); return ok }) {
			f.RiskyItem = true
		}
	}
	if limit, ok := cfg.HighValue[o.Currency]; ok && o.Amount >= limit {
		f.HighValue = true
	}
	f.HighValue = f.HighValue || f.RiskyItem

	of, err := e.familiar.AssessOrder(ctx, ev.User.ID, oc)
	if err != nil {
		return oc, err
	}
	f.FirstOrder = of.Orders == 0
	if f.Pickup {
		f.NewPickupStore = oc.PickupStore == "" || !of.StoreKnown
	} else {
		f.NewAddress = o.Shipping.NewForUser || (oc.Address != "" && !of.AddressKnown)
	}
	f.NewPayment = o.Payment.NewForUser || (oc.Payment != "" && !of.PaymentKnown && !f.FirstOrder)
	for field, at := range of.Changes {
		age := now.Sub(at)
		if age < 0 || age >= cfg.ContactCooldown {
			continue
		}
		f.ContactChangedRecently = true
		if field == "email" {
			f.EmailChangedRecently = true
		}
		if h := age.Hours(); f.HoursSinceContactChange < 0 || h < f.HoursSinceContactChange {
			f.HoursSinceContactChange = h
		}
	}

	risky := (in.Session.Known && in.Session.Unfamiliar && !in.Session.ChallengePassed) || !in.Account.Familiar || f.NewAddress
	// A home address shared by several accounts is a drop point. A
	// convenience store serves many honest customers, so only orders from
	// risky contexts count there. Recipient names are not counted: common
	// names are shared by many honest accounts.
	f.DropPointAccounts = e.orders.drops.Observe(oc.Address, ev.User.ID, now)
	if risky {
		f.DropPointAccounts = max(f.DropPointAccounts, e.orders.drops.Observe(oc.PickupStore, ev.User.ID, now))
	}

	for _, it := range o.Items {
		st := e.orders.surge.Observe(it.SKU, risky, now)
		if st.Surging && st.RiskyShare >= f.SurgeRiskyShare {
			f.Surge, f.SurgeRiskyShare = true, st.RiskyShare
		}
	}
	in.Order = f
	return oc, nil
}

// sessionOf is the session a login.succeeded begins.
func sessionOf(uid string, now time.Time, in *policy.Input, res Result) session.State {
	return session.State{
		UserID: uid, LoginAt: now, LoginDecision: string(res.Decision), LoginRisk: res.Risk,
		// Unfamiliar against a known history: a first login is new,
		// not suspicious, by itself.
		Unfamiliar: in.Account.HasHistory && !in.Account.Familiar, Challenged: res.Decision == policy.Challenge,
	}
}

// stepUpSession is the session an mfa.* event is about: its own, or the
// one of the challenge it answers, which is on record.
func (e *Engine) stepUpSession(ctx context.Context, ev *event.Event) string {
	sid := ev.SessionID
	if sid == "" && ev.Properties.ChallengeID != "" {
		if ch, err := e.records.GetChallenge(ctx, ev.Properties.ChallengeID); err == nil && ch.UserID == ev.User.ID {
			sid = ch.SessionID
		}
	}
	return sid
}

// orderSideEffects learns from allowed orders and contact changes, and
// carries logins and step-ups into sessions.
func (e *Engine) orderSideEffects(ctx context.Context, ev *event.Event, now time.Time, in *policy.Input, res Result, oc familiarity.OrderContext, b *store.Batch) error {
	uid := ev.User.ID
	switch ev.Type {
	case event.LoginSucceeded:
		e.orders.sessions.Login(ev.SessionID, sessionOf(uid, now, in, res))
	case event.MFASucceeded:
		sid := e.stepUpSession(ctx, ev)
		if policy.WeakMFAMethod(ev.Properties.Method) {
			e.orders.sessions.Weak(sid)
		} else {
			e.orders.sessions.Pass(sid)
		}
	case event.ProfileUpdated:
		p, err := e.familiar.ContactChanged(ctx, uid, ev.Properties.Fields, now)
		if err != nil {
			return err
		}
		b.Profiles = append(b.Profiles, p)
	case event.OrderAttempt:
		if o := ev.Properties.Order; o != nil && res.Decision == policy.Review {
			rv := store.Review{
				ID: res.ReviewID, EventID: res.EventID, UserID: uid, SessionID: ev.SessionID, OrderID: o.ID,
				Amount: o.Amount, Currency: o.Currency, IncidentID: in.Campaign.IncidentID,
				State: store.ReviewPending, CreatedAt: now,
			}
			for _, r := range res.Reasons {
				rv.Reasons = append(rv.Reasons, r.Code)
			}
			b.Reviews = append(b.Reviews, rv)
		}
		if res.Decision == policy.Allow && ev.Properties.Order != nil {
			p, err := e.familiar.LearnOrder(ctx, uid, oc, now)
			if err != nil {
				return err
			}
			b.Profiles = append(b.Profiles, p)
		}
	}
	return nil
}
