// Package notify tells account owners and operators what atoguard saw: new
// device logins, contact changes and orders to the owner (on the address on
// file before any recent change), incident alerts to operators, by SMTP
// email and signed webhooks, and the operators' bulk actions on the
// accounts an incident reached (force a password reset, notify the owner,
// freeze orders) to the shop by signed webhook, all delivered from the
// store's persisted outbox with retries.
//
// The engine builds notifications with a Planner and writes them in the
// same store.Batch as the decision they follow, so a notification owed is
// durable once the event is answered; a Dispatcher delivers them.
package notify

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // time_zone works on hosts without a zone database

	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/ids"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/webhook"
)

// Notification kinds (package webhook owns them).
const (
	KindNewDeviceLogin = webhook.KindNewDeviceLogin
	KindContactChanged = webhook.KindContactChanged
	KindOrder          = webhook.KindOrder
	KindIncidentOpened = webhook.KindIncidentOpened
	KindIncidentClosed = webhook.KindIncidentClosed
)

// Kinds returns every notification kind, the operator actions
// (ActionKinds) last.
func Kinds() []string {
	return append([]string{KindNewDeviceLogin, KindContactChanged, KindOrder, KindIncidentOpened, KindIncidentClosed},
		ActionKinds()...)
}

// Payload is what a notification says: the JSON body of its webhook, and
// the subject and text of its email.
type Payload = webhook.Payload

// Owner is the account a notification is about.
type Owner struct {
	Account  string         // the user id
	Contacts ContactHistory // its addresses; Observe the event's user.email first
}

// Login is a login from a device or network the account had not used.
type Login struct {
	Ref        string    // what makes it unique, e.g. the event id; empty: none
	At         time.Time // when it happened (the engine's clock)
	Decision   string    // the decision given: allow, challenge, review or deny
	NewDevice  bool
	NewNetwork bool
	IP         string
	Country    string // ISO code, when GeoIP knows it
	Agent      string // browser family, e.g. "Chrome/Windows"
}

// ContactUpdate is a change of an account's contact or delivery data
// (a profile.updated event).
type ContactUpdate struct {
	Ref      string    // e.g. the event id; empty: none
	At       time.Time // when it happened (the engine's clock)
	Fields   []string  // properties.fields: email, phone, shipping_address, notification_settings, payment_method
	OldEmail string    // the address before, when the email changed
	NewEmail string
	IP       string
	Agent    string
}

// Order is an order.attempt and the decision given. Only what is safe to
// put in a message is used: the street lines, the recipient name and any
// payment detail beyond the method never appear.
type Order struct {
	Ref         string    // empty: the order id
	At          time.Time // when it happened (the engine's clock)
	Decision    string    // allow, challenge, review or deny
	event.Order           // properties.order
}

// Planner builds the notifications the configuration asks for. It does no
// I/O. A nil *Planner builds none, so callers need not check whether
// notifications are configured. It is safe for concurrent use.
//
// Every builder takes two times: the At of its input is when the event
// happened, on the engine's clock (event time under --clock event); it
// picks the owner's recipients and is shown in the message. now is the
// wall-clock time of enqueueing (the engine's received time): the
// notification's CreatedAt and NextAttemptAt, which the dispatcher, on
// the wall clock, schedules and ages by.
type Planner struct {
	window   time.Duration
	site     string
	loc      *time.Location
	email    bool     // SMTP is configured
	ops      []string // operator email addresses
	webhooks []WebhookConfig
}

// NewPlanner returns a Planner for cfg, which it validates.
func NewPlanner(cfg Config) (*Planner, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("notify configuration: %w", err)
	}
	cfg = cfg.withDefaults()
	loc, err := time.LoadLocation(cfg.TimeZone)
	if err != nil {
		return nil, fmt.Errorf("notify.time_zone: %w", err)
	}
	return &Planner{
		window: cfg.OwnerWindow(), site: cfg.SiteName, loc: loc, email: cfg.SMTP.Host != "",
		ops: cfg.OperatorEmails, webhooks: cfg.Webhooks,
	}, nil
}

// Window returns how far back the owner's address before a change is
// used.
func (p *Planner) Window() time.Duration {
	if p == nil {
		return 0
	}
	return p.window
}

// NewDeviceLogin returns the notifications of a login from a new device or
// network: emails to the owner's recipients and the webhooks that take
// owner.new_device_login.
func (p *Planner) NewDeviceLogin(o Owner, l Login, now time.Time) []store.Notification {
	if p == nil {
		return nil
	}
	m := p.loginMessage(l)
	return p.owner(KindNewDeviceLogin, o, l.Ref, l.At, now, m)
}

// ContactChanged returns the notifications of a contact change. Call
// o.Contacts.Observe with the new address first: the owner is then told on
// the address before the change as well as the new one.
func (p *Planner) ContactChanged(o Owner, c ContactUpdate, now time.Time) []store.Notification {
	if p == nil {
		return nil
	}
	m := p.contactMessage(c, len(o.Contacts.Recipients(c.At, p.window)) > 1)
	return p.owner(KindContactChanged, o, c.Ref, c.At, now, m)
}

// OrderPlaced returns the notifications of an order, whatever its
// decision: the owner hears of every order.
func (p *Planner) OrderPlaced(o Owner, ord Order, now time.Time) []store.Notification {
	if p == nil {
		return nil
	}
	ref := ord.Ref
	if ref == "" {
		ref = ord.ID
	}
	m := p.orderMessage(ord)
	return p.owner(KindOrder, o, ref, ord.At, now, m)
}

// IncidentOpened returns the operator alerts of an incident that opened.
func (p *Planner) IncidentOpened(inc store.Incident, now time.Time) []store.Notification {
	if p == nil {
		return nil
	}
	return p.operator(KindIncidentOpened, inc.ID, inc.StartedAt, now, p.incidentMessage(inc, false))
}

// IncidentClosed returns the operator alerts of an incident that closed,
// with its final counts.
func (p *Planner) IncidentClosed(inc store.Incident, now time.Time) []store.Notification {
	if p == nil {
		return nil
	}
	return p.operator(KindIncidentClosed, inc.ID, inc.EndedAt, now, p.incidentMessage(inc, true))
}

// message is what a builder says, before it is addressed.
type message struct {
	subject, text string
	data          any
}

// owner addresses m to the owner's recipients by email (when SMTP is
// configured) and to every webhook taking kind.
func (p *Planner) owner(kind string, o Owner, ref string, at, now time.Time, m message) []store.Notification {
	to := o.Contacts.Recipients(at, p.window)
	var out []store.Notification
	if p.email {
		for _, addr := range to {
			out = append(out, p.build(kind, ref, store.ChannelEmail, addr, o.Account, []string{addr}, at, now, m))
		}
	}
	for _, w := range p.webhooks {
		if matchKind(w.Kinds, kind) {
			out = append(out, p.build(kind, ref, store.ChannelWebhook, w.Name, o.Account, to, at, now, m))
		}
	}
	return out
}

// operator addresses m to the operator emails and every webhook taking
// kind.
func (p *Planner) operator(kind, ref string, at, now time.Time, m message) []store.Notification {
	var out []store.Notification
	if p.email {
		for _, addr := range p.ops {
			out = append(out, p.build(kind, ref, store.ChannelEmail, addr, "", nil, at, now, m))
		}
	}
	for _, w := range p.webhooks {
		if matchKind(w.Kinds, kind) {
			out = append(out, p.build(kind, ref, store.ChannelWebhook, w.Name, "", nil, at, now, m))
		}
	}
	return out
}

func (p *Planner) build(kind, ref, channel, recipient, account string, to []string, at, now time.Time, m message) store.Notification {
	now = now.UTC()
	id := ids.New("ntf", now)
	dedupe := id
	if ref != "" {
		dedupe = strings.Join([]string{kind, account, ref, channel, recipient}, "\x1f")
	}
	data, err := json.Marshal(m.data)
	if err != nil { // the data types are plain structs: this cannot happen
		data = []byte("null")
	}
	payload, err := json.Marshal(Payload{
		ID: id, Kind: kind, CreatedAt: now, OccurredAt: at.UTC(), Account: account, To: to,
		Subject: m.subject, Text: m.text, Data: data,
	})
	if err != nil {
		payload = []byte("{}")
	}
	return store.Notification{
		ID: id, DedupeKey: dedupe, Kind: kind, Channel: channel, Recipient: recipient, Account: account,
		Payload: payload, CreatedAt: now, NextAttemptAt: now, State: store.NotificationPending,
	}
}
