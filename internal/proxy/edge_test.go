package proxy

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	shopclient "github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/passkeyjs"
)

const owner, ownerPW = "user001@plain.test", "correct-horse-001"

// TestDecisionsAtTheEdge runs the plain shop behind the proxy with a guard
// that answers as each case says.
func TestDecisionsAtTheEdge(t *testing.T) {
	shop := startPlainShop(t)
	challenge := func(ev shopclient.Event) (shopclient.Result, error) {
		if ev.Type == shopclient.LoginSucceeded {
			return shopclient.Result{Decision: shopclient.Challenge, Challenge: &shopclient.ChallengeOffer{
				ID: "ch_1", Methods: []string{"totp", "recovery_code"}, ExpiresAt: time.Now().Add(time.Minute)}}, nil
		}
		return shopclient.Result{Decision: shopclient.Allow}, nil
	}

	t.Run("owner logs in and checks out", func(t *testing.T) {
		g := &fakeGuard{}
		_, srv := behind(t, plainConfig, shop, g)
		b := newBrowser(t, "203.0.113.9")
		resp, _ := b.login(srv.URL, owner, ownerPW)
		if resp.StatusCode != 303 || b.cookie(srv.URL, "PLAINSID") == "" {
			t.Fatalf("login: %d, session %q", resp.StatusCode, b.cookie(srv.URL, "PLAINSID"))
		}
		if _, body := b.do("GET", srv.URL+"/account", nil); !strings.Contains(body, "Welcome, "+owner) {
			t.Fatalf("account page: %s", body)
		}
		resp, _ = b.do("POST", srv.URL+"/checkout", url.Values{"sku": {"phone-x"}, "total": {"1,980"}, "payment": {"card"}})
		if loc := resp.Header.Get("Location"); resp.StatusCode != 303 || loc != "/orders" {
			t.Fatalf("checkout: %d %s", resp.StatusCode, loc)
		}
		if got, want := g.types(), []string{"login.attempt", "login.succeeded", "order.attempt"}; !slices.Equal(got, want) {
			t.Errorf("events %v, want %v", got, want)
		}
		ev := g.last()
		o := ev.Properties.Order
		if ev.User.ID != owner || o.Amount != 1980 || o.Items[0].SKU != "phone-x" || o.Payment.Method != "card" || ev.SessionID == "" {
			t.Errorf("order event %+v %+v", ev, o)
		}
		if ev.Context.IP != "203.0.113.9" || len(ev.Context.DeviceID) != 32 || ev.Context.AcceptLanguage != "ja-JP,ja;q=0.9" {
			t.Errorf("context %+v", ev.Context)
		}
	})

	t.Run("deny answers the failure shape without the shop", func(t *testing.T) {
		g := &fakeGuard{decide: func(shopclient.Event) (shopclient.Result, error) {
			return shopclient.Result{Decision: shopclient.Deny}, nil
		}}
		_, srv := behind(t, plainConfig, shop, g)
		before := shopStats(t, shop)
		resp, body := newBrowser(t, "").login(srv.URL, owner, ownerPW)
		if resp.StatusCode != 200 || !strings.Contains(body, "login failed") {
			t.Errorf("denied login: %d %q", resp.StatusCode, body)
		}
		if after := shopStats(t, shop); after["logins_ok"] != before["logins_ok"] || after["logins_failed"] != before["logins_failed"] {
			t.Errorf("the shop saw the denied login: %v → %v", before, after)
		}
	})

	t.Run("challenge holds the session until the step-up passes", func(t *testing.T) {
		g := &fakeGuard{decide: challenge, verify: func(_ string, a shopclient.Answer) (shopclient.Verification, error) {
			if a.Code == "123456" {
				return shopclient.Verification{Status: shopclient.StepUpPassed, Decision: "allow"}, nil
			}
			return shopclient.Verification{Status: shopclient.StepUpFailed, Decision: "deny", AttemptsLeft: 4}, nil
		}}
		_, srv := behind(t, plainConfig, shop, g)
		b := newBrowser(t, "")
		resp, _ := b.login(srv.URL, owner, ownerPW)
		loc := resp.Header.Get("Location")
		if resp.StatusCode != 303 || !strings.HasPrefix(loc, "/.atoguard/stepup?t=") {
			t.Fatalf("challenged login: %d %s", resp.StatusCode, loc)
		}
		if b.cookie(srv.URL, "PLAINSID") != "" || len(resp.Header.Values("Set-Cookie")) > 1 {
			t.Fatalf("the shop's session reached the browser before the step-up: %v", resp.Header.Values("Set-Cookie"))
		}
		resp, body := b.do("GET", srv.URL+loc, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, "認証アプリのコード") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
			t.Fatalf("step-up page: %d %s", resp.StatusCode, body)
		}
		token := strings.TrimPrefix(loc, "/.atoguard/stepup?t=")
		// Another browser cannot answer it.
		if resp, _ := newBrowser(t, "").do("POST", srv.URL+"/.atoguard/stepup", url.Values{"t": {token}, "method": {"totp"}, "code": {"123456"}}); resp.StatusCode != 410 {
			t.Errorf("a stranger's answer: %d, want 410", resp.StatusCode)
		}
		if resp, _ := b.do("POST", srv.URL+"/.atoguard/stepup", url.Values{"t": {token}, "method": {"totp"}, "code": {"000000"}}); resp.StatusCode != 401 || b.cookie(srv.URL, "PLAINSID") != "" {
			t.Errorf("a wrong code: %d", resp.StatusCode)
		}
		resp, _ = b.do("POST", srv.URL+"/.atoguard/stepup", url.Values{"t": {token}, "method": {"totp"}, "code": {"123456"}})
		if resp.StatusCode != 303 || resp.Header.Get("Location") != "/account" || b.cookie(srv.URL, "PLAINSID") == "" {
			t.Fatalf("passed step-up: %d %s", resp.StatusCode, resp.Header.Get("Location"))
		}
		if _, body := b.do("GET", srv.URL+"/account", nil); !strings.Contains(body, "Welcome, "+owner) {
			t.Errorf("account page after the step-up: %s", body)
		}
	})

	t.Run("a locked step-up ends the shop's session", func(t *testing.T) {
		g := &fakeGuard{decide: challenge, verify: func(string, shopclient.Answer) (shopclient.Verification, error) {
			return shopclient.Verification{Status: shopclient.StepUpLocked, Decision: "deny"}, nil
		}}
		_, srv := behind(t, plainConfig, shop, g)
		before := shopStats(t, shop)
		b := newBrowser(t, "")
		resp, _ := b.login(srv.URL, owner, ownerPW)
		token := strings.TrimPrefix(resp.Header.Get("Location"), "/.atoguard/stepup?t=")
		resp, _ = b.do("POST", srv.URL+"/.atoguard/stepup", url.Values{"t": {token}, "method": {"recovery_code"}, "code": {"nope"}})
		if resp.StatusCode != 403 || b.cookie(srv.URL, "PLAINSID") != "" {
			t.Errorf("locked: %d", resp.StatusCode)
		}
		if after := shopStats(t, shop); after["logouts"] != before["logouts"]+1 || after["sessions"] != before["sessions"] {
			t.Errorf("the held session was not ended: %v → %v", before, after)
		}
	})

	t.Run("deny after success ends the shop's session", func(t *testing.T) {
		g := &fakeGuard{decide: func(ev shopclient.Event) (shopclient.Result, error) {
			if ev.Type == shopclient.LoginSucceeded {
				return shopclient.Result{Decision: shopclient.Deny}, nil
			}
			return shopclient.Result{Decision: shopclient.Allow}, nil
		}}
		_, srv := behind(t, plainConfig, shop, g)
		before := shopStats(t, shop)
		b := newBrowser(t, "")
		resp, body := b.login(srv.URL, owner, ownerPW)
		if resp.StatusCode != 200 || !strings.Contains(body, "login failed") || b.cookie(srv.URL, "PLAINSID") != "" {
			t.Errorf("denied after success: %d %q", resp.StatusCode, body)
		}
		if after := shopStats(t, shop); after["logouts"] != before["logouts"]+1 {
			t.Errorf("the session was not ended: %v → %v", before, after)
		}
	})

	t.Run("a held order never reaches the shop", func(t *testing.T) {
		g := &fakeGuard{decide: func(ev shopclient.Event) (shopclient.Result, error) {
			if ev.Type == shopclient.OrderAttempt {
				return shopclient.Result{Decision: shopclient.Review}, nil
			}
			return shopclient.Result{Decision: shopclient.Allow}, nil
		}}
		_, srv := behind(t, plainConfig, shop, g)
		b := newBrowser(t, "")
		b.login(srv.URL, owner, ownerPW)
		before := shopStats(t, shop)
		resp, body := b.do("POST", srv.URL+"/checkout", url.Values{"sku": {"phone-x"}, "total": {"131800"}, "store": {"famima-1"}})
		if resp.StatusCode != 202 || !strings.Contains(body, "atoguard-hold") {
			t.Errorf("held order: %d %s", resp.StatusCode, body)
		}
		if after := shopStats(t, shop); after["orders"] != before["orders"] {
			t.Errorf("the shop took the held order")
		}
		if o := g.last().Properties.Order; o.Delivery.PickupStore != "famima-1" || o.Amount != 131800 {
			t.Errorf("order %+v", o)
		}
	})

	t.Run("guard down", func(t *testing.T) {
		down := &fakeGuard{decide: func(shopclient.Event) (shopclient.Result, error) {
			return shopclient.Result{}, shopclient.ErrUnavailable
		}}
		_, srv := behind(t, plainConfig, shop, down)
		b := newBrowser(t, "")
		if resp, _ := b.login(srv.URL, owner, ownerPW); resp.StatusCode != 303 || b.cookie(srv.URL, "PLAINSID") == "" {
			t.Errorf("fail open login: %d", resp.StatusCode)
		}
		before := shopStats(t, shop)
		if resp, _ := b.do("POST", srv.URL+"/checkout", url.Values{"total": {"1980"}}); resp.StatusCode != 202 {
			t.Errorf("fail closed checkout: %d, want the hold page", resp.StatusCode)
		}
		if after := shopStats(t, shop); after["orders"] != before["orders"] {
			t.Errorf("fail closed forwarded the order")
		}
		_, closed := behind(t, strings.Replace(plainConfig, "preset: form-login", "preset: form-login\n    fail: closed", 1), shop, down)
		if resp, body := newBrowser(t, "").login(closed.URL, owner, ownerPW); !strings.Contains(body, "login failed") {
			t.Errorf("fail closed login: %d %q", resp.StatusCode, body)
		}
	})

	t.Run("oversized body", func(t *testing.T) {
		g := &fakeGuard{}
		_, srv := behind(t, "max_body_bytes: 1024\n"+plainConfig, shop, g)
		before := shopStats(t, shop)
		resp, _ := newBrowser(t, "").login(srv.URL, owner, strings.Repeat("x", 4096))
		if resp.StatusCode != 413 || len(g.types()) != 0 {
			t.Errorf("oversized login: %d, events %v", resp.StatusCode, g.types())
		}
		if after := shopStats(t, shop); after["logins_failed"] != before["logins_failed"] {
			t.Errorf("the shop saw the oversized body")
		}
		// Other routes are not buffered nor bounded by the proxy.
		resp, _ = newBrowser(t, "").do("POST", srv.URL+"/somewhere", url.Values{"big": {strings.Repeat("x", 4096)}})
		if resp.StatusCode != 405 && resp.StatusCode != 404 {
			t.Errorf("an unwatched route: %d", resp.StatusCode)
		}
	})

	t.Run("upstream errors pass through", func(t *testing.T) {
		_, srv := behind(t, plainConfig, shop, &fakeGuard{})
		if resp, body := newBrowser(t, "").do("GET", srv.URL+"/boom", nil); resp.StatusCode != 500 || !strings.Contains(body, "shop broke") {
			t.Errorf("shop error: %d %q", resp.StatusCode, body)
		}
		_, dead := behind(t, plainConfig, "http://127.0.0.1:1", &fakeGuard{})
		if resp, _ := newBrowser(t, "").login(dead.URL, owner, ownerPW); resp.StatusCode != 502 {
			t.Errorf("upstream down: %d, want 502", resp.StatusCode)
		}
	})
}

// TestDeviceCookie: the proxy's cookie is HttpOnly, SameSite=Lax, Secure
// over TLS, and never reaches the shop; the shop sees the client address.
func TestDeviceCookie(t *testing.T) {
	var seen http.Header
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { seen = r.Header.Clone() }))
	defer up.Close()
	for _, tls := range []bool{false, true} {
		cfg, _ := Parse([]byte(plainConfig))
		u, _ := url.Parse(up.URL)
		p, err := New(cfg, Options{Upstream: u, Guard: &fakeGuard{}, Log: discard()})
		if err != nil {
			t.Fatal(err)
		}
		var srv *httptest.Server
		if tls {
			srv = httptest.NewTLSServer(p)
		} else {
			srv = httptest.NewServer(p)
		}
		resp, err := srv.Client().PostForm(srv.URL+"/login", url.Values{"email": {"a@b.jp"}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var dev *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "atoguard_device" {
				dev = c
			}
		}
		if dev == nil || !dev.HttpOnly || dev.SameSite != http.SameSiteLaxMode || dev.Secure != tls || len(dev.Value) != 32 {
			t.Errorf("tls %v: device cookie %+v", tls, dev)
		}
		if resp, err := srv.Client().Get(srv.URL + "/"); err != nil || len(resp.Cookies()) != 0 {
			t.Errorf("an unwatched route set cookies: %v", err)
		}
		req, _ := http.NewRequest("GET", srv.URL+"/", nil)
		req.Header.Set("Cookie", "a=1; atoguard_device="+dev.Value+"; b=2")
		req.Header.Set("X-Forwarded-For", "198.51.100.7")
		resp, err = srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if len(resp.Cookies()) != 0 {
			t.Errorf("a known device got a new cookie")
		}
		if got := seen.Get("Cookie"); got != "a=1; b=2" {
			t.Errorf("the shop saw cookies %q", got)
		}
		if got := seen.Get("X-Forwarded-For"); got != "198.51.100.7" {
			t.Errorf("X-Forwarded-For upstream %q", got)
		}
		srv.Close()
	}
}

// TestFailedLoginReports: for an account the proxy has seen exist (it
// logged in, or registered) the login.failed carries the account's id and
// bad_password;
// for a login it never saw succeed it carries no user, which the guard
// reads as "no such account" (docs/api.md), and no reason it cannot know.
func TestFailedLoginReports(t *testing.T) {
	shop := startPlainShop(t)
	g := &fakeGuard{}
	_, srv := behind(t, plainConfig, shop, g)
	b := newBrowser(t, "203.0.113.20")
	email, pw := account(7)
	b.login(srv.URL, "nobody@plain.test", "hunter2") // never seen
	b.login(srv.URL, email, "wrong")                 // exists, but the proxy has not seen it yet
	if resp, _ := b.login(srv.URL, email, pw); resp.StatusCode != 303 {
		t.Fatalf("owner's login: %d", resp.StatusCode)
	}
	b.login(srv.URL, "User007@Plain.test", "wrong again") // seen now, typed otherwise
	nb := newBrowser(t, "203.0.113.21")
	if resp, _ := nb.do("POST", srv.URL+"/register", url.Values{"email": {"new.owner@plain.test"}, "password": {"a new secret"}}); resp.StatusCode != 303 {
		t.Fatalf("registration: %d", resp.StatusCode)
	}
	nb.login(srv.URL, "new.owner@plain.test", "typo")

	type report struct{ login, user, reason string }
	var got []report
	g.mu.Lock()
	for _, ev := range g.events {
		if ev.Type != shopclient.LoginFailed {
			continue
		}
		r := report{login: ev.Login}
		if ev.User != nil {
			r.user = ev.User.ID
		}
		if ev.Properties != nil {
			r.reason = ev.Properties.Reason
		}
		if ev.Credential == nil || len(ev.Credential.PasswordSHA1) != 40 || ev.Context.IP == "" {
			t.Errorf("login.failed of %q without its credential or context: %+v", ev.Login, ev)
		}
		got = append(got, r)
	}
	g.mu.Unlock()
	want := []report{
		{login: "nobody@plain.test"},
		{login: email},
		{login: "User007@Plain.test", user: email, reason: "bad_password"},
		{login: "new.owner@plain.test", user: "new.owner@plain.test", reason: "bad_password"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("login.failed reports\n got %+v\nwant %+v", got, want)
	}
}

// TestSecurityPage: the proxy's factor enrolment page is for the account of
// a shop session the proxy saw begin, and its forms carry that session's
// token. An authenticator app is added through it.
func TestSecurityPage(t *testing.T) {
	shop := startPlainShop(t)
	gc := startGuard(t)
	_, srv := behind(t, plainConfig, shop, gc)
	stranger := newBrowser(t, "203.0.113.30")
	if resp, _ := stranger.do("GET", srv.URL+"/.atoguard/security", nil); resp.StatusCode != 403 {
		t.Errorf("security page without a session: %d", resp.StatusCode)
	}
	b := newBrowser(t, "203.0.113.31")
	const email = "totp.owner@plain.test"
	if resp, _ := b.do("POST", srv.URL+"/register", url.Values{"email": {email}, "password": {"a new secret"}}); resp.StatusCode != 303 {
		t.Fatalf("registration: %d", resp.StatusCode)
	}
	resp, page := b.do("GET", srv.URL+"/.atoguard/security", nil)
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("security page: %d %v", resp.StatusCode, resp.Header)
	}
	// The page loads the script's current version, which may be cached.
	if got, want := between(page, `<script src="`, `"`), "/.atoguard/static/passkey.js?v="+passkeyjs.Version(); got != want {
		t.Errorf("the security page's script: %q, want %q", got, want)
	} else if resp, _ := b.do("GET", srv.URL+got, nil); resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "immutable") {
		t.Errorf("the versioned script: %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	token := between(page, `name="t" value="`, `"`)
	if resp, _ := b.do("POST", srv.URL+"/.atoguard/security/totp", url.Values{"t": {"forged"}}); resp.StatusCode != 403 {
		t.Errorf("a form without the session's token: %d", resp.StatusCode)
	}
	resp, page = b.do("POST", srv.URL+"/.atoguard/security/totp", url.Values{"t": {token}})
	secret, factor := between(page, `<code id="totp-secret">`, `<`), between(page, `name="factor" value="`, `"`)
	if resp.StatusCode != 200 || secret == "" || factor == "" || !strings.Contains(page, `src="data:image/png;base64,`) {
		t.Fatalf("starting an authenticator app: %d\n%s", resp.StatusCode, page)
	}
	code, _ := totp.GenerateCode(secret, time.Now())
	resp, _ = b.do("POST", srv.URL+"/.atoguard/security/totp/confirm", url.Values{"t": {token}, "factor": {factor}, "code": {code}})
	if resp.StatusCode != 303 || resp.Header.Get("Location") != "/.atoguard/security?done=totp" {
		t.Fatalf("confirming: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	fs, err := gc.Factors(context.Background(), email)
	if err != nil || len(fs.Factors) != 1 || fs.Factors[0].Type != "totp" || !fs.Factors[0].Confirmed {
		t.Errorf("the guard holds %+v, %v; want one confirmed TOTP factor", fs, err)
	}
}

// between returns the text of s between the first from and the to after it.
func between(s, from, to string) string {
	_, rest, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, to)
	return v
}
