package demoshop

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/passkeyjs"
)

// fakeGuard records events and answers with decide (allow when nil).
type fakeGuard struct {
	mu     sync.Mutex
	events []client.Event
	decide func(ev client.Event) client.Result
}

func (g *fakeGuard) Assess(_ context.Context, ev client.Event) (client.Result, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.events = append(g.events, ev)
	if g.decide != nil {
		return g.decide(ev), nil
	}
	return client.Result{Decision: client.Allow}, nil
}

func (g *fakeGuard) all() []client.Event {
	g.mu.Lock()
	defer g.mu.Unlock()
	return append([]client.Event(nil), g.events...)
}

func (g *fakeGuard) last(t *testing.T) client.Event {
	t.Helper()
	evs := g.all()
	if len(evs) == 0 {
		t.Fatal("the guard heard nothing")
	}
	return evs[len(evs)-1]
}

// countingHasher counts Verify calls and the hashes they were given.
type countingHasher struct {
	PasswordHasher
	verifies atomic.Int64
	mu       sync.Mutex
	params   []string // the $m=…,t=…,p=… part of every verified hash
}

func (h *countingHasher) Verify(encoded, pw string) (bool, error) {
	h.verifies.Add(1)
	h.mu.Lock()
	if parts := strings.Split(encoded, "$"); len(parts) == 6 {
		h.params = append(h.params, parts[3])
	}
	h.mu.Unlock()
	return h.PasswordHasher.Verify(encoded, pw)
}

type testShop struct {
	shop   *Shop
	srv    *httptest.Server
	guard  *fakeGuard
	hasher *countingHasher
	now    atomic.Pointer[time.Time]
}

var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

func newTestShop(t *testing.T, opts Options) *testShop {
	t.Helper()
	st, err := OpenStore(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ts := &testShop{guard: &fakeGuard{}, hasher: &countingHasher{PasswordHasher: Argon2id{TestParams}}}
	ts.now.Store(&t0)
	opts.Store = st
	opts.Secret = []byte(strings.Repeat("k", 32))
	if opts.Guard == nil {
		opts.Guard = ts.guard
	}
	opts.Hasher = ts.hasher
	opts.Now = func() time.Time { return *ts.now.Load() }
	if opts.TrustedProxies == nil {
		opts.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	}
	ts.shop, err = New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ts.srv = httptest.NewServer(ts.shop.Handler())
	t.Cleanup(ts.srv.Close)
	err = ts.shop.Seed(context.Background(), []SeedAccount{
		{ID: "u-1", Email: "Taro@Example.jp", Password: "correct horse", Name: "山田 太郎",
			Address: Address{PostalCode: "100-0001", Region: "東京都", City: "千代田区", Line1: "千代田1-1"}},
		{ID: "u-2", Email: "hanako@example.jp", Password: "another secret", Name: "田中 花子"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func (ts *testShop) advance(d time.Duration) {
	n := ts.now.Load().Add(d)
	ts.now.Store(&n)
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	t      *testing.T
	ts     *testShop
	c      *http.Client
	header http.Header
}

func (ts *testShop) browser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, ts: ts, header: http.Header{"User-Agent": {"Mozilla/5.0 (test)"}, "Accept-Language": {"ja-JP"}},
		c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status   int
	location string
	body     string
	header   http.Header
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
var statusRE = regexp.MustCompile(`data-status="([^"]+)"`)

func (p page) csrf() string {
	m := csrfRE.FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return m[1]
}

func (p page) dataStatus() string {
	m := statusRE.FindStringSubmatch(p.body)
	if m == nil {
		return ""
	}
	return m[1]
}

func (b *browser) do(method, path string, form url.Values) page {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.ts.srv.URL+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	for k, v := range b.header {
		req.Header[k] = v
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return page{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(data), header: resp.Header}
}

func (b *browser) get(path string) page { return b.do("GET", path, nil) }

// post submits a form with the CSRF token of the page at from.
func (b *browser) post(from, path string, form url.Values) page {
	b.t.Helper()
	tok := b.get(from).csrf()
	if tok == "" {
		b.t.Fatalf("no CSRF token on %s", from)
	}
	form.Set("csrf_token", tok)
	return b.do("POST", path, form)
}

func (b *browser) login(user, pw string) page {
	b.t.Helper()
	return b.post("/login", "/login", url.Values{"login": {user}, "password": {pw}})
}

func TestLoginReportsEveryOutcome(t *testing.T) {
	ts := newTestShop(t, Options{})
	b := ts.browser(t)

	p := b.login("nobody@example.jp", "whatever1")
	if p.status != 200 || p.dataStatus() != pageLoginFailed {
		t.Fatalf("unknown account: status %d %q", p.status, p.dataStatus())
	}
	ev := ts.guard.last(t)
	if ev.Type != client.LoginFailed || ev.User != nil || ev.Properties.Reason != client.ReasonUnknownAccount || ev.Login != "nobody@example.jp" {
		t.Errorf("unknown account event %+v", ev)
	}
	if ev.Credential == nil || ev.Credential.PasswordSHA1 != client.PasswordSHA1("whatever1") {
		t.Errorf("credential %+v", ev.Credential)
	}

	b.login("taro@example.jp", "wrong password")
	ev = ts.guard.last(t)
	if ev.Type != client.LoginFailed || ev.User == nil || ev.User.ID != "u-1" || ev.Properties.Reason != client.ReasonBadPassword {
		t.Errorf("bad password event %+v", ev)
	}

	// Full-width letters and capitals name the same account.
	p = b.login("ＴＡＲＯ@example.jp", "correct horse")
	if p.status != http.StatusSeeOther || p.location != "/account" {
		t.Fatalf("login: status %d location %q body %s", p.status, p.location, p.body)
	}
	ev = ts.guard.last(t)
	want := client.Context{IP: "127.0.0.1", UserAgent: "Mozilla/5.0 (test)", AcceptLanguage: "ja-JP", DeviceID: ev.Context.DeviceID}
	if ev.Type != client.LoginSucceeded || ev.User.ID != "u-1" || !strings.HasPrefix(ev.SessionID, "s-") || !ev.OccurredAt.Equal(t0) {
		t.Errorf("success event %+v", ev)
	}
	if diff := cmp.Diff(want, ev.Context); diff != "" || !deviceIDPattern.MatchString(ev.Context.DeviceID) {
		t.Errorf("context (-want +got):\n%s", diff)
	}
	if p := b.get("/account"); p.status != 200 || !strings.Contains(p.body, "山田 太郎") {
		t.Errorf("account page after login: %d", p.status)
	}
	// The device was new: the owner is told, once.
	mails, _ := ts.shop.store.Outbox(context.Background(), 10)
	if len(mails) != 1 || mails[0].To != "taro@example.jp" || !strings.Contains(mails[0].Body, "127.0.0.1") {
		t.Errorf("outbox %+v", mails)
	}
	b.post("/account", "/logout", url.Values{})
	b.login("taro@example.jp", "correct horse")
	if n, _ := ts.shop.store.CountOutbox(context.Background()); n != 1 {
		t.Errorf("%d notifications after a second login from the same device, want 1", n)
	}
	if p := b.get("/outbox"); !strings.Contains(p.body, "New sign-in") {
		t.Error("outbox page lacks the notification")
	}
}

// TestSameWorkForUnknownAccounts: an unknown login costs one password
// check at the same argon2id cost as a real account, so timing does not
// tell which emails have accounts.
func TestSameWorkForUnknownAccounts(t *testing.T) {
	ts := newTestShop(t, Options{})
	b := ts.browser(t)
	for _, c := range []struct{ login, pw string }{
		{"nobody@example.jp", "x"}, {"taro@example.jp", "wrong"}, {"taro@example.jp", "correct horse"},
	} {
		before := ts.hasher.verifies.Load()
		b.login(c.login, c.pw)
		if n := ts.hasher.verifies.Load() - before; n != 1 {
			t.Errorf("login %s: %d password checks, want 1", c.login, n)
		}
	}
	ts.hasher.mu.Lock()
	defer ts.hasher.mu.Unlock()
	for _, p := range ts.hasher.params {
		if p != ts.hasher.params[0] {
			t.Errorf("hash costs differ: %v", ts.hasher.params)
		}
	}
}

func TestCSRFRejection(t *testing.T) {
	ts := newTestShop(t, Options{})
	b := ts.browser(t)
	b.get("/login") // cookies
	for name, form := range map[string]url.Values{
		"no token":    {"login": {"taro@example.jp"}, "password": {"correct horse"}},
		"wrong token": {"login": {"taro@example.jp"}, "password": {"correct horse"}, "csrf_token": {"forged"}},
	} {
		p := b.do("POST", "/login", form)
		if p.status != http.StatusForbidden || p.dataStatus() != "csrf-rejected" {
			t.Errorf("%s: status %d %q", name, p.status, p.dataStatus())
		}
	}
	// A token from another session does not work either.
	other := ts.browser(t)
	tok := other.get("/login").csrf()
	p := b.do("POST", "/login", url.Values{"login": {"taro@example.jp"}, "password": {"correct horse"}, "csrf_token": {tok}})
	if p.status != http.StatusForbidden {
		t.Errorf("foreign token: status %d", p.status)
	}
	// A cross-site browser POST is refused even with a token.
	b.header.Set("Sec-Fetch-Site", "cross-site")
	tok = b.get("/login").csrf()
	p = b.do("POST", "/login", url.Values{"login": {"taro@example.jp"}, "password": {"correct horse"}, "csrf_token": {tok}})
	if p.status != http.StatusForbidden {
		t.Errorf("cross-site: status %d", p.status)
	}
	if n := len(ts.guard.all()); n != 0 {
		t.Errorf("the guard heard %d events from rejected forms", n)
	}
}

func TestTrustedProxyXFF(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name, peer string
		xff        []string
		want       string
	}{
		{"no proxy header", "127.0.0.1:5000", nil, "127.0.0.1"},
		{"untrusted peer spoofs", "198.51.100.9:5000", []string{"203.0.113.7"}, "198.51.100.9"},
		{"trusted peer", "127.0.0.1:5000", []string{"203.0.113.7"}, "203.0.113.7"},
		{"client prepends a spoofed hop", "127.0.0.1:5000", []string{"1.2.3.4, 203.0.113.7"}, "203.0.113.7"},
		{"chain of trusted proxies", "127.0.0.1:5000", []string{"203.0.113.7, 10.1.2.3"}, "203.0.113.7"},
		{"two header lines", "127.0.0.1:5000", []string{"1.2.3.4", "203.0.113.7"}, "203.0.113.7"},
		{"garbage ends the walk", "127.0.0.1:5000", []string{"203.0.113.7, junk, 10.1.2.3"}, "10.1.2.3"},
		{"all trusted", "127.0.0.1:5000", []string{"10.9.9.9"}, "10.9.9.9"},
		{"ipv6 client", "127.0.0.1:5000", []string{"2001:db8::1"}, "2001:db8::1"},
		{"mapped peer", "[::ffff:127.0.0.1]:5000", []string{"203.0.113.7"}, "203.0.113.7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.peer
			for _, h := range tt.xff {
				r.Header.Add("X-Forwarded-For", h)
			}
			if got := clientIP(r, trusted).String(); got != tt.want {
				t.Errorf("clientIP = %s, want %s", got, tt.want)
			}
		})
	}
	// No trusted proxies: the header is never believed.
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:1"
	r.Header.Set("X-Forwarded-For", "203.0.113.7")
	if got := clientIP(r, nil).String(); got != "127.0.0.1" {
		t.Errorf("no trusted proxies: %s", got)
	}

	// End to end: the guard hears the forwarded address.
	ts := newTestShop(t, Options{})
	b := ts.browser(t)
	b.header.Set("X-Forwarded-For", "203.0.113.50")
	b.login("taro@example.jp", "nope")
	if ip := ts.guard.last(t).Context.IP; ip != "203.0.113.50" {
		t.Errorf("guard heard %s", ip)
	}
	if _, err := ParseTrustedProxies("127.0.0.1, 10.0.0.0/8,::1"); err != nil {
		t.Error(err)
	}
	if _, err := ParseTrustedProxies("10.0.0.0/33"); err == nil {
		t.Error("bad prefix accepted")
	}
}

func TestSessionsAndCookies(t *testing.T) {
	ts := newTestShop(t, Options{SessionTTL: time.Hour})
	b := ts.browser(t)
	p := b.get("/login")
	cookies := map[string]*http.Cookie{}
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		cookies[c.Name] = c
	}
	dev, sess := cookies[deviceCookie], cookies[sessionCookie]
	if dev == nil || sess == nil {
		t.Fatalf("cookies %v", cookies)
	}
	if !dev.HttpOnly || dev.SameSite != http.SameSiteLaxMode || dev.MaxAge < 365*24*3600 || dev.Secure {
		t.Errorf("device cookie %+v", dev)
	}
	if !sess.HttpOnly || sess.SameSite != http.SameSiteLaxMode || sess.Secure {
		t.Errorf("session cookie %+v", sess)
	}
	before := sess.Value
	p = b.login("taro@example.jp", "correct horse")
	var after string
	for _, c := range (&http.Response{Header: p.header}).Cookies() {
		if c.Name == sessionCookie {
			after = c.Value
		}
	}
	if after == "" || after == before {
		t.Error("the session cookie was not renewed at login (session fixation)")
	}
	// The store keeps only a hash of the secret.
	if _, err := ts.shop.store.sessionByHash(context.Background(), []byte(after)); err == nil {
		t.Error("session stored under its clear secret")
	}
	if p := b.get("/orders"); p.status != 200 {
		t.Errorf("orders while logged in: %d", p.status)
	}
	ts.advance(2 * time.Hour)
	if p := b.get("/orders"); p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/login") {
		t.Errorf("orders after the session expired: %d %q", p.status, p.location)
	}
	ts.advance(-2 * time.Hour)
	b.login("taro@example.jp", "correct horse")
	b.post("/account", "/logout", url.Values{})
	if p := b.get("/account"); p.status != http.StatusSeeOther {
		t.Errorf("account after logout: %d", p.status)
	}

	// Over TLS every cookie is Secure.
	tls := httptest.NewTLSServer(ts.shop.Handler())
	defer tls.Close()
	resp, err := tls.Client().Get(tls.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if !c.Secure {
			t.Errorf("cookie %s not Secure over TLS", c.Name)
		}
	}
	if resp.Header.Get("Strict-Transport-Security") == "" {
		t.Error("no HSTS over TLS")
	}
}

func TestSecurityHeaders(t *testing.T) {
	ts := newTestShop(t, Options{})
	b := ts.browser(t)
	for _, path := range []string{"/", "/login", "/static/shop.css", "/nope"} {
		p := b.get(path)
		csp := p.header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP %q", path, csp)
		}
		if p.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: no nosniff", path)
		}
		if strings.Contains(p.body, "<script") || strings.Contains(p.body, "style=") {
			t.Errorf("%s: inline script or style", path)
		}
	}
	if p := b.get("/nope"); p.status != 404 {
		t.Errorf("/nope: %d", p.status)
	}
}

func TestChallengeStepUpAndAbandon(t *testing.T) {
	ts := newTestShop(t, Options{})
	ts.guard.decide = func(ev client.Event) client.Result {
		if ev.Type == client.LoginSucceeded {
			return client.Result{Decision: client.Challenge, Challenge: &client.ChallengeOffer{
				ID: "ch_1", Methods: []string{"webauthn", "totp"}, ExpiresAt: t0.Add(5 * time.Minute)}}
		}
		return client.Result{Decision: client.Allow}
	}
	b := ts.browser(t)
	p := b.login("taro@example.jp", "correct horse")
	if p.status != http.StatusSeeOther || p.location != "/stepup" {
		t.Fatalf("challenge: %d %q", p.status, p.location)
	}
	p = b.get("/stepup")
	if p.dataStatus() != pageStepUp || !strings.Contains(p.body, "cannot check second factors yet") || strings.Contains(p.body, `name="code"`) {
		t.Errorf("step-up page without a verifier:\n%s", p.body)
	}
	if p := b.get("/account"); p.status != http.StatusSeeOther {
		t.Errorf("a pending login reached the account page: %d", p.status)
	}
	if n, _ := ts.shop.store.CountOutbox(context.Background()); n != 0 {
		t.Errorf("%d notifications for an incomplete login", n)
	}
	p = b.post("/stepup", "/stepup/cancel", url.Values{})
	if p.dataStatus() != pageStepUpCancelled {
		t.Errorf("cancel: %q", p.dataStatus())
	}
	ev := ts.guard.last(t)
	if ev.Type != client.MFAFailed || ev.User.ID != "u-1" || ev.Properties.ChallengeID != "ch_1" || ev.Properties.Reason != "cancelled" {
		t.Errorf("cancel event %+v", ev)
	}

	// Abandoned: nobody answers; the sweep reports it after expiry.
	b2 := ts.browser(t)
	b2.login("taro@example.jp", "correct horse")
	n := len(ts.guard.all())
	if err := ts.shop.Sweep(context.Background()); err != nil || len(ts.guard.all()) != n {
		t.Errorf("sweep before expiry: %v, %d new events", err, len(ts.guard.all())-n)
	}
	ts.advance(6 * time.Minute)
	if err := ts.shop.Sweep(context.Background()); err != nil {
		t.Fatal(err)
	}
	ev = ts.guard.last(t)
	if ev.Type != client.MFAFailed || ev.Properties.Reason != "abandoned" || ev.Context.IP != "127.0.0.1" {
		t.Errorf("abandoned event %+v", ev)
	}
	if p := b2.get("/stepup"); p.status != http.StatusSeeOther {
		t.Errorf("step-up page after abandonment: %d", p.status)
	}
}

type fakeStepUp struct{ code string }

func (f fakeStepUp) Verify(_ context.Context, id, method, code string) (bool, error) {
	return id == "ch_9" && code == f.code, nil
}

func TestStepUpVerifierPassesLogin(t *testing.T) {
	ts := newTestShop(t, Options{StepUp: fakeStepUp{code: "123456"}})
	ts.guard.decide = func(ev client.Event) client.Result {
		if ev.Type == client.LoginSucceeded {
			return client.Result{Decision: client.Challenge, Challenge: &client.ChallengeOffer{ID: "ch_9", Methods: []string{"totp"}}}
		}
		return client.Result{Decision: client.Allow}
	}
	b := ts.browser(t)
	b.login("taro@example.jp", "correct horse")
	p := b.post("/stepup", "/stepup/verify", url.Values{"method": {"totp"}, "code": {"000000"}})
	if !strings.Contains(p.body, "not right") || ts.guard.last(t).Type != client.MFAFailed {
		t.Errorf("wrong code: %q", p.dataStatus())
	}
	p = b.post("/stepup", "/stepup/verify", url.Values{"method": {"totp"}, "code": {"123456"}})
	if p.status != http.StatusSeeOther || p.location != "/account" {
		t.Fatalf("right code: %d %q", p.status, p.location)
	}
	if ev := ts.guard.last(t); ev.Type != client.MFASucceeded || ev.Properties.Method != "totp" || ev.Properties.ChallengeID != "ch_9" {
		t.Errorf("event %+v", ev)
	}
	if p := b.get("/account"); p.status != 200 {
		t.Errorf("account after step-up: %d", p.status)
	}
}

func TestDenyLooksLikeAWrongPassword(t *testing.T) {
	ts := newTestShop(t, Options{})
	ts.guard.decide = func(client.Event) client.Result { return client.Result{Decision: client.Deny} }
	b := ts.browser(t)
	denied := b.login("taro@example.jp", "correct horse")
	wrong := b.login("taro@example.jp", "wrong")
	if denied.status != wrong.status || denied.dataStatus() != wrong.dataStatus() || denied.dataStatus() != pageLoginFailed {
		t.Errorf("denied %d %q, wrong password %d %q", denied.status, denied.dataStatus(), wrong.status, wrong.dataStatus())
	}
	if p := b.get("/account"); p.status != http.StatusSeeOther {
		t.Error("a denied login got a session")
	}
}

func TestFailModeWhenGuardIsDown(t *testing.T) {
	down, err := client.New(client.Config{BaseURL: "http://127.0.0.1:1", APIKey: "k", FailMode: client.FailClosed, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	ts := newTestShop(t, Options{Guard: down})
	b := ts.browser(t)
	if p := b.login("taro@example.jp", "correct horse"); p.location != "/stepup" {
		t.Errorf("fail-closed login: %d %q", p.status, p.location)
	}
}

func TestCheckoutAndProfile(t *testing.T) {
	ts := newTestShop(t, Options{})
	b := ts.browser(t)
	b.login("taro@example.jp", "correct horse")
	b.post("/", "/cart/add", url.Values{"sku": {"iphone-x-256-silver"}, "quantity": {"1"}})
	b.post("/", "/cart/add", url.Values{"sku": {"usb-c-cable-1m"}, "quantity": {"2"}})
	p := b.post("/checkout", "/checkout", url.Values{"delivery": {"home"}, "payment": {"credit_card"}})
	if p.dataStatus() != "order-accepted" {
		t.Fatalf("order: %q\n%s", p.dataStatus(), p.body)
	}
	ev := ts.guard.last(t)
	o := ev.Properties.Order
	if ev.Type != client.OrderAttempt || o.Amount != 131800+2*1980 || len(o.Items) != 2 || !o.Shipping.NewForUser || !o.Payment.NewForUser ||
		o.Shipping.Line1 != "千代田1-1" || o.Delivery.Method != "home" {
		t.Errorf("order event %+v %+v", ev, o)
	}

	// The attacker's pattern: new email, then a phone to a konbini, carrier billing.
	p = b.post("/account", "/account", url.Values{"email": {"evil@example.net"}, "name": {"山田 太郎"}, "postal_code": {"100-0001"},
		"region": {"東京都"}, "city": {"千代田区"}, "line1": {"千代田1-1"}, "notify_login": {"on"}, "notify_orders": {"on"}})
	if p.dataStatus() != pageProfileSaved {
		t.Fatalf("profile: %q", p.dataStatus())
	}
	if ev := ts.guard.last(t); ev.Type != client.ProfileUpdated || !cmp.Equal(ev.Properties.Fields, []string{"email"}) || ev.User.Email != "evil@example.net" {
		t.Errorf("profile event %+v", ev)
	}
	ts.guard.decide = func(ev client.Event) client.Result {
		if ev.Type == client.OrderAttempt {
			return client.Result{Decision: client.Review}
		}
		return client.Result{Decision: client.Allow}
	}
	b.post("/", "/cart/add", url.Values{"sku": {"iphone-x-256-silver"}, "quantity": {"1"}})
	p = b.post("/checkout", "/checkout", url.Values{"delivery": {"convenience_store"}, "pickup_store": {"fm-shinjuku-nishiguchi"}, "payment": {"carrier_billing"}})
	if p.dataStatus() != "order-held" {
		t.Errorf("held order: %q", p.dataStatus())
	}
	o = ts.guard.last(t).Properties.Order
	if o.Delivery.Method != "convenience_store" || o.Delivery.PickupStore != "fm-shinjuku-nishiguchi" || !o.Shipping.NewForUser || !o.Payment.NewForUser {
		t.Errorf("konbini order %+v", o)
	}
	orders, _ := ts.shop.store.Orders(context.Background(), "u-1")
	if len(orders) != 2 {
		t.Errorf("%d orders", len(orders))
	}
	if p := b.get("/orders"); !strings.Contains(p.body, "ファミリーマート") {
		t.Error("order history lacks the pickup store")
	}
	ts.guard.decide = func(client.Event) client.Result { return client.Result{Decision: client.Deny} }
	b.post("/", "/cart/add", url.Values{"sku": {"iphone-x-256-silver"}, "quantity": {"1"}})
	if p := b.post("/checkout", "/checkout", url.Values{"delivery": {"home"}, "payment": {"credit_card"}}); p.dataStatus() != "order-refused" {
		t.Errorf("denied order: %q", p.dataStatus())
	}
	if p := b.post("/account", "/account", url.Values{"email": {"other@example.net"}}); p.dataStatus() != pageProfileRefused {
		t.Errorf("denied profile change: %q", p.dataStatus())
	}
}

func TestRegister(t *testing.T) {
	ts := newTestShop(t, Options{})
	b := ts.browser(t)
	p := b.post("/register", "/register", url.Values{"email": {"New@Example.jp"}, "name": {"新規"}, "password": {"long enough pw"}})
	if p.status != http.StatusSeeOther || p.location != "/account" {
		t.Fatalf("register: %d %q %s", p.status, p.location, p.body)
	}
	ev := ts.guard.last(t)
	if ev.Type != client.Registration || ev.User.Email != "new@example.jp" || ev.Credential.PasswordSHA1 != client.PasswordSHA1("long enough pw") {
		t.Errorf("registration event %+v", ev)
	}
	a, err := ts.shop.store.AccountByEmail(context.Background(), "new@example.jp")
	if err != nil || !strings.HasPrefix(a.PasswordHash, "$argon2id$v=19$") || strings.Contains(a.PasswordHash, "long enough") {
		t.Errorf("stored account %+v, %v", a, err)
	}
	if p := b.post("/register", "/register", url.Values{"email": {"x@example.jp"}, "name": {"x"}, "password": {"short"}}); !strings.Contains(p.body, "at least 8") {
		t.Error("short password accepted")
	}
}

// TestPasskeyScriptIsVersioned: the security page loads the passkey
// script at its current version's address, which may be cached; the
// unversioned address is revalidated.
func TestPasskeyScriptIsVersioned(t *testing.T) {
	ts := newTestShop(t, Options{})
	b := ts.browser(t)
	if p := b.post("/register", "/register", url.Values{"email": {"keys@example.jp"}, "name": {"鍵"}, "password": {"long enough pw"}}); p.status != http.StatusSeeOther {
		t.Fatalf("register: %d %s", p.status, p.body)
	}
	js := "/static/passkey.js?v=" + passkeyjs.Version()
	if p := b.get("/security"); !strings.Contains(p.body, `<script src="`+js+`"`) {
		t.Errorf("the security page does not load %s:\n%s", js, p.body)
	}
	for path, want := range map[string]string{js: "public, max-age=31536000, immutable", "/static/passkey.js": "no-cache"} {
		if p := b.get(path); p.status != http.StatusOK || p.header.Get("Cache-Control") != want {
			t.Errorf("%s: %d, Cache-Control %q, want 200, %q", path, p.status, p.header.Get("Cache-Control"), want)
		}
	}
}

func TestArgon2idRoundTrip(t *testing.T) {
	h := Argon2id{TestParams}
	enc, err := h.Hash("pässwörd")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := h.Verify(enc, "pässwörd"); !ok || err != nil {
		t.Errorf("Verify(right) = %v, %v", ok, err)
	}
	if ok, _ := h.Verify(enc, "password"); ok {
		t.Error("Verify(wrong) = true")
	}
	for _, bad := range []string{"", "$argon2i$v=19$m=8,t=1,p=1$AAAA$AAAA", "$argon2id$v=19$m=99999999,t=1,p=1$AAAA$AAAA", "plain"} {
		if _, err := h.Verify(bad, "x"); err == nil {
			t.Errorf("Verify(%q) accepted", bad)
		}
	}
}
