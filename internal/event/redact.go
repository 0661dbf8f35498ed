package event

import (
	"encoding/json"
	"time"
)

// MarshalRedacted returns the event as JSON in the shape of docs/api.md, without
// the credential: the form kept in the audit log. Decoding the result gives
// the same event, but for an empty Credential.
func (e Event) MarshalRedacted() ([]byte, error) {
	w := wireEvent{
		Type:       string(e.Type),
		OccurredAt: e.OccurredAt.UTC().Format(time.RFC3339Nano),
		RequestID:  e.RequestID,
		Login:      e.Login,
		SessionID:  e.SessionID,
		Context: &wireContext{
			UserAgent:         e.Context.UserAgent,
			AcceptLanguage:    e.Context.AcceptLanguage,
			DeviceID:          e.Context.DeviceID,
			ClientFingerprint: e.Context.ClientFingerprint,
			Headers:           e.Context.Headers,
		},
	}
	if e.Context.IP.IsValid() {
		w.Context.IP = e.Context.IP.String()
	}
	if e.User != (User{}) {
		w.User = &wireUser{ID: e.User.ID, Email: e.User.Email}
	}
	p := e.Properties
	if p.Reason != "" || len(p.Fields) > 0 || p.Order != nil || p.ChallengeID != "" || p.Method != "" {
		w.Properties = &wireProperties{
			Reason:      p.Reason,
			Fields:      p.Fields,
			ChallengeID: p.ChallengeID,
			Method:      p.Method,
		}
		if o := p.Order; o != nil {
			w.Properties.Order = wireOrderOf(o)
		}
	}
	return json.Marshal(&w)
}

func wireOrderOf(o *Order) *wireOrder {
	w := &wireOrder{
		ID:       o.ID,
		Amount:   &o.Amount,
		Currency: o.Currency,
		Items:    make([]wireItem, len(o.Items)),
	}
	for i, it := range o.Items {
		w.Items[i] = wireItem{SKU: it.SKU, Quantity: it.Quantity, UnitPrice: &it.UnitPrice}
	}
	if s := o.Shipping; s != (Shipping{}) {
		w.Shipping = &wireShipping{
			Name: s.Name, PostalCode: s.PostalCode, Country: s.Country, Region: s.Region,
			City: s.City, Line1: s.Line1, Line2: s.Line2, NewForUser: s.NewForUser,
		}
	}
	if p := o.Payment; p != (Payment{}) {
		w.Payment = &wirePayment{Method: p.Method, NewForUser: p.NewForUser}
	}
	if d := o.Delivery; d != (Delivery{}) {
		w.Delivery = &wireDelivery{Method: d.Method, PickupStore: d.PickupStore}
	}
	return w
}

// String implements fmt.Stringer so that printing an event with %v never
// shows the password hash.
func (Credential) String() string { return "REDACTED" }

// GoString implements fmt.GoStringer for %#v, for the same reason.
func (Credential) GoString() string { return "event.Credential{REDACTED}" }

// MarshalJSON keeps the password hash out of any JSON made from an Event
// with encoding/json directly. Use MarshalRedacted for the API shape.
func (Credential) MarshalJSON() ([]byte, error) { return []byte(`"REDACTED"`), nil }
