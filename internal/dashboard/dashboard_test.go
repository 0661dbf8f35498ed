package dashboard_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/store"
)

func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	for _, path := range []string{"/ui/login", "/ui/", "/ui/nope", "/ui/assets/app.css"} {
		r := do(t, c, "GET", f.srv.URL+path, nil, nil)
		for h, want := range map[string]string{
			"X-Content-Type-Options": "nosniff",
			"X-Frame-Options":        "DENY",
			"Referrer-Policy":        "no-referrer",
		} {
			if got := r.header.Get(h); got != want {
				t.Errorf("%s: %s = %q, want %q", path, h, got, want)
			}
		}
		csp := r.header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "frame-ancestors 'none'", "script-src 'self'", "style-src 'self'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", path, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("%s: CSP %q allows inline code", path, csp)
		}
	}
	login := do(t, c, "GET", f.srv.URL+"/ui/login", nil, nil)
	checkNoInline(t, "login", login.body)
	cookie := login.header.Get("Set-Cookie")
	if !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Strict") {
		t.Errorf("login cookie %q: want HttpOnly and SameSite=Strict", cookie)
	}
}

var inlineCode = regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>\s*[^<\s]|\sstyle=|\son[a-z]+=|<style`)

// checkNoInline fails if a page has inline script, style or handlers: the
// CSP would block them anyway.
func checkNoInline(t *testing.T, page, body string) {
	t.Helper()
	if m := inlineCode.FindString(body); m != "" {
		t.Errorf("%s page has inline code %q", page, m)
	}
}

func TestMissingSessionRedirectsToLogin(t *testing.T) {
	f := newFixture(t)
	c := f.client(t)
	for _, tc := range []struct{ method, path, location string }{
		{"GET", "/ui/", "/ui/login"},
		{"GET", "/ui", "/ui/"},
		{"GET", "/ui/reviews", "/ui/login?next=%2Fui%2Freviews"},
		{"GET", "/ui/policy", "/ui/login?next=%2Fui%2Fpolicy"},
		{"GET", "/ui/incidents/inc_x", "/ui/login?next=%2Fui%2Fincidents%2Finc_x"},
		{"GET", "/ui/incidents/inc_x/accounts.csv", "/ui/login?next=%2Fui%2Fincidents%2Finc_x%2Faccounts.csv"},
		{"POST", "/ui/reviews/rv_x", "/ui/login"},
		{"POST", "/ui/logout", "/ui/login"},
	} {
		var form url.Values
		if tc.method == "POST" {
			form = url.Values{"action": {"approve"}}
		}
		r := do(t, c, tc.method, f.srv.URL+tc.path, form, nil)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != tc.location {
			t.Errorf("%s %s: %d Location %q, want 303 %q", tc.method, tc.path, r.status, r.header.Get("Location"), tc.location)
		}
	}
	// A forged session cookie is no session.
	u, _ := url.Parse(f.srv.URL + "/ui/")
	c.Jar.SetCookies(u, []*http.Cookie{{Name: "atoguard_session", Value: "forged", Path: "/ui"}})
	if r := do(t, c, "GET", f.srv.URL+"/ui/", nil, nil); r.status != http.StatusSeeOther {
		t.Errorf("forged session: %d, want 303", r.status)
	}
}

func TestLogin(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testLogin(t, newFixtureOn(t, notify.Config{}, b.open(t))) })
	}
}

func testLogin(t *testing.T, f *fixture) {
	now := time.Now()

	if r := f.signIn(t, f.client(t), "wrong password", f.code(t, now)); r.status != http.StatusUnauthorized {
		t.Errorf("wrong password: %d, want 401", r.status)
	}
	// A wrong TOTP code (the code of ten minutes ago) with the right password.
	if r := f.signIn(t, f.client(t), opPassword, f.code(t, now.Add(-10*time.Minute))); r.status != http.StatusUnauthorized ||
		!strings.Contains(r.body, "wrong") {
		t.Errorf("wrong TOTP code: %d, want 401 with a message", r.status)
	}
	if r := f.signIn(t, f.client(t), opPassword, "12345"); r.status != http.StatusUnauthorized {
		t.Errorf("short code: %d, want 401", r.status)
	}

	// Without the sign-in form's CSRF cookie.
	if r := do(t, f.client(t), "POST", f.srv.URL+"/ui/login", url.Values{"csrf": {"x"}, "name": {opName},
		"password": {opPassword}, "code": {f.code(t, now)}}, nil); r.status != http.StatusForbidden {
		t.Errorf("sign-in without CSRF cookie: %d, want 403", r.status)
	}

	c := f.client(t)
	code := f.code(t, now)
	r := f.signIn(t, c, opPassword, code)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/ui/" {
		t.Fatalf("sign-in: %d Location %q, want 303 /ui/; body %s", r.status, r.header.Get("Location"), r.body)
	}
	var sessionCookie string
	for _, sc := range r.header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "atoguard_session=") {
			sessionCookie = sc
		}
	}
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/ui"} {
		if !strings.Contains(sessionCookie, want) {
			t.Errorf("session cookie %q lacks %s", sessionCookie, want)
		}
	}
	if strings.Contains(sessionCookie, "Secure") {
		t.Errorf("session cookie %q is Secure on plain HTTP", sessionCookie)
	}
	page := do(t, c, "GET", f.srv.URL+"/ui/", nil, nil)
	if page.status != http.StatusOK || !strings.Contains(page.body, "Open incidents") || !strings.Contains(page.body, opName) {
		t.Fatalf("overview after sign-in: %d\n%s", page.status, page.body)
	}
	checkNoInline(t, "overview", page.body)

	// The same code is accepted once.
	if r := f.signIn(t, f.client(t), opPassword, code); r.status != http.StatusUnauthorized {
		t.Errorf("replayed TOTP code: %d, want 401", r.status)
	}

	// Sign out ends the session on the server.
	out := do(t, c, "POST", f.srv.URL+"/ui/logout", url.Values{"csrf": {csrfOf(t, page.body)}}, nil)
	if out.status != http.StatusSeeOther {
		t.Errorf("sign out: %d, want 303", out.status)
	}
	if r := do(t, c, "GET", f.srv.URL+"/ui/", nil, nil); r.status != http.StatusSeeOther {
		t.Errorf("after sign out: %d, want 303 to the sign-in page", r.status)
	}
	if logs := f.log.String(); strings.Contains(logs, opPassword) || strings.Contains(logs, code) || strings.Contains(logs, f.secret) {
		t.Errorf("a secret reached the log:\n%s", logs)
	}
}

func TestLoginRateLimited(t *testing.T) {
	f := newFixture(t)
	var last int
	for range 7 {
		last = f.signIn(t, f.client(t), "wrong", "000000").status
	}
	if last != http.StatusTooManyRequests {
		t.Errorf("7th sign-in attempt in a row: %d, want 429", last)
	}
}

// signedIn returns a client with a session and the CSRF token of its pages.
func (f *fixture) signedIn(t *testing.T) (*http.Client, string) {
	t.Helper()
	c := f.client(t)
	if r := f.signIn(t, c, opPassword, f.code(t, time.Now())); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in: %d %s", r.status, r.body)
	}
	page := do(t, c, "GET", f.srv.URL+"/ui/", nil, nil)
	return c, csrfOf(t, page.body)
}

// TestSpentNameLetsTheAuthenticatorIn: guessing an operator's password
// from many addresses spends the name's attempts, yet cannot lock the
// operator out: a current TOTP code still opens the password check.
func TestSpentNameLetsTheAuthenticatorIn(t *testing.T) {
	f := newFixture(t)
	signInFrom := func(ip, password, code string) int {
		c := f.client(t)
		page := do(t, c, "GET", f.srv.URL+"/ui/login", nil, nil)
		return do(t, c, "POST", f.srv.URL+"/ui/login", url.Values{
			"csrf": {csrfOf(t, page.body)}, "name": {opName}, "password": {password}, "code": {code}, "next": {"/ui/"},
		}, map[string]string{"X-Forwarded-For": ip}).status
	}
	for i := range 8 {
		signInFrom(fmt.Sprintf("203.0.113.%d", i+1), "wrong", "000000")
	}
	if got := signInFrom("198.51.100.1", "wrong", "000000"); got != http.StatusTooManyRequests {
		t.Errorf("a guess on the spent name from a fresh address: %d, want 429", got)
	}
	if got := signInFrom("198.51.100.2", opPassword, f.code(t, time.Now())); got != http.StatusSeeOther {
		t.Errorf("the operator with password and authenticator: %d, want 303", got)
	}
}

func TestReviewCSRF(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	at := time.Now().UTC().Add(-time.Minute)
	if err := f.store.Write(ctx, store.Batch{Reviews: []store.Review{
		{ID: "rv_1", EventID: "ev_1", UserID: "u-1", OrderID: "o-1", Amount: 131800, Currency: "JPY", Reasons: []string{"order.risky_sku"}, CreatedAt: at},
	}}); err != nil {
		t.Fatal(err)
	}
	c, token := f.signedIn(t)
	list := do(t, c, "GET", f.srv.URL+"/ui/reviews", nil, nil)
	if !strings.Contains(list.body, "o-1") {
		t.Fatalf("review queue lacks the held order:\n%s", list.body)
	}
	checkNoInline(t, "reviews", list.body)
	post := func(form url.Values, headers map[string]string) int {
		return do(t, c, "POST", f.srv.URL+"/ui/reviews/rv_1", form, headers).status
	}
	for _, tc := range []struct {
		name    string
		form    url.Values
		headers map[string]string
	}{
		{"no token", url.Values{"action": {"approve"}}, nil},
		{"wrong token", url.Values{"action": {"approve"}, "csrf": {token + "x"}}, nil},
		{"empty token", url.Values{"action": {"approve"}, "csrf": {""}}, nil},
		{"cross-site origin", url.Values{"action": {"approve"}, "csrf": {token}}, map[string]string{"Origin": "https://evil.example"}},
		{"cross-site fetch", url.Values{"action": {"approve"}, "csrf": {token}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
	} {
		if got := post(tc.form, tc.headers); got != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", tc.name, got)
		}
	}
	if rv, _ := f.store.GetReview(ctx, "rv_1"); rv.State != store.ReviewPending {
		t.Fatalf("a refused post changed the review: %+v", rv)
	}
	if got := post(url.Values{"action": {"approve"}, "csrf": {token}, "note": {"本人確認済み owner confirmed"}}, map[string]string{"Origin": f.srv.URL}); got != http.StatusSeeOther {
		t.Fatalf("approve: %d, want 303", got)
	}
	rv, err := f.store.GetReview(ctx, "rv_1")
	if err != nil {
		t.Fatal(err)
	}
	if rv.State != store.ReviewApproved || rv.DecidedBy != "operator:"+opName || rv.Note != "本人確認済み owner confirmed" {
		t.Errorf("review after approval: %+v", rv)
	}
	if got := post(url.Values{"action": {"reject"}, "csrf": {token}}, nil); got != http.StatusConflict {
		t.Errorf("second decision: %d, want 409", got)
	}
	if got := post(url.Values{"action": {"maybe"}, "csrf": {token}}, nil); got != http.StatusBadRequest {
		t.Errorf("bad action: %d, want 400", got)
	}
}

func TestIncidentPageAndCSV(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	if err := f.store.Write(ctx, store.Batch{
		Incidents: []store.Incident{{ID: "inc_1", Kind: "credential_stuffing", State: store.IncidentOpen, StartedAt: t0,
			Attempts: 300, DistinctIPs: 120, DistinctPrefixes: 40, AccountsTargeted: 3, AccountsCompromised: 1, UpdatedAt: t0,
			TopSources: []store.Source{{Kind: "ip", Value: "203.0.113.9", Attempts: 12}}}},
		IncidentAccounts: []store.IncidentAccount{
			{IncidentID: "inc_1", Account: "u-7", Known: true, Outcome: store.OutcomeAllowed, Attempts: 1, FirstSeen: t0, LastSeen: t0},
			{IncidentID: "inc_1", Account: "=cmd|' /C calc'!A0", Known: false, Outcome: store.OutcomeDenied, Attempts: 2, FirstSeen: t0, LastSeen: t0},
			{IncidentID: "inc_1", Account: "u-8", Known: true, Outcome: store.OutcomeChallenged, Attempts: 1, FirstSeen: t0, LastSeen: t0},
		},
	}); err != nil {
		t.Fatal(err)
	}
	c, _ := f.signedIn(t)
	over := do(t, c, "GET", f.srv.URL+"/ui/", nil, nil)
	if !strings.Contains(over.body, `href="/ui/incidents/inc_1"`) {
		t.Errorf("overview does not link the open incident:\n%s", over.body)
	}
	page := do(t, c, "GET", f.srv.URL+"/ui/incidents/inc_1", nil, nil)
	if page.status != 200 || !strings.Contains(page.body, "u-7") || !strings.Contains(page.body, "203.0.113.9") {
		t.Fatalf("incident page: %d\n%s", page.status, page.body)
	}
	checkNoInline(t, "incident", page.body)
	csv := do(t, c, "GET", f.srv.URL+"/ui/incidents/inc_1/accounts.csv", nil, nil)
	if csv.status != 200 || !strings.HasPrefix(csv.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("CSV: %d %s", csv.status, csv.header.Get("Content-Type"))
	}
	lines := strings.Split(strings.TrimSpace(csv.body), "\n")
	if len(lines) != 4 || lines[0] != "account,known,outcome,needs_reset,attempts,first_seen,last_seen" {
		t.Fatalf("CSV:\n%s", csv.body)
	}
	if !strings.Contains(csv.body, "u-7,true,allowed,true,1,2026-11-25T10:00:00Z") {
		t.Errorf("CSV lacks the compromised account:\n%s", csv.body)
	}
	if strings.Contains(csv.body, "\n=cmd") || !strings.Contains(csv.body, "'=cmd") {
		t.Errorf("CSV does not defuse a formula:\n%s", csv.body)
	}
	if r := do(t, c, "GET", f.srv.URL+"/ui/incidents/inc_nope", nil, nil); r.status != http.StatusNotFound {
		t.Errorf("unknown incident: %d, want 404", r.status)
	}
	acc := do(t, c, "GET", f.srv.URL+"/ui/accounts/u-7", nil, nil)
	if acc.status != 200 || !strings.Contains(acc.body, "u-7") {
		t.Errorf("account page: %d", acc.status)
	}
	checkNoInline(t, "account", acc.body)
	pol := do(t, c, "GET", f.srv.URL+"/ui/policy", nil, nil)
	if pol.status != 200 || !strings.Contains(pol.body, "Fired") {
		t.Errorf("policy page: %d", pol.status)
	}
	checkNoInline(t, "policy", pol.body)
}
