package demoshop

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/store"
)

var hookSecret = []byte("whsec_test_0123456789abcdef0123456789")

// fakeOutbox is the guard's notification outbox, in memory: each claim
// hands out what is pending.
type fakeOutbox struct {
	mu      sync.Mutex
	pending []store.Notification
	sent    []string
	failed  []string
}

func (o *fakeOutbox) ClaimNotifications(context.Context, time.Time, time.Duration, int) ([]store.Notification, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	ns := o.pending
	o.pending = nil
	return ns, nil
}

func (o *fakeOutbox) MarkNotificationSent(_ context.Context, id string, _ time.Time) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, id)
	return nil
}

func (o *fakeOutbox) MarkNotificationRetry(_ context.Context, id string, _ time.Time, msg string) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.failed = append(o.failed, id+": "+msg)
	return nil
}

func (o *fakeOutbox) MarkNotificationFailed(_ context.Context, id string, _ time.Time, msg string) error {
	return o.MarkNotificationRetry(context.Background(), id, time.Time{}, msg)
}

var _ notify.Outbox = (*fakeOutbox)(nil)

// TestGuardNotificationReachesTheOldAddress: the guard's planner builds
// the owner notification of an email change, its dispatcher signs and
// posts it to the shop's receiver over loopback, and the shop mails it to
// the address before the change first, with a "this wasn't me" link; a
// retry of the same notification mails nothing twice.
func TestGuardNotificationReachesTheOldAddress(t *testing.T) {
	ts := newTestShop(t, Options{HookSecret: hookSecret})
	now := time.Now() // the dispatcher signs on the wall clock
	ts.now.Store(&now)
	secretFile := filepath.Join(t.TempDir(), "hook.secret")
	if err := os.WriteFile(secretFile, append(bytes.Clone(hookSecret), '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := notify.Config{SiteName: "テストショップ", Webhooks: []notify.WebhookConfig{{
		Name: "shop", URL: ts.srv.URL + HookPath, SecretFile: secretFile, Kinds: []string{"owner.*"}}}}
	planner, err := notify.NewPlanner(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var h notify.ContactHistory
	h.Observe("taro@example.jp", now.Add(-48*time.Hour))
	h.Observe("evil@example.net", now)
	ns := planner.ContactChanged(notify.Owner{Account: "u-1", Contacts: h}, notify.ContactUpdate{
		Ref: "ev-1", At: now, Fields: []string{"email"}, OldEmail: "taro@example.jp", NewEmail: "evil@example.net"}, now)
	if len(ns) != 1 {
		t.Fatalf("%d notifications planned", len(ns))
	}
	ob := &fakeOutbox{pending: ns}
	disp, err := notify.NewDispatcher(cfg, ob, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := disp.DispatchDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(ob.sent) != 1 || len(ob.failed) != 0 {
		t.Fatalf("sent %v, failed %v", ob.sent, ob.failed)
	}
	mails, err := ts.shop.store.Outbox(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(mails) != 2 {
		t.Fatalf("%d mails, want 2: %+v", len(mails), mails)
	}
	oldMail, newMail := mails[1], mails[0] // newest first
	if oldMail.To != "taro@example.jp" || newMail.To != "evil@example.net" || oldMail.AccountID != "u-1" {
		t.Errorf("recipients %q then %q", oldMail.To, newMail.To)
	}
	if !strings.Contains(oldMail.Subject, "/") ||
		!strings.Contains(oldMail.Body, ts.srv.URL+"/not-me/") || !strings.Contains(oldMail.Body, "身に覚えがない") {
		t.Errorf("mail to the old address:\n%s\n%s", oldMail.Subject, oldMail.Body)
	}
	p := ts.browser(t).get("/outbox")
	for _, want := range []string{"taro@example.jp", "変更前のアドレス", "the address before the recent change",
		"身に覚えがない / This wasn't me", `href="` + ts.srv.URL + `/not-me/`, "owner.contact_changed"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("outbox page lacks %q", want)
		}
	}

	// The dispatcher retries a delivery whose answer it missed: one mail.
	ob.pending = ns
	if _, err := disp.DispatchDue(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, _ := ts.shop.store.CountOutbox(context.Background()); n != 2 || len(ob.sent) != 2 {
		t.Errorf("after a retry: %d mails, %d deliveries", n, len(ob.sent))
	}
}

func postHook(t *testing.T, ts *testShop, body []byte, sig string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", ts.srv.URL+HookPath, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if sig != "" {
		req.Header.Set(client.SignatureHeader, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

const hookBody = `{"id":"ntf_1","kind":"owner.new_device_login","created_at":"2026-11-25T10:00:00Z","occurred_at":"2026-11-25T10:00:00Z",` +
	`"account":"u-1","to":["taro@example.jp"],"subject":"新しい端末からログインがありました / New sign-in to your account","text":"本文\n\n-----\n\nBody","data":{}}`

func TestHookRefusesWhatIsNotSignedFresh(t *testing.T) {
	ts := newTestShop(t, Options{HookSecret: hookSecret})
	body := []byte(hookBody)
	for _, c := range []struct {
		name string
		body []byte
		sig  string
		want int
	}{
		{"unsigned", body, "", http.StatusUnauthorized},
		{"malformed", body, "t=abc,v1=zz", http.StatusUnauthorized},
		{"wrong secret", body, client.SignWebhook([]byte("another secret, long enough"), t0, body), http.StatusUnauthorized},
		{"altered body", bytes.Replace(body, []byte("u-1"), []byte("u-2"), 1), client.SignWebhook(hookSecret, t0, body), http.StatusUnauthorized},
		{"replayed after 10 minutes", body, client.SignWebhook(hookSecret, t0.Add(-10*time.Minute), body), http.StatusUnauthorized},
		{"from the future", body, client.SignWebhook(hookSecret, t0.Add(10*time.Minute), body), http.StatusUnauthorized},
		{"signed but not a notification", []byte(`[1,2]`), client.SignWebhook(hookSecret, t0, []byte(`[1,2]`)), http.StatusBadRequest},
	} {
		if got := postHook(t, ts, c.body, c.sig); got != c.want {
			t.Errorf("%s: %d, want %d", c.name, got, c.want)
		}
	}
	if n, _ := ts.shop.store.CountOutbox(context.Background()); n != 0 {
		t.Fatalf("%d mails after refused deliveries", n)
	}
	if got := postHook(t, ts, body, client.SignWebhook(hookSecret, t0.Add(-time.Minute), body)); got != http.StatusNoContent {
		t.Fatalf("good delivery: %d", got)
	}
	if n, _ := ts.shop.store.CountOutbox(context.Background()); n != 1 {
		t.Fatalf("%d mails after a good delivery", n)
	}

	// A shop without a secret takes no webhooks at all.
	off := newTestShop(t, Options{})
	if got := postHook(t, off, body, client.SignWebhook(hookSecret, t0, body)); got != http.StatusNotFound {
		t.Errorf("without a secret: %d", got)
	}
}

var notMeLinkRE = regexp.MustCompile(`/not-me/[A-Za-z0-9_-]{43}`)
var resetLinkRE = regexp.MustCompile(`/reset-password/[A-Za-z0-9_-]{43}`)

// TestNotMeFreezesOrdersEndsSessionsForcesReset: the owner follows the
// link of a notification sent to the old address; the pending orders
// freeze, every session ends, the next login needs a new password set
// through a reset link, and neither link works twice.
func TestNotMeFreezesOrdersEndsSessionsForcesReset(t *testing.T) {
	ts := newTestShop(t, Options{HookSecret: hookSecret})
	ctx := context.Background()

	// The attacker is logged in and has ordered twice, one held.
	attacker := ts.browser(t)
	attacker.login("taro@example.jp", "correct horse")
	attacker.post("/", "/cart/add", url.Values{"sku": {"iphone-x-256-silver"}, "quantity": {"1"}})
	if p := attacker.post("/checkout", "/checkout", url.Values{"delivery": {"home"}, "payment": {"credit_card"}}); p.dataStatus() != "order-accepted" {
		t.Fatalf("order: %q", p.dataStatus())
	}
	ts.guard.decide = func(ev client.Event) client.Result {
		if ev.Type == client.OrderAttempt {
			return client.Result{Decision: client.Review}
		}
		return client.Result{Decision: client.Allow}
	}
	attacker.post("/", "/cart/add", url.Values{"sku": {"iphone-x-256-silver"}, "quantity": {"1"}})
	if p := attacker.post("/checkout", "/checkout", url.Values{"delivery": {"convenience_store"}, "pickup_store": {"fm-shinjuku-nishiguchi"}, "payment": {"carrier_billing"}}); p.dataStatus() != "order-held" {
		t.Fatalf("order: %q", p.dataStatus())
	}
	ts.guard.decide = nil

	body := []byte(hookBody)
	if got := postHook(t, ts, body, client.SignWebhook(hookSecret, t0, body)); got != http.StatusNoContent {
		t.Fatalf("delivery: %d", got)
	}
	mails, _ := ts.shop.store.Outbox(ctx, 10)
	link := notMeLinkRE.FindString(mails[0].Body)
	if mails[0].To != "taro@example.jp" || link == "" {
		t.Fatalf("mail %+v", mails[0])
	}

	owner := ts.browser(t)
	if p := owner.get(link); p.status != 200 || p.dataStatus() != pageNotMeConfirm {
		t.Fatalf("confirm page: %d %q", p.status, p.dataStatus())
	}
	if orders, _ := ts.shop.store.Orders(ctx, "u-1"); orders[0].Status == StatusFrozen {
		t.Fatal("opening the link froze orders before the owner confirmed")
	}
	p := owner.post(link, link, url.Values{})
	if p.dataStatus() != pageNotMeDone || !strings.Contains(p.body, `class="orders-frozen">2<`) || !strings.Contains(p.body, `class="sessions-ended">1<`) {
		t.Fatalf("not-me: %q\n%s", p.dataStatus(), p.body)
	}
	resetPath := resetLinkRE.FindString(p.body)
	if resetPath == "" {
		t.Fatal("no reset link on the result page")
	}
	orders, _ := ts.shop.store.Orders(ctx, "u-1")
	for _, o := range orders {
		if o.Status != StatusFrozen {
			t.Errorf("order %s is %s", o.ID, o.Status)
		}
	}
	if p := attacker.get("/account"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/login") {
		t.Errorf("the attacker's session still works: %d %s", p.status, p.location)
	}
	if ev := ts.guard.last(t); ev.Type != client.PasswordResetRequested || ev.User.ID != "u-1" {
		t.Errorf("guard heard %+v", ev)
	}
	// The link is used up.
	if p := owner.get(link); p.status != http.StatusGone || p.dataStatus() != pageLinkInvalid {
		t.Errorf("second visit: %d %q", p.status, p.dataStatus())
	}
	if p := owner.post("/login", link, url.Values{}); p.status != http.StatusGone {
		t.Errorf("second confirm: %d", p.status)
	}

	// The old password no longer logs in: a reset link goes to the
	// address that reported it.
	p = attacker.login("taro@example.jp", "correct horse")
	if p.dataStatus() != pageResetRequired {
		t.Fatalf("login during a forced reset: %d %q", p.status, p.dataStatus())
	}
	if p := attacker.get("/account"); p.status != http.StatusSeeOther {
		t.Error("a login during a forced reset made a session")
	}
	if ev := ts.guard.last(t); ev.Type != client.LoginFailed || ev.Properties.Reason != client.ReasonLocked {
		t.Errorf("guard heard %+v", ev)
	}
	mails, _ = ts.shop.store.Outbox(ctx, 1)
	if mails[0].To != "taro@example.jp" || resetLinkRE.FindString(mails[0].Body) == "" {
		t.Errorf("reset mail %+v", mails[0])
	}

	// The owner sets a new password once.
	if p := owner.get(resetPath); p.dataStatus() != pageResetForm {
		t.Fatalf("reset page: %d %q", p.status, p.dataStatus())
	}
	if p := owner.post(resetPath, resetPath, url.Values{"password": {"a new secret"}, "confirm": {"different"}}); p.dataStatus() != pageResetForm {
		t.Errorf("mismatched confirm: %q", p.dataStatus())
	}
	if p := owner.post(resetPath, resetPath, url.Values{"password": {"a new secret"}, "confirm": {"a new secret"}}); p.dataStatus() != pageResetDone {
		t.Fatalf("reset: %q\n%s", p.dataStatus(), p.body)
	}
	if ev := ts.guard.last(t); ev.Type != client.PasswordChanged || ev.User.ID != "u-1" {
		t.Errorf("guard heard %+v", ev)
	}
	if p := owner.get(resetPath); p.status != http.StatusGone {
		t.Errorf("reset link reused: %d", p.status)
	}
	if p := owner.login("taro@example.jp", "correct horse"); p.dataStatus() != pageLoginFailed {
		t.Errorf("old password: %q", p.dataStatus())
	}
	if p := owner.login("taro@example.jp", "a new secret"); p.status != http.StatusSeeOther || p.location != "/account" {
		t.Errorf("new password: %d %q %q", p.status, p.location, p.dataStatus())
	}
}

func TestNotMeLinkExpires(t *testing.T) {
	ts := newTestShop(t, Options{HookSecret: hookSecret})
	body := []byte(hookBody)
	if got := postHook(t, ts, body, client.SignWebhook(hookSecret, t0, body)); got != http.StatusNoContent {
		t.Fatalf("delivery: %d", got)
	}
	mails, _ := ts.shop.store.Outbox(context.Background(), 1)
	link := notMeLinkRE.FindString(mails[0].Body)
	ts.advance(notMeTTL + time.Minute)
	b := ts.browser(t)
	if p := b.get(link); p.status != http.StatusGone {
		t.Errorf("expired link: %d", p.status)
	}
	if p := b.get("/not-me/" + strings.Repeat("A", 43)); p.status != http.StatusGone {
		t.Errorf("made-up link: %d", p.status)
	}
}
