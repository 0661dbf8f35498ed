package dashboard_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/store"
)

var shopSecret = []byte("whsec_dashboard_test_0123456789abcdef")

// receiver is the shop's webhook endpoint: it keeps the deliveries whose
// signature is good and counts the others.
type receiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []notify.Payload
	bad int
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := client.VerifyWebhookRequest(r, shopSecret, time.Now(), 0, 1<<20)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if err != nil {
			rc.bad++
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var p notify.Payload
		if err := json.Unmarshal(body, &p); err != nil || r.Header.Get(notify.HeaderKind) != p.Kind {
			rc.bad++
			http.Error(w, "bad payload", http.StatusBadRequest)
			return
		}
		rc.got = append(rc.got, p)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) take() []notify.Payload {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := rc.got
	rc.got = nil
	return out
}

// actionFixture is a fixture whose guard sends action.* kinds to a
// receiver, with a dispatcher to deliver its outbox.
func actionFixture(t *testing.T) (*fixture, *receiver, *notify.Dispatcher) {
	t.Helper()
	rc := newReceiver(t)
	secretFile := filepath.Join(t.TempDir(), "shop.secret")
	if err := os.WriteFile(secretFile, shopSecret, 0o600); err != nil {
		t.Fatal(err)
	}
	nc := notify.Config{SiteName: "テストショップ", Webhooks: []notify.WebhookConfig{{
		Name: "shop", URL: rc.srv.URL, SecretFile: secretFile, Kinds: []string{"action.*"}}}}
	f := newFixtureNotify(t, nc)
	disp, err := notify.NewDispatcher(nc, f.store, nil)
	if err != nil {
		t.Fatal(err)
	}
	return f, rc, disp
}

// bulkFixture is an actionFixture with incident inc_1 reaching u-7
// (allowed), u-8 (challenged), u-9 (challenge passed) and an account that
// does not exist. u-7 changed its email a day before.
func bulkFixture(t *testing.T) (*fixture, *receiver, *notify.Dispatcher) {
	t.Helper()
	f, rc, disp := actionFixture(t)
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	// The owner's address, then an attacker's: the engine keeps the
	// history, the bulk actions name the owner's address first.
	ctx := obj{"ip": "198.51.100.7", "device_id": "d-7", "user_agent": "Mozilla/5.0 Firefox/128.0"}
	// One call each: the second reads what the first wrote.
	f.postEvents(t, []obj{
		{"type": "login.succeeded", "occurred_at": t0.Add(-48 * time.Hour).Format(time.RFC3339), "login": "u7",
			"user": obj{"id": "u-7", "email": "owner7@example.jp"}, "context": ctx},
	})
	f.postEvents(t, []obj{
		{"type": "profile.updated", "occurred_at": t0.Add(-24 * time.Hour).Format(time.RFC3339),
			"user": obj{"id": "u-7", "email": "attacker@example.net"}, "context": ctx, "properties": obj{"fields": []string{"email"}}},
	})
	if err := f.store.Write(context.Background(), store.Batch{
		Incidents: []store.Incident{{ID: "inc_1", Kind: "credential_stuffing", State: store.IncidentOpen, StartedAt: t0,
			Attempts: 300, DistinctIPs: 120, DistinctPrefixes: 40, AccountsTargeted: 3, AccountsCompromised: 2, UpdatedAt: t0}},
		IncidentAccounts: []store.IncidentAccount{
			{IncidentID: "inc_1", Account: "u-7", Known: true, Outcome: store.OutcomeAllowed, Attempts: 1, FirstSeen: t0, LastSeen: t0},
			{IncidentID: "inc_1", Account: "u-8", Known: true, Outcome: store.OutcomeChallenged, Attempts: 1, FirstSeen: t0, LastSeen: t0},
			{IncidentID: "inc_1", Account: "u-9", Known: true, Outcome: store.OutcomeChallengePassed, Attempts: 1, FirstSeen: t0, LastSeen: t0},
			{IncidentID: "inc_1", Account: "ghost@example.jp", Known: false, Outcome: store.OutcomeDenied, Attempts: 2, FirstSeen: t0, LastSeen: t0},
		},
	}); err != nil {
		t.Fatal(err)
	}
	return f, rc, disp
}

// deliver runs the dispatcher until the outbox has nothing due.
func deliver(t *testing.T, d *notify.Dispatcher) {
	t.Helper()
	for {
		n, err := d.DispatchDue(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			return
		}
	}
}

type actionData struct {
	Action, Operator, Incident, Outcome, Batch string
	Accounts                                   int
}

func dataOf(t *testing.T, p notify.Payload) actionData {
	t.Helper()
	var d actionData
	if err := json.Unmarshal(p.Data, &d); err != nil {
		t.Fatalf("data of %s: %v", p.ID, err)
	}
	return d
}

func TestBulkActionSendsSignedWebhooks(t *testing.T) {
	f, rc, disp := bulkFixture(t)
	c, token := f.signedIn(t)
	page := do(t, c, "GET", f.srv.URL+"/ui/incidents/inc_1", nil, nil)
	checkNoInline(t, "incident", page.body)
	for _, want := range []string{`id="bulk-form"`, `value="force_password_reset"`, `value="notify_owner"`, `value="freeze_orders"`,
		`name="account" value="u-7" form="bulk-form"`, "every account to reset (3)", "所有者に通知"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("incident page lacks %q", want)
		}
	}
	if strings.Contains(page.body, `value="ghost@example.jp" form="bulk-form"`) {
		t.Error("an account that does not exist can be ticked")
	}

	post := func(form url.Values) response {
		return do(t, c, "POST", f.srv.URL+"/ui/incidents/inc_1/actions", form, map[string]string{"Origin": f.srv.URL})
	}
	r := post(url.Values{"csrf": {token}, "action": {"force_password_reset"}, "account": {"u-7", "u-8"}, "batch": {"batch-0123456789abcdef"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/incidents/inc_1?done=force_password_reset&n=2#bulk" {
		t.Fatalf("bulk action: %d Location %q\n%s", r.status, r.header.Get("Location"), r.body)
	}
	deliver(t, disp)
	got := rc.take()
	var accounts []string
	for _, p := range got {
		accounts = append(accounts, p.Account)
		d := dataOf(t, p)
		if p.Kind != notify.KindForcePasswordReset || d.Action != "force_password_reset" || d.Operator != opName ||
			d.Incident != "inc_1" || d.Accounts != 2 || d.Batch != "batch-0123456789abcdef" {
			t.Errorf("payload %+v, data %+v", p, d)
		}
		if p.Account == "u-7" {
			if diff := cmp.Diff([]string{"owner7@example.jp", "attacker@example.net"}, p.To); diff != "" {
				t.Errorf("u-7 addresses (-want +got):\n%s", diff)
			}
			if d.Outcome != store.OutcomeAllowed {
				t.Errorf("u-7 outcome %q", d.Outcome)
			}
		}
	}
	slices.Sort(accounts)
	if diff := cmp.Diff([]string{"u-7", "u-8"}, accounts); diff != "" {
		t.Errorf("accounts (-want +got):\n%s", diff)
	}

	// The confirmation: which action, how many accounts; and the action
	// among those sent for the incident, delivered, with who asked.
	done := do(t, c, "GET", f.srv.URL+r.header.Get("Location"), nil, nil)
	for _, want := range []string{`id="bulk-done"`, "パスワードの強制リセット", "force password reset", "<strong>2</strong> accounts",
		`id="sent-actions"`, "<td>" + opName + "</td>", `<td class="n">2</td><td class="n">2</td><td class="n">0</td><td class="n">0</td>`} {
		if !strings.Contains(done.body, want) {
			t.Errorf("confirmation lacks %q", want)
		}
	}

	// The same form posted again (a double click): nothing new.
	if r := post(url.Values{"csrf": {token}, "action": {"force_password_reset"}, "account": {"u-7", "u-8"}, "batch": {"batch-0123456789abcdef"}}); r.status != http.StatusSeeOther {
		t.Fatalf("repeat: %d", r.status)
	}
	deliver(t, disp)
	if got := rc.take(); len(got) != 0 {
		t.Errorf("a repeated form sent %d more webhooks", len(got))
	}

	// Every account to reset, without ticking.
	if r := post(url.Values{"csrf": {token}, "action": {"freeze_orders"}, "scope": {"at_risk"}}); r.status != http.StatusSeeOther {
		t.Fatalf("at-risk scope: %d %s", r.status, r.body)
	}
	deliver(t, disp)
	accounts = nil
	for _, p := range rc.take() {
		if p.Kind != notify.KindFreezeOrders {
			t.Errorf("kind %s", p.Kind)
		}
		accounts = append(accounts, p.Account)
	}
	slices.Sort(accounts)
	if diff := cmp.Diff([]string{"u-7", "u-8", "u-9"}, accounts); diff != "" {
		t.Errorf("at-risk accounts (-want +got):\n%s", diff)
	}

	if r := post(url.Values{"csrf": {token}, "action": {"notify_owner"}, "account": {"u-9"}}); r.status != http.StatusSeeOther {
		t.Fatalf("notify owner: %d", r.status)
	}
	deliver(t, disp)
	if got := rc.take(); len(got) != 1 || got[0].Kind != notify.KindNotifyOwner || !strings.Contains(got[0].Text, "テストショップ") {
		t.Errorf("notify owner: %+v", got)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.bad != 0 {
		t.Errorf("%d deliveries with a bad signature or payload", rc.bad)
	}
	if logs := f.log.String(); !strings.Contains(logs, "bulk action from the dashboard") || !strings.Contains(logs, "operator="+opName) {
		t.Errorf("the operator's action is not logged:\n%s", logs)
	}
}

func TestBulkActionRefusals(t *testing.T) {
	f, rc, disp := bulkFixture(t)
	c, token := f.signedIn(t)
	post := func(form url.Values, headers map[string]string) response {
		return do(t, c, "POST", f.srv.URL+"/ui/incidents/inc_1/actions", form, headers)
	}
	ok := url.Values{"action": {"notify_owner"}, "account": {"u-7"}}
	with := func(extra url.Values) url.Values {
		v := url.Values{"csrf": {token}}
		for k, vs := range ok {
			v[k] = vs
		}
		for k, vs := range extra {
			v[k] = vs
		}
		return v
	}
	for _, tc := range []struct {
		name    string
		form    url.Values
		headers map[string]string
		status  int
		msg     string
	}{
		{"no CSRF token", ok, nil, http.StatusForbidden, "CSRF"},
		{"wrong CSRF token", with(url.Values{"csrf": {token + "x"}}), nil, http.StatusForbidden, "CSRF"},
		{"cross-site", with(nil), map[string]string{"Sec-Fetch-Site": "cross-site"}, http.StatusForbidden, "cross-site"},
		{"unknown action", with(url.Values{"action": {"delete_account"}}), nil, http.StatusBadRequest, "unknown action"},
		{"no action", with(url.Values{"action": nil}), nil, http.StatusBadRequest, "unknown action"},
		{"no accounts", with(url.Values{"account": nil}), nil, http.StatusBadRequest, "no accounts selected"},
		{"account not in the incident", with(url.Values{"account": {"u-7", "u-100"}}), nil, http.StatusBadRequest,
			"&#34;u-100&#34; is not a known account of incident inc_1; nothing was sent"},
		{"account that does not exist", with(url.Values{"account": {"ghost@example.jp"}}), nil, http.StatusBadRequest, "is not a known account"},
		{"unknown scope", with(url.Values{"scope": {"everyone"}}), nil, http.StatusBadRequest, "unknown scope"},
	} {
		r := post(tc.form, tc.headers)
		if r.status != tc.status || !strings.Contains(r.body, tc.msg) {
			t.Errorf("%s: %d, want %d with %q\n%s", tc.name, r.status, tc.status, tc.msg, r.body)
		}
	}
	if r := do(t, c, "POST", f.srv.URL+"/ui/incidents/inc_nope/actions", with(nil), nil); r.status != http.StatusNotFound {
		t.Errorf("unknown incident: %d, want 404", r.status)
	}
	// Without a session: to the sign-in page, as every page.
	if r := do(t, f.client(t), "POST", f.srv.URL+"/ui/incidents/inc_1/actions", with(nil), nil); r.status != http.StatusSeeOther ||
		r.header.Get("Location") != "/ui/login" {
		t.Errorf("no session: %d Location %q", r.status, r.header.Get("Location"))
	}
	deliver(t, disp)
	if got := rc.take(); len(got) != 0 {
		t.Errorf("refused requests sent %d webhooks: %+v", len(got), got)
	}
	ns, err := f.store.ListNotifications(context.Background(), store.NotificationQuery{})
	if err != nil || len(ns) != 0 {
		t.Errorf("outbox after refusals: %d notifications, %v", len(ns), err)
	}
}

func TestBulkActionsOffWithoutAWebhook(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	if err := f.store.Write(ctx, store.Batch{
		Incidents: []store.Incident{{ID: "inc_1", Kind: "credential_stuffing", State: store.IncidentOpen, StartedAt: t0, UpdatedAt: t0}},
		IncidentAccounts: []store.IncidentAccount{
			{IncidentID: "inc_1", Account: "u-7", Known: true, Outcome: store.OutcomeAllowed, Attempts: 1, FirstSeen: t0, LastSeen: t0}},
	}); err != nil {
		t.Fatal(err)
	}
	c, token := f.signedIn(t)
	page := do(t, c, "GET", f.srv.URL+"/ui/incidents/inc_1", nil, nil)
	if strings.Contains(page.body, `id="bulk-form"`) || !strings.Contains(page.body, "action.*") {
		t.Errorf("incident page without an action webhook:\n%s", page.body)
	}
	r := do(t, c, "POST", f.srv.URL+"/ui/incidents/inc_1/actions", url.Values{"csrf": {token}, "action": {"freeze_orders"}, "account": {"u-7"}}, nil)
	if r.status != http.StatusConflict || !strings.Contains(r.body, "no webhook takes action.freeze_orders") {
		t.Errorf("without a webhook: %d\n%s", r.status, r.body)
	}
}
