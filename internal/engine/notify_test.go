package engine

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
)

// TestOwnerIsToldOnTheOldAddress follows the 2018 pattern: the attacker
// logs in, changes the email and orders; every notice reaches the address
// the owner had before the change, whether the shop sends the events one
// by one or in one batch.
func TestOwnerIsToldOnTheOldAddress(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run(map[bool]string{false: "one by one", true: "one batch"}[batch], func(t *testing.T) {
			ownerIsToldOnTheOldAddress(t, batch)
		})
	}
}

func ownerIsToldOnTheOldAddress(t *testing.T, batch bool) {
	ctx := context.Background()
	st := memory.New()
	p, err := notify.NewPlanner(notify.Config{SMTP: notify.SMTPConfig{Host: "127.0.0.1", From: "Shop <security@example.jp>"}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, "", st, func(d *Deps) { d.Notifications = p })
	at := func(d time.Duration) string { return t0.Add(d).Format(time.RFC3339) }
	var evs []event.Event
	for _, js := range []string{
		`{"type": "login.succeeded", "occurred_at": "` + at(0) + `", "login": "hanako@example.jp", "user": {"id": "u-7", "email": "hanako@example.jp"}, "session_id": "s-1", "context": {"ip": "203.0.113.50", "device_id": "d-own", "accept_language": "ja", "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1"}}`,
		`{"type": "login.succeeded", "occurred_at": "` + at(24*time.Hour) + `", "login": "hanako@example.jp", "user": {"id": "u-7", "email": "hanako@example.jp"}, "session_id": "s-2", "context": {"ip": "198.51.100.23", "accept_language": "ja", "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1"}}`,
		`{"type": "profile.updated", "occurred_at": "` + at(24*time.Hour+time.Minute) + `", "user": {"id": "u-7", "email": "drop123@example.net"}, "session_id": "s-2", "context": {"ip": "198.51.100.23"}, "properties": {"fields": ["email"]}}`,
		`{"type": "order.attempt", "occurred_at": "` + at(24*time.Hour+3*time.Minute) + `", "user": {"id": "u-7", "email": "drop123@example.net"}, "session_id": "s-2", "context": {"ip": "198.51.100.23"}, "properties": {"order": {"id": "o-2", "amount": 131800, "currency": "JPY", "items": [{"sku": "iphone-x-256-silver", "quantity": 1, "unit_price": 131800}], "payment": {"method": "carrier_billing"}, "delivery": {"method": "convenience_store", "pickup_store": "famima-1"}}}}`,
	} {
		ev := decode(t, "%s", js)
		if batch {
			evs = append(evs, ev)
			continue
		}
		if _, err := e.Assess(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if batch {
		if _, err := e.AssessBatch(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	ns, err := st.ListNotifications(ctx, store.NotificationQuery{Account: "u-7"})
	if err != nil {
		t.Fatal(err)
	}
	byKind := map[string][]string{}
	for _, n := range ns {
		byKind[n.Kind] = append(byKind[n.Kind], n.Recipient)
	}
	for _, kind := range []string{"owner.new_device_login", "owner.contact_changed", "owner.order"} {
		if !slices.Contains(byKind[kind], "hanako@example.jp") {
			t.Errorf("%s went to %v, want the address on file before the change (hanako@example.jp)", kind, byKind[kind])
		}
	}
	if len(byKind) != 3 {
		t.Errorf("notifications by kind: %v", byKind)
	}
}

// TestOrderCarryingANewEmailOwesBoth checks that an order that is the
// first event with a new address notifies both the change and the order.
func TestOrderCarryingANewEmailOwesBoth(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	p, err := notify.NewPlanner(notify.Config{SMTP: notify.SMTPConfig{Host: "127.0.0.1", From: "Shop <security@example.jp>"}})
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, "", st, func(d *Deps) { d.Notifications = p })
	ua := "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1"
	for _, js := range []string{
		`{"type": "login.succeeded", "occurred_at": "` + t0.Format(time.RFC3339) + `", "login": "ken@example.jp", "user": {"id": "u-9", "email": "ken@example.jp"}, "session_id": "s-1", "context": {"ip": "203.0.113.50", "device_id": "d-own", "accept_language": "ja", "user_agent": "` + ua + `"}}`,
		`{"type": "order.attempt", "occurred_at": "` + t0.Add(time.Minute).Format(time.RFC3339) + `", "user": {"id": "u-9", "email": "ken.new@example.jp"}, "session_id": "s-1", "context": {"ip": "203.0.113.50", "device_id": "d-own"}, "properties": {"order": {"id": "o-1", "amount": 1980, "currency": "JPY", "items": [{"sku": "usb-c-cable-1m", "quantity": 1, "unit_price": 1980}], "payment": {"method": "card"}, "delivery": {"method": "home"}}}}`,
	} {
		if _, err := e.Assess(ctx, decode(t, "%s", js)); err != nil {
			t.Fatal(err)
		}
	}
	ns, err := st.ListNotifications(ctx, store.NotificationQuery{Account: "u-9"})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, n := range ns {
		kinds[n.Kind] = true
	}
	if !kinds["owner.contact_changed"] || !kinds["owner.order"] {
		t.Errorf("kinds %v, want both owner.contact_changed and owner.order", kinds)
	}
}
