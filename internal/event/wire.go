package event

import "encoding/json"

// The wire types mirror the JSON of docs/api.md, field by field. Decode reads
// them from untrusted input; MarshalRedacted writes their JSON (by hand,
// tested against encoding/json's), so what it writes is exactly what
// Decode reads. The schema that checkStructure enforces is
// derived from these types too (see schema.go).

type wireEvent struct {
	Type       string          `json:"type"`
	OccurredAt string          `json:"occurred_at"`
	RequestID  string          `json:"request_id,omitempty"`
	Login      string          `json:"login,omitempty"`
	User       *wireUser       `json:"user,omitempty"`
	SessionID  string          `json:"session_id,omitempty"`
	Context    *wireContext    `json:"context"`
	Credential *wireCredential `json:"credential,omitempty"`
	Properties *wireProperties `json:"properties,omitempty"`
}

type wireUser struct {
	ID    string `json:"id,omitempty"`
	Email string `json:"email,omitempty"`
}

type wireContext struct {
	IP                string            `json:"ip"`
	UserAgent         string            `json:"user_agent,omitempty"`
	AcceptLanguage    string            `json:"accept_language,omitempty"`
	DeviceID          string            `json:"device_id,omitempty"`
	ClientFingerprint string            `json:"client_fingerprint,omitempty"`
	Headers           map[string]string `json:"headers,omitempty"`
}

type wireCredential struct {
	// PasswordSHA1 is a pointer so that "" (an error) differs from absent.
	PasswordSHA1 *string `json:"password_sha1,omitempty"`
}

// wireProperties is the one open object: keys other than these are allowed
// and ignored (docs/api.md: extend freely).
type wireProperties struct {
	Reason      string     `json:"reason,omitempty"`
	Fields      []string   `json:"fields,omitempty"`
	Order       *wireOrder `json:"order,omitempty"`
	ChallengeID string     `json:"challenge_id,omitempty"`
	Method      string     `json:"method,omitempty"`
}

type wireOrder struct {
	ID       string        `json:"id"`
	Amount   *int64        `json:"amount"`
	Currency string        `json:"currency"`
	Items    []wireItem    `json:"items"`
	Shipping *wireShipping `json:"shipping,omitempty"`
	Payment  *wirePayment  `json:"payment,omitempty"`
	Delivery *wireDelivery `json:"delivery,omitempty"`
}

type wireItem struct {
	SKU       string `json:"sku"`
	Quantity  int64  `json:"quantity"`
	UnitPrice *int64 `json:"unit_price"`
}

type wireShipping struct {
	Name       string `json:"name,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	Country    string `json:"country,omitempty"`
	Region     string `json:"region,omitempty"`
	City       string `json:"city,omitempty"`
	Line1      string `json:"line1,omitempty"`
	Line2      string `json:"line2,omitempty"`
	NewForUser bool   `json:"new_for_user,omitempty"`
}

type wirePayment struct {
	Method     string `json:"method,omitempty"`
	NewForUser bool   `json:"new_for_user,omitempty"`
}

type wireDelivery struct {
	Method      string `json:"method,omitempty"`
	PickupStore string `json:"pickup_store,omitempty"`
}

type wireBatch struct {
	Events []json.RawMessage `json:"events"`
}
