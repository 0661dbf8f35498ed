package notify_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/store"
)

// plannerConfig sends email, owner kinds to the shop's webhook and
// operator kinds to a chat webhook.
func plannerConfig() notify.Config {
	return notify.Config{
		SiteName:       "Example Mobile",
		SMTP:           notify.SMTPConfig{Host: "127.0.0.1", TLS: "none", From: "security@example.jp"},
		OperatorEmails: []string{"soc@example.jp"},
		Webhooks: []notify.WebhookConfig{
			{Name: "shop", URL: "http://127.0.0.1:9/hook", SecretEnv: "X", Kinds: []string{"owner.*"}},
			{Name: "chat", URL: "https://chat.example/hooks/x", Unsigned: true, Kinds: []string{"operator.*"}},
		},
	}
}

func newPlanner(t *testing.T, cfg notify.Config) *notify.Planner {
	t.Helper()
	p, err := notify.NewPlanner(cfg)
	if err != nil {
		t.Fatalf("NewPlanner: %v", err)
	}
	return p
}

func payloadOf(t *testing.T, n store.Notification) notify.Payload {
	t.Helper()
	var p notify.Payload
	if err := json.Unmarshal(n.Payload, &p); err != nil {
		t.Fatalf("payload of %s: %v\n%s", n.ID, err, n.Payload)
	}
	return p
}

// route is where a notification goes.
type route struct{ Channel, Recipient string }

func routes(ns []store.Notification) []route {
	var out []route
	for _, n := range ns {
		out = append(out, route{n.Channel, n.Recipient})
	}
	return out
}

// takenOver is an owner whose email an attacker changed on day 10.
func takenOver() notify.Owner {
	o := notify.Owner{Account: "u-1042"}
	o.Contacts.Observe("taro@example.jp", day(0))
	o.Contacts.Observe("attacker@example.net", day(10))
	return o
}

func TestOwnerNotificationsGoToTheOldAddress(t *testing.T) {
	p := newPlanner(t, plannerConfig())
	now := time.Date(2026, time.November, 25, 12, 0, 0, 0, time.UTC) // wall clock, later than the events
	o := takenOver()
	ord := notify.Order{At: day(10.1), Decision: "review", Order: event.Order{
		ID: "o-991", Amount: 131800, Currency: "JPY",
		Items:    []event.Item{{SKU: "iphone-x-256-silver", Quantity: 1, UnitPrice: 131800}},
		Shipping: event.Shipping{Name: "山田 太郎", PostalCode: "100-0001", Country: "JP", Region: "東京都", City: "千代田区", Line1: "千代田1-1", Line2: "101号室"},
		Payment:  event.Payment{Method: "carrier_billing"},
		Delivery: event.Delivery{Method: "store_pickup", PickupStore: "ファミリーマート 千代田店"},
	}}
	got := p.OrderPlaced(o, ord, now)
	want := []route{
		{store.ChannelEmail, "taro@example.jp"}, // the address before the change, first
		{store.ChannelEmail, "attacker@example.net"},
		{store.ChannelWebhook, "shop"},
	}
	if d := cmp.Diff(want, routes(got)); d != "" {
		t.Fatalf("routes (-want +got):\n%s", d)
	}
	for _, n := range got {
		if n.Kind != notify.KindOrder || n.Account != "u-1042" || n.State != store.NotificationPending ||
			!n.CreatedAt.Equal(now) || !n.NextAttemptAt.Equal(now) || n.Attempts != 0 || n.ID == "" {
			t.Errorf("notification %+v", n)
		}
		pl := payloadOf(t, n)
		if pl.ID != n.ID || pl.Kind != n.Kind || !pl.OccurredAt.Equal(ord.At) || !pl.CreatedAt.Equal(now) {
			t.Errorf("payload header %+v", pl)
		}
		wantTo := []string{n.Recipient}
		if n.Channel == store.ChannelWebhook {
			wantTo = []string{"taro@example.jp", "attacker@example.net"}
		}
		if !slices.Equal(pl.To, wantTo) {
			t.Errorf("%s to %s: payload to = %q, want %q", n.Channel, n.Recipient, pl.To, wantTo)
		}
		for _, s := range []string{"o-991", "131,800円", "131,800 JPY", "iphone-x-256-silver × 1", "ファミリーマート 千代田店",
			"キャリア決済", "carrier billing", "保留", "on hold", "Example Mobile"} {
			if !strings.Contains(pl.Subject+"\n"+pl.Text, s) {
				t.Errorf("order text lacks %q:\n%s", s, pl.Text)
			}
		}
		// Never the street, the recipient's name or payment details.
		for _, s := range []string{"千代田1-1", "101号室", "山田"} {
			if strings.Contains(string(n.Payload), s) {
				t.Errorf("payload holds %q:\n%s", s, n.Payload)
			}
		}
	}
	// Each notification is unique, and building again gives the same
	// dedupe keys (another event id, the same order).
	again := p.OrderPlaced(o, ord, now.Add(time.Minute))
	for i := range got {
		if got[i].DedupeKey != again[i].DedupeKey || got[i].ID == again[i].ID {
			t.Errorf("rebuilt %d: key %q id %q, first key %q id %q", i, again[i].DedupeKey, again[i].ID, got[i].DedupeKey, got[i].ID)
		}
	}
	if got[0].DedupeKey == got[1].DedupeKey {
		t.Error("two recipients share a dedupe key")
	}
}

func TestContactChanged(t *testing.T) {
	p := newPlanner(t, plannerConfig())
	o := notify.Owner{Account: "u-1042"}
	o.Contacts.Observe("taro@example.jp", day(0))
	// The engine observes the new address, then builds the notification.
	if !o.Contacts.Observe("attacker@example.net", day(10)) {
		t.Fatal("Observe did not see the change")
	}
	got := p.ContactChanged(o, notify.ContactUpdate{
		Ref: "ev_1", At: day(10), Fields: []string{"email", "phone"}, OldEmail: "taro@example.jp",
		NewEmail: "attacker@example.net", IP: "203.0.113.7\n\rInjected: header",
	}, day(10))
	if d := cmp.Diff([]route{{"email", "taro@example.jp"}, {"email", "attacker@example.net"}, {"webhook", "shop"}}, routes(got)); d != "" {
		t.Fatalf("routes (-want +got):\n%s", d)
	}
	pl := payloadOf(t, got[0])
	for _, s := range []string{"メールアドレス、電話番号", "変更前に登録されていたメールアドレスにも", "on file before the change", "email address, phone number", "t***@example.jp → a***@example.net", "203.0.113.7Injected: header"} {
		if !strings.Contains(pl.Text, s) {
			t.Errorf("text lacks %q:\n%s", s, pl.Text)
		}
	}
	if strings.Contains(pl.Text, "taro@example.jp") || strings.Contains(string(pl.Data), "attacker@example.net") {
		t.Errorf("an address is shown unmasked:\n%s\n%s", pl.Text, pl.Data)
	}
	if pl.Subject != "登録情報が変更されました / Your account details were changed" {
		t.Errorf("subject %q", pl.Subject)
	}
}

func TestNewDeviceLogin(t *testing.T) {
	p := newPlanner(t, plannerConfig())
	o := notify.Owner{Account: "u-7"}
	o.Contacts.Observe("hanako@example.jp", day(0))
	tests := []struct {
		decision string
		subject  string
		says     []string
	}{
		{"allow", "新しい端末からログインがありました / New sign-in to your account", []string{"If this was you, there is nothing to do"}},
		{"challenge", "新しい端末からのログインに追加の確認を求めました / We asked for extra verification of a sign-in from a new device", []string{"someone else knows your password", "パスワードが第三者に知られています"}},
		{"deny", "新しい端末からのログインを拒否しました / We blocked a sign-in from a new device", []string{"We blocked the sign-in"}},
	}
	for _, tt := range tests {
		got := p.NewDeviceLogin(o, notify.Login{
			Ref: "ev_" + tt.decision, At: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), Decision: tt.decision,
			NewDevice: true, NewNetwork: true, IP: "203.0.113.7", Country: "VN", Agent: "Chrome/Windows",
		}, day(30))
		if d := cmp.Diff([]route{{"email", "hanako@example.jp"}, {"webhook", "shop"}}, routes(got)); d != "" {
			t.Fatalf("%s routes (-want +got):\n%s", tt.decision, d)
		}
		pl := payloadOf(t, got[0])
		if pl.Subject != tt.subject {
			t.Errorf("%s: subject %q, want %q", tt.decision, pl.Subject, tt.subject)
		}
		for _, s := range append(tt.says, "2026年11月25日 19:00 (JST)", "25 Nov 2026 19:00 JST", "203.0.113.7 (VN)", "Chrome/Windows", "端末とネットワーク") {
			if !strings.Contains(pl.Text, s) {
				t.Errorf("%s: text lacks %q:\n%s", tt.decision, s, pl.Text)
			}
		}
		var data map[string]any
		if err := json.Unmarshal(pl.Data, &data); err != nil || data["decision"] != tt.decision || data["new_device"] != true {
			t.Errorf("%s: data %s (%v)", tt.decision, pl.Data, err)
		}
	}
}

func TestIncidentAlerts(t *testing.T) {
	p := newPlanner(t, plannerConfig())
	inc := store.Incident{
		ID: "inc_1", Kind: "credential_stuffing", State: store.IncidentOpen,
		StartedAt: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
	}
	opened := p.IncidentOpened(inc, inc.StartedAt)
	if d := cmp.Diff([]route{{"email", "soc@example.jp"}, {"webhook", "chat"}}, routes(opened)); d != "" {
		t.Fatalf("opened routes (-want +got):\n%s", d)
	}
	pl := payloadOf(t, opened[1])
	if pl.Account != "" || pl.To != nil || !strings.Contains(pl.Text, "inc_1 opened") || !strings.Contains(pl.Text, "リスト型攻撃") {
		t.Errorf("opened payload %+v", pl)
	}
	// Chat tools show the top-level "text" field.
	var chat map[string]any
	if err := json.Unmarshal(opened[1].Payload, &chat); err != nil || chat["text"] == "" {
		t.Errorf("payload has no text field for chat tools: %s", opened[1].Payload)
	}

	inc.State = store.IncidentClosed
	inc.EndedAt = inc.StartedAt.Add(83 * time.Minute)
	inc.Attempts, inc.DistinctIPs, inc.DistinctPrefixes, inc.AccountsTargeted, inc.AccountsCompromised = 12345, 5000, 812, 1800, 17
	inc.TopSources = []store.Source{{Kind: "prefix", Value: "203.0.113.0/24", Attempts: 900}}
	closed := p.IncidentClosed(inc, inc.EndedAt)
	pl = payloadOf(t, closed[1])
	for _, s := range []string{"closed after 1h23m:", "12,345 attempts", "5,000 IPs", "1,800 accounts targeted", "17 compromised (their passwords were used: force a reset)", "203.0.113.0/24 (900)"} {
		if !strings.Contains(pl.Text, s) {
			t.Errorf("closed text lacks %q:\n%s", s, pl.Text)
		}
	}
	if opened[1].DedupeKey == closed[1].DedupeKey {
		t.Error("opened and closed share a dedupe key")
	}
	if again := p.IncidentOpened(inc, inc.EndedAt); again[1].DedupeKey != opened[1].DedupeKey {
		t.Error("the same incident's opening built twice has another dedupe key")
	}
}

func TestPlannerRoutes(t *testing.T) {
	o := takenOver()
	login := notify.Login{Ref: "ev_1", At: day(11), Decision: "allow", NewDevice: true}
	inc := store.Incident{ID: "inc_1", StartedAt: day(11)}

	// No SMTP: only webhooks; a webhook takes only its kinds.
	cfg := plannerConfig()
	cfg.SMTP = notify.SMTPConfig{}
	cfg.OperatorEmails = nil
	cfg.Webhooks[0].Kinds = []string{notify.KindOrder}
	cfg.Webhooks[1].Kinds = []string{"*"}
	p := newPlanner(t, cfg)
	if d := cmp.Diff([]route{{"webhook", "chat"}}, routes(p.NewDeviceLogin(o, login, day(11)))); d != "" {
		t.Errorf("login routes (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]route{{"webhook", "chat"}}, routes(p.IncidentOpened(inc, day(11)))); d != "" {
		t.Errorf("incident routes (-want +got):\n%s", d)
	}
	// An owner with no known address gets no email, webhooks still.
	p = newPlanner(t, plannerConfig())
	if d := cmp.Diff([]route{{"webhook", "shop"}}, routes(p.NewDeviceLogin(notify.Owner{Account: "u-9"}, login, day(11)))); d != "" {
		t.Errorf("no address routes (-want +got):\n%s", d)
	}
	// A nil planner (notifications not configured) builds nothing.
	var none *notify.Planner
	if got := none.OrderPlaced(o, notify.Order{}, day(11)); got != nil {
		t.Errorf("nil planner built %v", got)
	}
	if none.IncidentClosed(inc, day(11)) != nil || none.ContactChanged(o, notify.ContactUpdate{}, day(11)) != nil ||
		none.NewDeviceLogin(o, login, day(11)) != nil || none.IncidentOpened(inc, day(11)) != nil || none.Window() != 0 {
		t.Error("nil planner built something")
	}
	// Without a ref, nothing is deduplicated.
	p = newPlanner(t, plannerConfig())
	a := p.NewDeviceLogin(o, notify.Login{At: day(11)}, day(11))
	b := p.NewDeviceLogin(o, notify.Login{At: day(11)}, day(11))
	if a[0].DedupeKey == b[0].DedupeKey {
		t.Error("two logins without a ref share a dedupe key")
	}
	if p.Window() != 14*24*time.Hour {
		t.Errorf("Window = %v, want 14 days", p.Window())
	}
}

func TestOrderTextRedactsPaymentNumbers(t *testing.T) {
	p := newPlanner(t, plannerConfig())
	o := notify.Owner{Account: "u-1"}
	o.Contacts.Observe("a@example.jp", day(0))
	got := p.OrderPlaced(o, notify.Order{At: day(1), Decision: "allow", Order: event.Order{
		ID: "o-1", Amount: 5000, Currency: "USD", Payment: event.Payment{Method: "card 4111 1111 1111 1111"},
		Shipping: event.Shipping{Region: "CA", City: "San Jose"},
	}}, day(1))
	pl := payloadOf(t, got[0])
	if strings.Contains(string(got[0].Payload), "4111") {
		t.Errorf("payload holds a card number:\n%s", got[0].Payload)
	}
	for _, s := range []string{"5,000 USD", "ご注文を受け付けました", "Ship to: CA San Jose"} {
		if !strings.Contains(pl.Text+pl.Subject, s) {
			t.Errorf("text lacks %q:\n%s", s, pl.Text)
		}
	}
}

// TestIncidentAlertData: the data of operator.incident_* is the incident
// as GET /v1/incidents/{id} shows it, in UTC.
func TestIncidentAlertData(t *testing.T) {
	p := newPlanner(t, plannerConfig())
	jst := time.FixedZone("JST", 9*3600)
	start := time.Date(2026, 11, 25, 19, 0, 0, 0, jst)
	open := store.Incident{ID: "inc_1", Kind: "credential_stuffing", State: store.IncidentOpen, StartedAt: start, Attempts: 5}
	closed := open
	closed.State, closed.EndedAt = store.IncidentClosed, start.Add(time.Hour)
	closed.TopSources = []store.Source{{Kind: "ip", Value: "203.0.113.7", Attempts: 4}}
	tests := []struct {
		name string
		ns   []store.Notification
		want string
	}{
		{"opened", p.IncidentOpened(open, start), `{"id":"inc_1","kind":"credential_stuffing","state":"open",` +
			`"started_at":"2026-11-25T10:00:00Z","ended_at":null,"attempts":5,"distinct_ips":0,"distinct_prefixes":0,` +
			`"accounts_targeted":0,"accounts_compromised":0,"top_sources":[]}`},
		{"closed", p.IncidentClosed(closed, start), `{"id":"inc_1","kind":"credential_stuffing","state":"closed",` +
			`"started_at":"2026-11-25T10:00:00Z","ended_at":"2026-11-25T11:00:00Z","attempts":5,"distinct_ips":0,` +
			`"distinct_prefixes":0,"accounts_targeted":0,"accounts_compromised":0,` +
			`"top_sources":[{"kind":"ip","value":"203.0.113.7","attempts":4}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(payloadOf(t, tt.ns[1]).Data); got != tt.want {
				t.Errorf("data\ngot  %s\nwant %s", got, tt.want)
			}
		})
	}
}
