package dashboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/atoguard/atoguard/internal/browsertest"
)

type obj = map[string]any

// postEvents sends events to the guard's API in batches.
func (f *fixture) postEvents(t *testing.T, evs []obj) []obj {
	t.Helper()
	var out []obj
	for i := 0; i < len(evs); i += 20 {
		body, _ := json.Marshal(obj{"events": evs[i:min(i+20, len(evs))]})
		req, _ := http.NewRequest("POST", f.srv.URL+"/v1/events:batch", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+apiSecret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			Results []obj `json:"results"`
		}
		err = json.NewDecoder(resp.Body).Decode(&res)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("posting events: %d %v", resp.StatusCode, err)
		}
		out = append(out, res.Results...)
		f.dash.Sample() // a point of the rates chart
	}
	return out
}

// attack posts an order held for review, then owners' logins and a
// distributed credential-stuffing burst with one stolen password: enough
// for the engine to open an incident.
func (f *fixture) attack(t *testing.T) {
	t.Helper()
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	ts := func(at time.Time) string { return at.Format(time.RFC3339Nano) }
	ua := "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

	// An owner changes the email and an hour later orders a phone: held.
	buyer := obj{"ip": "198.51.100.7", "device_id": "d-buyer", "user_agent": ua, "accept_language": "ja-JP"}
	home := obj{"name": "山田 太郎", "postal_code": "100-0001", "country": "JP", "region": "東京都", "city": "千代田区", "line1": "千代田1-1"}
	order := func(id string, amount int64, sku string) obj {
		return obj{"order": obj{"id": id, "amount": amount, "currency": "JPY",
			"items":    []obj{{"sku": sku, "quantity": 1, "unit_price": amount}},
			"shipping": home, "payment": obj{"method": "card"}, "delivery": obj{"method": "home"}}}
	}
	b := t0.Add(-3 * time.Hour)
	held := f.postEvents(t, []obj{
		{"type": "login.succeeded", "occurred_at": ts(b), "login": "hanako@example.jp", "user": obj{"id": "u-buyer"}, "session_id": "s-b", "context": buyer},
		{"type": "order.attempt", "occurred_at": ts(b.Add(time.Minute)), "user": obj{"id": "u-buyer"}, "session_id": "s-b", "context": buyer, "properties": order("o-1001", 1980, "usb-c-cable-1m")},
		{"type": "profile.updated", "occurred_at": ts(b.Add(time.Hour)), "user": obj{"id": "u-buyer"}, "session_id": "s-b", "context": buyer, "properties": obj{"fields": []string{"email"}}},
		{"type": "order.attempt", "occurred_at": ts(b.Add(2 * time.Hour)), "user": obj{"id": "u-buyer"}, "session_id": "s-b", "context": buyer, "properties": order("o-1002", 131800, "iphone-x-256-silver")},
	})
	if d := held[3]["decision"]; d != "review" {
		t.Fatalf("the phone order: decision %v, want review", d)
	}

	const users = 20
	login := func(i int, at time.Time) obj {
		return obj{"type": "login.succeeded", "occurred_at": ts(at), "login": fmt.Sprintf("user%d@example.jp", i),
			"user": obj{"id": fmt.Sprintf("u-%d", i)}, "session_id": fmt.Sprintf("s-%d-%d", i, at.Unix()),
			"context": obj{"ip": fmt.Sprintf("198.18.%d.10", i), "device_id": fmt.Sprintf("d-%d", i),
				"user_agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "accept_language": "ja-JP,ja;q=0.9"}}
	}
	var evs []obj
	for n := range 300 {
		evs = append(evs, login(n%users, t0.Add(time.Duration(n)*6*time.Second)))
	}
	start := t0.Add(30 * time.Minute)
	for n := range 200 {
		evs = append(evs, obj{"type": "login.failed", "occurred_at": ts(start.Add(time.Duration(n) * 250 * time.Millisecond)),
			"login": fmt.Sprintf("victim%d@example.jp", n), "properties": obj{"reason": "unknown_account"},
			"context": obj{"ip": fmt.Sprintf("203.0.%d.%d", 100+n%40, 1+n/40), "user_agent": ua, "accept_language": "en-US,en;q=0.9"}})
	}
	for i := range 3 { // the owners' passwords, from the attackers' network
		stolen := login(i, start.Add(time.Duration(51+i)*time.Second))
		stolen["context"].(obj)["ip"] = fmt.Sprintf("192.0.2.%d", 70+i)
		stolen["context"].(obj)["device_id"] = "d-attacker"
		evs = append(evs, stolen)
	}
	var incident string
	for _, r := range f.postEvents(t, evs) {
		if id, _ := r["incident_id"].(string); id != "" {
			incident = id
		}
	}
	if incident == "" {
		t.Fatal("the attack opened no incident")
	}
}

// TestBrowser signs in with a real browser, sees the incident an attack
// opened, opens it, sends the shop a bulk action on the accounts to reset,
// and approves a held order, saving screenshots.
func TestBrowser(t *testing.T) {
	b := browsertest.Open(t, browsertest.Options{Width: 1366, Height: 900})
	ctx := b.Ctx
	f, rc, disp := actionFixture(t)
	f.attack(t)

	// shot saves the whole page, or only what a 1366×900 laptop screen
	// shows for long pages.
	shot, clickAndLoad, text := b.Shot, b.ClickAndLoad, b.Text

	// Sign in: password and a TOTP code computed from the operator's secret.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(f.srv.URL+"/ui/"),
		chromedp.WaitVisible(chromedp.ID("login-form")),
		chromedp.SendKeys(chromedp.ID("name"), opName),
		chromedp.SendKeys(chromedp.ID("password"), opPassword),
		chromedp.SendKeys(chromedp.ID("code"), f.code(t, time.Now())),
	); err != nil {
		t.Fatalf("sign-in page: %v", err)
	}
	shot("01-login", true)
	clickAndLoad("#signin")

	// The overview shows the open incident, the held order and the charts.
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("open-incidents")), chromedp.WaitVisible(chromedp.CSS("#charts .uplot"))); err != nil {
		t.Fatalf("overview: %v", err)
	}
	if got := text("#tile-open .big"); got != "1" {
		t.Errorf("open incidents tile = %q, want 1", got)
	}
	if got := text("#tile-reviews .big"); got != "1" {
		t.Errorf("held orders tile = %q, want 1", got)
	}
	shot("02-overview", true)

	// Open the incident: the accounts it reached, with the CSV link.
	clickAndLoad("#open-incidents a")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("accounts"))); err != nil {
		t.Fatalf("incident page: %v", err)
	}
	if acc := text("#accounts"); !strings.Contains(acc, "victim") {
		t.Errorf("incident accounts lack the targeted accounts: %q", acc)
	}
	shot("03-incident", false)

	// Bulk action: tick the stepped-up accounts (their passwords were
	// right) with a quick-select button (app.js), force a password reset,
	// see the confirmation.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#quick-select button[data-select="challenged"]`)),
		chromedp.Click(chromedp.CSS(`#bulk-form input[name=action][value=force_password_reset]`)),
	); err != nil {
		t.Fatalf("bulk action form: %v", err)
	}
	if got := text("#selected-count"); !strings.HasPrefix(got, "3 ") {
		t.Errorf("selected after the quick select: %q, want 3", got)
	}
	clickAndLoad("#bulk-submit")
	if got := text("#bulk-done"); !strings.Contains(got, "force password reset for 3 accounts") {
		t.Errorf("confirmation: %q", got)
	}
	shot("08-bulk-action", false)
	deliver(t, disp)
	var reset []string
	for _, p := range rc.take() {
		if p.Kind == "action.force_password_reset" && dataOf(t, p).Operator == opName {
			reset = append(reset, p.Account)
		}
	}
	slices.Sort(reset)
	if strings.Join(reset, ",") != "u-0,u-1,u-2" {
		t.Errorf("the shop was asked to reset %v, want u-0, u-1, u-2", reset)
	}

	// An account the attack reached: its devices, networks and decisions.
	clickAndLoad(`#accounts a[href="/ui/accounts/u-0"]`)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("events"))); err != nil {
		t.Fatalf("account page: %v", err)
	}
	if ev := text("#events"); !strings.Contains(ev, "campaign.active") {
		t.Errorf("account events lack the campaign reason: %q", ev)
	}
	shot("07-account", false)

	// Approve the held order with a note.
	if err := chromedp.Do(ctx, chromedp.Navigate(f.srv.URL+"/ui/reviews"), chromedp.WaitVisible(chromedp.ID("reviews"))); err != nil {
		t.Fatalf("review queue: %v", err)
	}
	if q := text("#reviews"); !strings.Contains(q, "o-1002") {
		t.Fatalf("review queue lacks the held order: %q", q)
	}
	shot("04-reviews", true)
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS("form.decide input[name=note]"), "本人に電話で確認 confirmed by phone")); err != nil {
		t.Fatal(err)
	}
	clickAndLoad("form.decide button.approve")
	if got := text("p.ok"); !strings.Contains(got, "Decided") {
		t.Errorf("after approving: %q", got)
	}
	rvs, err := f.store.ListReviews(context.Background(), "approved")
	if err != nil || len(rvs) != 1 || rvs[0].DecidedBy != "operator:"+opName || !strings.Contains(rvs[0].Note, "confirmed by phone") {
		t.Errorf("approved reviews = %+v, %v", rvs, err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(f.srv.URL+"/ui/reviews?state=approved"), chromedp.WaitVisible(chromedp.ID("reviews"))); err != nil {
		t.Fatal(err)
	}
	shot("05-review-approved", true)

	if err := chromedp.Do(ctx, chromedp.Navigate(f.srv.URL+"/ui/policy"), chromedp.WaitVisible(chromedp.ID("rules"))); err != nil {
		t.Fatal(err)
	}
	shot("06-policy", false)
}
