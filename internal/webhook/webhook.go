// Package webhook is the contract of the guard's webhook deliveries, which
// notify produces and a shop decodes: the payload, its kinds, headers and
// the data of operator actions; it imports no other package of atoguard.
package webhook

import (
	"encoding/json"
	"time"
)

// Headers of a delivery besides the signature (package signature).
const (
	HeaderNotificationID = "Atoguard-Notification-Id"
	HeaderKind           = "Atoguard-Kind"
)

// Notification kinds.
const (
	KindNewDeviceLogin = "owner.new_device_login"
	KindContactChanged = "owner.contact_changed"
	KindOrder          = "owner.order"
	KindIncidentOpened = "operator.incident_opened" // data: an incidentview.Incident
	KindIncidentClosed = "operator.incident_closed" // data: an incidentview.Incident
)

// Operator actions: what an operator asks the shop to do about accounts
// an incident reached; data: an ActionData.
const (
	KindForcePasswordReset = "action.force_password_reset"
	KindNotifyOwner        = "action.notify_owner"
	KindFreezeOrders       = "action.freeze_orders"
)

// ActionKinds returns the operator action kinds.
func ActionKinds() []string {
	return []string{KindForcePasswordReset, KindNotifyOwner, KindFreezeOrders}
}

// Payload is what a notification says: the JSON body of its webhook, and
// the subject and text of its email.
type Payload struct {
	ID         string    `json:"id"`   // the notification id, the same on every retry
	Kind       string    `json:"kind"` // one of the kinds above
	CreatedAt  time.Time `json:"created_at"`
	OccurredAt time.Time `json:"occurred_at"`       // when what it reports happened
	Account    string    `json:"account,omitempty"` // owner and action kinds: the user id
	// To are the addresses the owner is told on (owner and action kinds):
	// the one on file before any recent change first. A shop receiving
	// owner kinds by webhook mails these itself.
	To      []string        `json:"to,omitempty"`
	Subject string          `json:"subject"`
	Text    string          `json:"text"` // plain text in Japanese then English; chat tools show it
	Data    json.RawMessage `json:"data"` // kind-specific details (README)
}

// ActionData is the data of the action.* kinds.
type ActionData struct {
	Action   string    `json:"action"`   // the kind without "action."
	Operator string    `json:"operator"` // who asked
	Incident string    `json:"incident"` // the incident id
	Outcome  string    `json:"outcome,omitempty"`
	Batch    string    `json:"batch"`    // shared by the notifications of one request
	Accounts int       `json:"accounts"` // how many accounts that request covers
	At       time.Time `json:"at"`
}
