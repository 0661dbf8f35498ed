package event

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"testing"
	"time"
)

// wireRedacted is the wire form of the redacted event, as MarshalRedacted
// built it before it wrote JSON itself: encoding/json's output of it is
// the reference AppendRedacted must match byte for byte.
func wireRedacted(e *Event) *wireEvent {
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
		w.Properties = &wireProperties{Reason: p.Reason, Fields: p.Fields, ChallengeID: p.ChallengeID, Method: p.Method}
		if o := p.Order; o != nil {
			wo := &wireOrder{ID: o.ID, Amount: &o.Amount, Currency: o.Currency, Items: make([]wireItem, len(o.Items))}
			for i, it := range o.Items {
				wo.Items[i] = wireItem{SKU: it.SKU, Quantity: it.Quantity, UnitPrice: &it.UnitPrice}
			}
			if s := o.Shipping; s != (Shipping{}) {
				wo.Shipping = &wireShipping{Name: s.Name, PostalCode: s.PostalCode, Country: s.Country, Region: s.Region,
					City: s.City, Line1: s.Line1, Line2: s.Line2, NewForUser: s.NewForUser}
			}
			if pm := o.Payment; pm != (Payment{}) {
				wo.Payment = &wirePayment{Method: pm.Method, NewForUser: pm.NewForUser}
			}
			if d := o.Delivery; d != (Delivery{}) {
				wo.Delivery = &wireDelivery{Method: d.Method, PickupStore: d.PickupStore}
			}
			w.Properties.Order = wo
		}
	}
	return &w
}

// checkSameAsEncodingJSON checks that AppendRedacted writes what
// encoding/json writes for the event's wire form.
func checkSameAsEncodingJSON(t *testing.T, e *Event) {
	t.Helper()
	want, err := json.Marshal(wireRedacted(e))
	if err != nil {
		t.Fatal(err)
	}
	if got := e.AppendRedacted(nil); !bytes.Equal(got, want) {
		t.Fatalf("AppendRedacted =\n%s\nencoding/json =\n%s", got, want)
	}
}

// TestAppendRedactedEscapes covers what only events built in code carry
// (decoded events have no control characters) and the corner cases of
// empty members.
func TestAppendRedactedEscapes(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 123000000, time.FixedZone("JST", 9*3600))
	for _, e := range []Event{
		{Type: LoginFailed, OccurredAt: at, Login: "a\"b\\c<d>e&f\u2028g\u2029h\x00\x01\b\f\n\r\t\x7f i 日本",
			User: User{Email: "only@email"}, Context: Context{IP: netip.MustParseAddr("2001:db8::1"),
				Headers: map[string]string{"z": "1", "a": "<script>", "m": ""}}},
		{Type: OrderAttempt, OccurredAt: at, Properties: Properties{Order: &Order{ID: "o", Amount: -5,
			Shipping: Shipping{NewForUser: true}, Payment: Payment{NewForUser: true}, Delivery: Delivery{PickupStore: "s"}}}},
		{Type: OrderAttempt, Properties: Properties{Order: &Order{Items: []Item{{SKU: "a", Quantity: 1}, {SKU: "b"}}}}},
		{Type: ProfileUpdated, Properties: Properties{Fields: []string{"email", "phone"}, Method: "totp"}},
		{Type: MFASucceeded, Properties: Properties{ChallengeID: "c"}},
	} {
		checkSameAsEncodingJSON(t, &e)
	}
	// Invalid UTF-8 (never in a decoded event): U+FFFD, as Go 1.27's
	// encoding/json writes it (Go 1.26's wrote the escape \ufffd).
	e := Event{Type: LoginFailed, Login: "a\xffb"}
	var got struct{ Login string }
	if err := json.Unmarshal(e.AppendRedacted(nil), &got); err != nil || got.Login != "a\uFFFDb" {
		t.Errorf("invalid UTF-8: %q, %v; want %q", got.Login, err, "a\uFFFDb")
	}
}

func BenchmarkAppendRedacted(b *testing.B) {
	e, err := Decode([]byte(apiExample))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	buf := make([]byte, 0, 1024)
	for b.Loop() {
		buf = e.AppendRedacted(buf[:0])
	}
}
