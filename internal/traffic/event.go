package traffic

import "time"

// The JSON shapes of POST /v1/events (docs/api.md) that the generator
// writes. Optional parts are pointers or omitempty so absent means absent.

type eventJSON struct {
	Type       string          `json:"type"`
	OccurredAt string          `json:"occurred_at"`
	RequestID  string          `json:"request_id"`
	Login      string          `json:"login,omitempty"`
	User       *userJSON       `json:"user,omitempty"`
	SessionID  string          `json:"session_id,omitempty"`
	Context    contextJSON     `json:"context"`
	Credential *credentialJSON `json:"credential,omitempty"`
	Properties propertiesJSON  `json:"properties"`
}

type userJSON struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

type contextJSON struct {
	IP                string       `json:"ip"`
	UserAgent         string       `json:"user_agent,omitempty"`
	AcceptLanguage    string       `json:"accept_language,omitempty"`
	DeviceID          string       `json:"device_id,omitempty"`
	ClientFingerprint string       `json:"client_fingerprint,omitempty"`
	Headers           *headersJSON `json:"headers,omitempty"`
}

// headersJSON holds the client hints a Chromium-based browser sends.
type headersJSON struct {
	SecCHUA         string `json:"sec-ch-ua,omitempty"`
	SecCHUAMobile   string `json:"sec-ch-ua-mobile,omitempty"`
	SecCHUAPlatform string `json:"sec-ch-ua-platform,omitempty"`
}

type credentialJSON struct {
	PasswordSHA1 string `json:"password_sha1"`
}

type propertiesJSON struct {
	Reason string     `json:"reason,omitempty"`
	Fields []string   `json:"fields,omitempty"`
	Order  *orderJSON `json:"order,omitempty"`
}

type orderJSON struct {
	ID       string       `json:"id"`
	Amount   int64        `json:"amount"`
	Currency string       `json:"currency"`
	Items    []itemJSON   `json:"items"`
	Shipping shippingJSON `json:"shipping"`
	Payment  paymentJSON  `json:"payment"`
	Delivery deliveryJSON `json:"delivery"`
}

type itemJSON struct {
	SKU       string `json:"sku"`
	Quantity  int64  `json:"quantity"`
	UnitPrice int64  `json:"unit_price"`
}

type shippingJSON struct {
	Name       string `json:"name"`
	PostalCode string `json:"postal_code"`
	Country    string `json:"country"`
	Region     string `json:"region"`
	City       string `json:"city"`
	Line1      string `json:"line1"`
	NewForUser bool   `json:"new_for_user"`
}

type paymentJSON struct {
	Method     string `json:"method"`
	NewForUser bool   `json:"new_for_user"`
}

type deliveryJSON struct {
	Method      string  `json:"method"`
	PickupStore *string `json:"pickup_store"`
}

// Event types and failure reasons the generator writes.
const (
	typeLoginSucceeded = "login.succeeded"
	typeLoginFailed    = "login.failed"
	typeOrderAttempt   = "order.attempt"
	typeProfileUpdated = "profile.updated"
	reasonBadPassword  = "bad_password"
	reasonUnknown      = "unknown_account"
)

// formatMillis formats Unix milliseconds as RFC 3339 UTC with milliseconds.
func formatMillis(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.000Z")
}
