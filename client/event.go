package client

import "time"

// The request and response types of POST /v1/events (docs/api.md),
// field by field. Optional parts are pointers or omitempty, so what a shop
// leaves out is not sent.

// Event types a shop reports (docs/api.md).
const (
	LoginAttempt           = "login.attempt"
	LoginSucceeded         = "login.succeeded"
	LoginFailed            = "login.failed"
	Registration           = "registration"
	PasswordChanged        = "password.changed"
	PasswordResetRequested = "password.reset_requested"
	ProfileUpdated         = "profile.updated"
	OrderAttempt           = "order.attempt"
	MFASucceeded           = "mfa.succeeded"
	MFAFailed              = "mfa.failed"
)

// Failure reasons of a login.failed event (Properties.Reason).
const (
	ReasonBadPassword    = "bad_password"
	ReasonUnknownAccount = "unknown_account"
	ReasonLocked         = "locked"
)

// Event is one event a shop reports.
type Event struct {
	Type       string      `json:"type"`
	OccurredAt time.Time   `json:"occurred_at"`
	RequestID  string      `json:"request_id,omitempty"`
	Login      string      `json:"login,omitempty"`
	User       *User       `json:"user,omitempty"`
	SessionID  string      `json:"session_id,omitempty"`
	Context    Context     `json:"context"`
	Credential *Credential `json:"credential,omitempty"`
	Properties *Properties `json:"properties,omitempty"`
}

// User is the account an event is about. Leave it nil on a login.failed
// for an account that does not exist: its absence means "unknown account".
type User struct {
	ID    string `json:"id"`
	Email string `json:"email,omitempty"`
}

// Context says where the event came from. IP is required.
type Context struct {
	IP                string            `json:"ip"`
	UserAgent         string            `json:"user_agent,omitempty"`
	AcceptLanguage    string            `json:"accept_language,omitempty"`
	DeviceID          string            `json:"device_id,omitempty"`
	ClientFingerprint string            `json:"client_fingerprint,omitempty"`
	Headers           map[string]string `json:"headers,omitempty"`
}

// Credential carries the SHA-1 of the submitted password (40 hex digits),
// never the password. See PasswordSHA1.
type Credential struct {
	PasswordSHA1 string `json:"password_sha1"`
}

// Properties is the type-specific part of an event.
type Properties struct {
	Reason      string   `json:"reason,omitempty"`       // login.failed
	Fields      []string `json:"fields,omitempty"`       // profile.updated: email, phone, shipping_address, notification_settings, payment_method
	Order       *Order   `json:"order,omitempty"`        // order.attempt
	ChallengeID string   `json:"challenge_id,omitempty"` // mfa.*
	Method      string   `json:"method,omitempty"`       // mfa.*: totp, webauthn, email_otp, sms, ...
}

// Order is properties.order of an order.attempt.
type Order struct {
	ID       string    `json:"id"`
	Amount   int64     `json:"amount"`
	Currency string    `json:"currency"`
	Items    []Item    `json:"items"`
	Shipping *Shipping `json:"shipping,omitempty"`
	Payment  *Payment  `json:"payment,omitempty"`
	Delivery *Delivery `json:"delivery,omitempty"`
}

// Item is one order line.
type Item struct {
	SKU       string `json:"sku"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
}

// Shipping is where an order goes.
type Shipping struct {
	Name       string `json:"name,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	Country    string `json:"country,omitempty"`
	Region     string `json:"region,omitempty"`
	City       string `json:"city,omitempty"`
	Line1      string `json:"line1,omitempty"`
	Line2      string `json:"line2,omitempty"`
	NewForUser bool   `json:"new_for_user,omitempty"`
}

// Payment is how an order is paid.
type Payment struct {
	Method     string `json:"method,omitempty"` // credit_card, carrier_billing, convenience_store, ...
	NewForUser bool   `json:"new_for_user,omitempty"`
}

// Delivery is how an order is handed over.
type Delivery struct {
	Method      string `json:"method,omitempty"` // home, convenience_store
	PickupStore string `json:"pickup_store,omitempty"`
}

// Decisions the guard gives.
const (
	Allow     = "allow"
	Challenge = "challenge"
	Deny      = "deny"
	Review    = "review"
)

// Actions the guard asks of the shop beside its decision (Result.Actions).
const (
	// ActionRequirePasswordChange: the account's password is known to
	// attackers; make the owner change it at the next sign-in.
	ActionRequirePasswordChange = "require_password_change"
)

// Result is the guard's answer to one event.
type Result struct {
	EventID  string   `json:"event_id"`
	Decision string   `json:"decision"` // Allow, Challenge, Deny or Review
	Risk     int      `json:"risk"`     // 0 to 100
	Reasons  []Reason `json:"reasons"`
	// Challenge is the step-up to run, with a challenge decision.
	Challenge *ChallengeOffer `json:"challenge,omitempty"`
	// IncidentID names the attack the event belongs to, when it does.
	IncidentID string `json:"incident_id,omitempty"`
	// ReviewID names the held order, with a review decision.
	ReviewID string `json:"review_id,omitempty"`
	// Actions are what the shop should also do (ActionRequirePasswordChange).
	Actions []string `json:"actions,omitempty"`
	// Fallback is set when the guard gave no answer and the decision is
	// the client's fail mode (Assess then also returns the error).
	Fallback bool `json:"-"`
}

// Reason is one reason for a decision: a stable code and a sentence for
// people.
type Reason struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// ChallengeOffer is the step-up the guard asks for with a challenge
// decision.
type ChallengeOffer struct {
	ID        string    `json:"id"`
	Methods   []string  `json:"methods"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Incident is a credential-stuffing campaign as GET /v1/incidents lists it
// and operator.incident_* webhook notifications carry it.
type Incident struct {
	ID                  string     `json:"id"`
	Kind                string     `json:"kind"`  // e.g. credential_stuffing
	State               string     `json:"state"` // open or closed
	StartedAt           time.Time  `json:"started_at"`
	EndedAt             *time.Time `json:"ended_at"` // null while open
	Attempts            int64      `json:"attempts"`
	DistinctIPs         int64      `json:"distinct_ips"`
	DistinctPrefixes    int64      `json:"distinct_prefixes"`
	AccountsTargeted    int64      `json:"accounts_targeted"`
	AccountsCompromised int64      `json:"accounts_compromised"`
	TopSources          []Source   `json:"top_sources"` // never null: [] when none
}

// Source is one of an incident's top sources.
type Source struct {
	Kind     string `json:"kind"` // ip, prefix, user_agent
	Value    string `json:"value"`
	Attempts int64  `json:"attempts"`
}
