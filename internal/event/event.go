// Package event defines the events a shop reports to atoguard and turns
// untrusted JSON into validated, normalized events.
package event

import (
	"log/slog"
	"net/netip"
	"time"
)

// Type is an event type from the API contract (docs/api.md).
type Type string

// The event types of API version 1.
const (
	LoginAttempt           Type = "login.attempt"
	LoginSucceeded         Type = "login.succeeded"
	LoginFailed            Type = "login.failed"
	Registration           Type = "registration"
	PasswordChanged        Type = "password.changed"
	PasswordResetRequested Type = "password.reset_requested"
	ProfileUpdated         Type = "profile.updated"
	OrderAttempt           Type = "order.attempt"
	MFASucceeded           Type = "mfa.succeeded"
	MFAFailed              Type = "mfa.failed"
)

// Types lists every known event type, in the order of docs/api.md.
var Types = []Type{
	LoginAttempt, LoginSucceeded, LoginFailed, Registration, PasswordChanged,
	PasswordResetRequested, ProfileUpdated, OrderAttempt, MFASucceeded, MFAFailed,
}

// IsLogin reports whether t is one of the login.* types.
func (t Type) IsLogin() bool {
	return t == LoginAttempt || t == LoginSucceeded || t == LoginFailed
}

// Failure reasons of a login.failed event (properties.reason).
const (
	ReasonBadPassword    = "bad_password"
	ReasonUnknownAccount = "unknown_account"
	ReasonLocked         = "locked"
)

// Event is one validated, normalized event. Identifiers (Login, User.Email)
// are already normalized (NFKC, case folded, trimmed).
type Event struct {
	Type       Type
	OccurredAt time.Time
	RequestID  string
	Login      string
	User       User
	SessionID  string
	Context    Context
	Credential Credential
	Properties Properties
}

// User identifies the account an event is about. ID is empty when the
// account does not exist (login.failed for an unknown account).
type User struct {
	ID    string
	Email string
}

// Context describes where the event came from.
type Context struct {
	IP                netip.Addr // always valid after Decode
	UserAgent         string
	AcceptLanguage    string
	DeviceID          string
	ClientFingerprint string
	Headers           map[string]string // keys lower-cased
}

// Credential carries what the shop sent about the password. It never holds
// a clear-text password, and it redacts itself in logs.
type Credential struct {
	PasswordSHA1 [20]byte
	HasPassword  bool
}

// LogValue implements slog.LogValuer so a credential never reaches a log.
func (Credential) LogValue() slog.Value { return slog.StringValue("REDACTED") }

// Properties holds the type-specific part of an event.
type Properties struct {
	Reason      string   // login.failed: bad_password, unknown_account, locked
	Fields      []string // profile.updated: changed fields
	Order       *Order   // order.attempt
	ChallengeID string   // mfa.*: the challenge answered, if any
	Method      string   // mfa.*: the factor used (totp, webauthn, sms, ...)
}

// UnknownAccount reports whether a failed login names no existing account:
// either the shop said so, or it sent no user id.
func (e *Event) UnknownAccount() bool {
	if e.Type != LoginFailed {
		return false
	}
	return e.Properties.Reason == ReasonUnknownAccount || e.User.ID == ""
}

// Account returns the key that identifies the account: the user id when
// known, else the normalized login.
func (e *Event) Account() string {
	if e.User.ID != "" {
		return e.User.ID
	}
	return e.Login
}

// Order is properties.order of an order.attempt event.
type Order struct {
	ID       string
	Amount   int64
	Currency string
	Items    []Item
	Shipping Shipping
	Payment  Payment
	Delivery Delivery
}

// Item is one order line.
type Item struct {
	SKU       string
	Quantity  int64
	UnitPrice int64
}

// Shipping is the delivery address of an order.
type Shipping struct {
	Name       string
	PostalCode string
	Country    string
	Region     string
	City       string
	Line1      string
	Line2      string
	NewForUser bool
}

// Payment is how an order is paid.
type Payment struct {
	Method     string
	NewForUser bool
}

// Delivery is how an order is handed over.
type Delivery struct {
	Method      string
	PickupStore string
}
