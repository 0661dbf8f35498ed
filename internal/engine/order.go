package engine

import (
	"context"
	"time"

	"github.com/atoguard/atoguard/internal/address"
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/signal/familiarity"
	"github.com/atoguard/atoguard/internal/signal/order"
	"github.com/atoguard/atoguard/internal/signal/session"
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

// sessionOf is the session a login.succeeded begins.
func sessionOf(uid string, now time.Time, in *policy.Input, res Result) session.State {
	return session.State{
		UserID: uid, LoginAt: now, LoginDecision: string(res.Decision), LoginRisk: res.Risk,
		// Unfamiliar against a known history: a first login is new,
		// not suspicious, by itself.
		Unfamiliar: in.Account.HasHistory && !in.Account.Familiar, Challenged: res.Decision == policy.Challenge,
		Stranger: in.Account.HasHistory && !in.Account.Familiar && !in.Network.SeenInShop,
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
