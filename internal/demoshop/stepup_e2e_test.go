package demoshop_test

import (
	"bytes"
	"context"
	"html"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/demoshop"
	"github.com/atoguard/atoguard/internal/guard"
	"github.com/atoguard/atoguard/internal/stepup"
)

// These tests run the shop in front of a real guard (package guard) with
// testdata/challenge-every-login.yaml as the guard's policy, so every
// correct password leads to the step-up page.

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startGuardedShop starts a guard on the wall clock and the shop in front
// of it, wired as the demo wires them; it returns the shop's URL at
// http://localhost:PORT, the name passkeys work at. Both stop when the
// test ends.
func startGuardedShop(t *testing.T) string {
	t.Helper()
	const apiKey = "stepup-test-key"
	sln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := sln.Addr().(*net.TCPAddr).Port
	cfg := config.Default()
	cfg.Data, cfg.Listen = t.TempDir(), "127.0.0.1:0"
	cfg.Policy = filepath.Join("testdata", "challenge-every-login.yaml")
	cfg.StepUp.WebAuthn = stepup.WebAuthnConfig{RPID: "localhost", Origins: []string{"http://localhost:" + strconv.Itoa(port)}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	g, err := guard.Start(context.Background(), cfg, guard.Options{Log: log, BootstrapKey: apiKey})
	if err != nil {
		sln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := g.Stop(); err != nil {
			t.Errorf("the guard stopped: %v", err)
		}
		if t.Failed() {
			t.Logf("log:\n%s", logs)
		}
	})
	guard, err := client.New(client.Config{BaseURL: g.URL(), APIKey: apiKey})
	if err != nil {
		t.Fatal(err)
	}
	st, err := demoshop.OpenStore(context.Background(), filepath.Join(t.TempDir(), "shop.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	shop, err := demoshop.New(demoshop.Options{Store: st, Secret: bytes.Repeat([]byte{9}, 32), Guard: guard,
		StepUp: demoshop.GuardStepUp{Client: guard}, Hasher: demoshop.Argon2id{P: demoshop.DemoParams}, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	srv := &http.Server{Handler: shop.Handler(), ReadHeaderTimeout: 5 * time.Second}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); _ = srv.Serve(sln) }()
	go func() { defer wg.Done(); shop.Run(ctx, 30*time.Second) }()
	t.Cleanup(func() {
		cancel()
		_ = srv.Close()
		wg.Wait()
	})
	return "http://localhost:" + strconv.Itoa(port)
}

// browser is a cookie-keeping HTTP client of the shop that does not follow
// redirects.
type browser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newClient(t *testing.T, base string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type resp struct {
	status   int
	location string
	body     string
}

var (
	csrfRE   = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	statusRE = regexp.MustCompile(`data-status="([^"]+)"`)
)

func (r resp) find(re *regexp.Regexp) string {
	m := re.FindStringSubmatch(r.body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func (c *browser) do(method, path string, form url.Values) resp {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36")
	req.Header.Set("Accept-Language", "ja-JP")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	res, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return resp{status: res.StatusCode, location: res.Header.Get("Location"), body: string(data)}
}

// post submits form with the CSRF token of the page at from.
func (c *browser) post(from, path string, form url.Values) resp {
	c.t.Helper()
	tok := c.do("GET", from, nil).find(csrfRE)
	if tok == "" {
		c.t.Fatalf("no CSRF token on %s", from)
	}
	form.Set("csrf_token", tok)
	return c.do("POST", path, form)
}

var (
	secretRE   = regexp.MustCompile(`<code id="totp-secret">([A-Z2-7]+)</code>`)
	factorIDRE = regexp.MustCompile(`name="factor_id" value="([^"]+)"`)
	codeRE     = regexp.MustCompile(`<li><code>([0-9a-z-]+)</code></li>`)
)

// TestTOTPAndRecoveryCodeStepUp enrols an authenticator app and recovery
// codes through the shop's security page, then passes two login step-ups
// through the shop's pages (a TOTP code computed here with pquerna/otp,
// then a recovery code) and a checkout step-up (another recovery code);
// an attacker with the right password gets no further than the step-up
// page, and guessing ends the login. No browser: plain HTTP.
func TestTOTPAndRecoveryCodeStepUp(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a guard and the shop")
	}
	base := startGuardedShop(t)
	c := newClient(t, base)
	const email, pw = "totp.owner@example.jp", "a long enough secret"
	if r := c.post("/register", "/register", url.Values{"email": {email}, "name": {"山田 花子"}, "password": {pw}}); r.status != http.StatusSeeOther || r.location != "/account" {
		t.Fatalf("register: %d %s\n%s", r.status, r.location, r.body)
	}

	// Enrol: the QR code is a data: URL, the key is shown for typing.
	r := c.post("/security", "/security/totp", url.Values{})
	secret, factorID := r.find(secretRE), r.find(factorIDRE)
	if r.find(statusRE) != "totp-pending" || secret == "" || factorID == "" || !strings.Contains(r.body, `src="data:image/png;base64,`) {
		t.Fatalf("TOTP enrolment page: status %q secret %q factor %q\n%s", r.find(statusRE), secret, factorID, r.body)
	}
	r = c.post("/security", "/security/totp/confirm", url.Values{"factor_id": {factorID}, "code": {"000000"}})
	if r.find(statusRE) != "totp-rejected" {
		t.Fatalf("a wrong confirmation code: status %q", r.find(statusRE))
	}
	// The rejected attempt left an unconfirmed factor; start again.
	r = c.post("/security", "/security/totp", url.Values{})
	secret, factorID = r.find(secretRE), r.find(factorIDRE)
	now := time.Now()
	code, err := totp.GenerateCode(secret, now)
	if err != nil {
		t.Fatal(err)
	}
	if r = c.post("/security", "/security/totp/confirm", url.Values{"factor_id": {factorID}, "code": {code}}); r.find(statusRE) != "totp-confirmed" {
		t.Fatalf("confirming TOTP: status %q\n%s", r.find(statusRE), r.body)
	}
	if !strings.Contains(r.body, `data-type="totp"`) {
		t.Errorf("the security page does not list the app")
	}
	r = c.post("/security", "/security/recovery-codes", url.Values{})
	codes := codeRE.FindAllStringSubmatch(r.body, -1)
	if r.find(statusRE) != "recovery-codes" || len(codes) != 10 {
		t.Fatalf("recovery codes: status %q, %d codes", r.find(statusRE), len(codes))
	}
	if again := c.do("GET", "/security", nil); codeRE.MatchString(again.body) {
		t.Error("recovery codes are shown again")
	}

	login := func() {
		t.Helper()
		c.post("/", "/logout", url.Values{})
		r := c.post("/login", "/login", url.Values{"login": {email}, "password": {pw}})
		if r.status != http.StatusSeeOther || r.location != "/stepup" {
			t.Fatalf("login: %d %s, want the step-up", r.status, r.location)
		}
		r = c.do("GET", "/stepup", nil)
		if r.find(statusRE) != "step-up" || !strings.Contains(r.body, `data-method="totp"`) || !strings.Contains(r.body, `data-method="recovery_code"`) {
			t.Fatalf("step-up page offers:\n%s", r.body)
		}
		if c.do("GET", "/account", nil).status != http.StatusSeeOther {
			t.Fatal("the account is open before the step-up")
		}
	}

	// 1. TOTP: a wrong code costs an attempt; the next step's code passes
	// (the one used to confirm is never accepted again).
	login()
	if r = c.post("/stepup", "/stepup/verify", url.Values{"method": {"totp"}, "code": {"999999"}}); !strings.Contains(r.body, "That code is not right") {
		t.Fatalf("a wrong TOTP code: %d\n%s", r.status, r.body)
	}
	next, err := totp.GenerateCode(secret, now.Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if r = c.post("/stepup", "/stepup/verify", url.Values{"method": {"totp"}, "code": {next}}); r.status != http.StatusSeeOther || r.location != "/account" {
		t.Fatalf("the TOTP step-up: %d %s\n%s", r.status, r.location, r.body)
	}
	if r = c.do("GET", "/account", nil); r.status != http.StatusOK {
		t.Fatalf("the account after the step-up: %d", r.status)
	}

	// 2. A recovery code, once.
	login()
	if r = c.post("/stepup", "/stepup/verify", url.Values{"method": {"recovery_code"}, "code": {codes[0][1]}}); r.status != http.StatusSeeOther || r.location != "/account" {
		t.Fatalf("the recovery-code step-up: %d %s\n%s", r.status, r.location, r.body)
	}
	if r = c.do("GET", "/security", nil); !strings.Contains(r.body, `<span id="recovery-left">9</span>`) {
		t.Errorf("recovery codes left after one use:\n%s", r.body)
	}

	// 3. Checkout: the guard challenges the order; another recovery code
	// places it.
	c.post("/", "/cart/add", url.Values{"sku": {"iphone-x-256-silver"}, "quantity": {"1"}})
	r = c.post("/checkout", "/checkout", url.Values{"delivery": {"convenience_store"}, "pickup_store": {"fm-shinjuku-nishiguchi"}, "payment": {"carrier_billing"}})
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/stepup/order?id=") {
		t.Fatalf("challenged checkout: %d %s\n%s", r.status, r.location, r.body)
	}
	step := r.location
	orderID := strings.TrimPrefix(step, "/stepup/order?id=")
	if r = c.do("GET", step, nil); !strings.Contains(r.body, "This order needs a second factor") || !strings.Contains(r.body, `data-method="recovery_code"`) {
		t.Fatalf("order step-up page:\n%s", r.body)
	}
	r = c.post(step, "/stepup/order/verify", url.Values{"order_id": {orderID}, "method": {"recovery_code"}, "code": {codes[1][1]}})
	if r.find(statusRE) != "order-accepted" {
		t.Fatalf("the order step-up: %d %q\n%s", r.status, r.find(statusRE), r.body)
	}

	// 4. An attacker with the right password, in a browser of their own,
	// gets the step-up page and nothing else: no account, no way to enrol
	// a factor, and guessing locks the challenge and ends the login.
	att := newClient(t, base)
	if r = att.post("/login", "/login", url.Values{"login": {email}, "password": {pw}}); r.location != "/stepup" {
		t.Fatalf("attacker login: %d %s", r.status, r.location)
	}
	for _, path := range []string{"/account", "/security", "/orders"} {
		if r = att.do("GET", path, nil); r.status != http.StatusSeeOther || !strings.HasPrefix(r.location, "/login") {
			t.Errorf("attacker GET %s: %d %s", path, r.status, r.location)
		}
	}
	if r = att.post("/stepup", "/security/totp", url.Values{}); r.status != http.StatusSeeOther {
		t.Errorf("attacker enrolling an app: %d", r.status)
	}
	for i := 0; ; i++ {
		if i == 10 {
			t.Fatal("ten wrong answers did not end the attacker's login")
		}
		r = att.post("/stepup", "/stepup/verify", url.Values{"method": {"recovery_code"}, "code": {"aaaa-bbbb-cccc-dddd"}})
		if r.find(statusRE) == "step-up-cancelled" {
			break
		}
		if r.find(statusRE) != "step-up" {
			t.Fatalf("attacker guess %d: %d %q", i, r.status, r.find(statusRE))
		}
	}
	if r = att.do("GET", "/account", nil); r.status != http.StatusSeeOther {
		t.Error("the attacker got in")
	}
}
