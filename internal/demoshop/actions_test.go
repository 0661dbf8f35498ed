package demoshop

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/store"
)

// actionHook is the body of an operator action on u-1 as the guard's
// planner builds it: the owner's address before a change, then the
// attacker's.
func actionHook(t *testing.T, kind string) store.Notification {
	t.Helper()
	p, err := notify.NewPlanner(notify.Config{SiteName: "テストショップ", Webhooks: []notify.WebhookConfig{{
		Name: "shop", URL: "http://127.0.0.1:9/hook", SecretEnv: "X", Kinds: []string{"action.*"}}}})
	if err != nil {
		t.Fatal(err)
	}
	var h notify.ContactHistory
	h.Observe("taro@example.jp", t0.Add(-48*time.Hour))
	h.Observe("evil@example.net", t0.Add(-time.Hour))
	ns := p.OperatorAction(notify.Action{Kind: kind, Operator: "ops-taro", Incident: "inc_1", Batch: "b-1", Accounts: 1, At: t0},
		notify.ActionTarget{Owner: notify.Owner{Account: "u-1", Contacts: h}, Outcome: store.OutcomeAllowed}, t0)
	if len(ns) != 1 {
		t.Fatalf("%d notifications", len(ns))
	}
	return ns[0]
}

// attackerOrders logs the attacker in to u-1 and places an order.
func attackerOrders(t *testing.T, ts *testShop) *browser {
	t.Helper()
	b := ts.browser(t)
	b.login("taro@example.jp", "correct horse")
	b.post("/", "/cart/add", url.Values{"sku": {"iphone-x-256-silver"}, "quantity": {"1"}})
	if p := b.post("/checkout", "/checkout", url.Values{"delivery": {"home"}, "payment": {"credit_card"}}); p.dataStatus() != "order-accepted" {
		t.Fatalf("order: %q", p.dataStatus())
	}
	return b
}

func TestActionFreezeOrders(t *testing.T) {
	ts := newTestShop(t, Options{HookSecret: hookSecret})
	ctx := context.Background()
	attacker := attackerOrders(t, ts)
	before, _ := ts.shop.store.CountOutbox(ctx) // the shop's own new-device mail
	n := actionHook(t, notify.KindFreezeOrders)
	if got := postHook(t, ts, n.Payload, client.SignWebhook(hookSecret, t0, n.Payload)); got != http.StatusNoContent {
		t.Fatalf("delivery: %d", got)
	}
	orders, _ := ts.shop.store.Orders(ctx, "u-1")
	if len(orders) != 1 || orders[0].Status != StatusFrozen {
		t.Fatalf("orders %+v", orders)
	}
	if p := attacker.get("/orders"); !strings.Contains(p.body, "Frozen: not shipped") {
		t.Errorf("order history does not show the freeze:\n%s", p.body)
	}
	acts, err := ts.shop.store.GuardActions(ctx, "u-1", 10)
	if err != nil || len(acts) != 1 || acts[0].Operator != "ops-taro" || acts[0].Incident != "inc_1" || acts[0].Effect != "1 orders frozen" {
		t.Errorf("recorded actions %+v, %v", acts, err)
	}
	if p := ts.browser(t).get("/outbox"); !strings.Contains(p.body, `id="guard-actions"`) || !strings.Contains(p.body, "ops-taro") ||
		!strings.Contains(p.body, "注文の凍結 / Freeze orders") {
		t.Errorf("outbox page lacks the action:\n%s", p.body)
	}
	// No mail: the owner is told by notify_owner if the operator wants.
	if c, _ := ts.shop.store.CountOutbox(ctx); c != before {
		t.Errorf("%d mails, want %d", c, before)
	}
}

func TestActionForcePasswordReset(t *testing.T) {
	ts := newTestShop(t, Options{HookSecret: hookSecret})
	ctx := context.Background()
	attacker := attackerOrders(t, ts)
	n := actionHook(t, notify.KindForcePasswordReset)
	for range 2 { // a retry of the same notification does it once
		if got := postHook(t, ts, n.Payload, client.SignWebhook(hookSecret, t0, n.Payload)); got != http.StatusNoContent {
			t.Fatalf("delivery: %d", got)
		}
	}
	if p := attacker.get("/account"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/login") {
		t.Errorf("the attacker's session still works: %d %s", p.status, p.location)
	}
	// The reset link goes to the address before the change, once.
	mails, _ := ts.shop.store.Outbox(ctx, 10)
	if len(mails) != 2 || mails[0].To != "taro@example.jp" || resetLinkRE.FindString(mails[0].Body) == "" ||
		strings.Contains(mails[1].Body, "/reset-password/") {
		t.Fatalf("mails (the shop's new-device mail, then one reset link) %+v", mails)
	}
	// The password no longer logs in.
	if p := attacker.login("taro@example.jp", "correct horse"); p.dataStatus() != pageResetRequired {
		t.Errorf("login after a forced reset: %d %q", p.status, p.dataStatus())
	}
	if _, required, _ := ts.shop.store.resetRequired(ctx, "u-1"); !required {
		t.Error("no reset required")
	}
	acts, _ := ts.shop.store.GuardActions(ctx, "", 10)
	if len(acts) != 1 || !strings.Contains(acts[0].Effect, "1 sessions ended") {
		t.Errorf("recorded actions %+v", acts)
	}
	// The owner sets a new password with the mailed link.
	owner := ts.browser(t)
	link := resetLinkRE.FindString(mails[0].Body)
	if p := owner.post(link, link, url.Values{"password": {"a new secret"}, "confirm": {"a new secret"}}); p.dataStatus() != pageResetDone {
		t.Fatalf("reset: %q", p.dataStatus())
	}
	if p := owner.login("taro@example.jp", "a new secret"); p.status != http.StatusSeeOther || p.location != "/account" {
		t.Errorf("new password: %d %q", p.status, p.location)
	}
}

func TestActionNotifyOwner(t *testing.T) {
	ts := newTestShop(t, Options{HookSecret: hookSecret})
	ctx := context.Background()
	n := actionHook(t, notify.KindNotifyOwner)
	for range 2 {
		if got := postHook(t, ts, n.Payload, client.SignWebhook(hookSecret, t0, n.Payload)); got != http.StatusNoContent {
			t.Fatalf("delivery: %d", got)
		}
	}
	mails, _ := ts.shop.store.Outbox(ctx, 10)
	if len(mails) != 2 {
		t.Fatalf("%d mails, want 2 (a retry mails nothing twice): %+v", len(mails), mails)
	}
	oldMail := mails[1] // newest first
	if oldMail.To != "taro@example.jp" || !strings.Contains(oldMail.Body, "テストショップ") ||
		notMeLinkRE.FindString(oldMail.Body) == "" {
		t.Errorf("mail to the owner's address:\n%+v", oldMail)
	}
	if mails[0].To != "evil@example.net" {
		t.Errorf("second mail to %q", mails[0].To)
	}
}

func TestActionRefusedWithoutAGoodSignature(t *testing.T) {
	ts := newTestShop(t, Options{HookSecret: hookSecret})
	ctx := context.Background()
	attackerOrders(t, ts)
	before, _ := ts.shop.store.CountOutbox(ctx)
	for _, kind := range notify.ActionKinds() {
		body := actionHook(t, kind).Payload
		for name, sig := range map[string]string{
			"unsigned":     "",
			"wrong secret": client.SignWebhook([]byte("another secret, long enough"), t0, body),
			"stale":        client.SignWebhook(hookSecret, t0.Add(-time.Hour), body),
		} {
			if got := postHook(t, ts, body, sig); got != http.StatusUnauthorized {
				t.Errorf("%s %s: %d, want 401", kind, name, got)
			}
		}
		altered := bytes.Replace(body, []byte(`"u-1"`), []byte(`"u-2"`), 1)
		if got := postHook(t, ts, altered, client.SignWebhook(hookSecret, t0, body)); got != http.StatusUnauthorized {
			t.Errorf("%s altered: %d, want 401", kind, got)
		}
	}
	orders, _ := ts.shop.store.Orders(ctx, "u-1")
	if orders[0].Status == StatusFrozen {
		t.Error("a refused delivery froze an order")
	}
	if _, required, _ := ts.shop.store.resetRequired(ctx, "u-1"); required {
		t.Error("a refused delivery forced a reset")
	}
	if c, _ := ts.shop.store.CountOutbox(ctx); c != before {
		t.Errorf("%d mails after refused deliveries, want %d", c, before)
	}
	if acts, _ := ts.shop.store.GuardActions(ctx, "", 10); len(acts) != 0 {
		t.Errorf("recorded %+v", acts)
	}
}

func TestActionOnAnUnknownAccountDoesNothing(t *testing.T) {
	ts := newTestShop(t, Options{HookSecret: hookSecret})
	n := actionHook(t, notify.KindForcePasswordReset)
	body := bytes.Replace(n.Payload, []byte(`"account":"u-1"`), []byte(`"account":"u-404"`), 1)
	if got := postHook(t, ts, body, client.SignWebhook(hookSecret, t0, body)); got != http.StatusNoContent {
		t.Fatalf("delivery: %d", got)
	}
	if c, _ := ts.shop.store.CountOutbox(context.Background()); c != 0 {
		t.Errorf("%d mails", c)
	}
	if acts, _ := ts.shop.store.GuardActions(context.Background(), "u-404", 10); len(acts) != 1 || acts[0].Effect != "no such account" {
		t.Errorf("recorded %+v", acts)
	}
}
