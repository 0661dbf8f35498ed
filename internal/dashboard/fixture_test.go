package dashboard_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/atoguard/atoguard/internal/api"
	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/dashboard"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/stepup"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
	"github.com/atoguard/atoguard/internal/store/sqlite"
)

const (
	opName     = "ops-taro"
	opPassword = "correct horse battery staple"
	apiSecret  = "test-api-secret"
)

// fixture is the guard's API and the dashboard on one test server, on an
// SQLite store in a temporary directory, with one operator.
type fixture struct {
	srv    *httptest.Server
	store  store.Store
	dash   *dashboard.Server
	secret string // the operator's TOTP secret (base32)
	log    *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureNotify(t, notify.Config{})
}

// newFixtureNotify is newFixture with the engine's notifications and the
// dashboard's bulk actions configured by nc.
func newFixtureNotify(t *testing.T, nc notify.Config) *fixture {
	t.Helper()
	return newFixtureOn(t, nc, openSQLite(t))
}

// backends open, for a test, each store the dashboard runs on.
var backends = []struct {
	name string
	open func(t *testing.T) store.Store
}{
	{"sqlite", openSQLite},
	{"memory", func(*testing.T) store.Store { return memory.New() }},
}

// openSQLite opens a SQLite store that t closes.
func openSQLite(t *testing.T) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), t.TempDir(), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// newFixtureOn is newFixtureNotify on the records st; with edits the
// dashboard's deps.
func newFixtureOn(t *testing.T, nc notify.Config, st store.Store, with ...func(*dashboard.Deps)) *fixture {
	t.Helper()
	ctx := context.Background()
	keys, _, err := stepup.LoadKeys("", "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	secret, _, err := dashboard.NewTOTP(opName)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateOperator(ctx, store.Operator{Name: opName, PasswordHash: dashboard.HashPassword(opPassword),
		TOTPSecret: keys.Seal([]byte(secret), dashboard.TOTPContext(opName)), CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	pol, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.New(clock.Event, nil)
	ed := engine.Deps{Clock: clk, Policy: pol, Records: st, Writer: st, Key: bytes.Repeat([]byte{7}, 32)}
	if nc.Enabled() {
		if ed.Notifications, err = notify.NewPlanner(nc); err != nil {
			t.Fatal(err)
		}
	}
	eng, err := engine.New(engine.Config{}, ed)
	if err != nil {
		t.Fatal(err)
	}
	logBuf := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logBuf, nil))
	apiSrv, err := api.New(api.Config{BootstrapKey: apiSecret}, api.Deps{Log: log, Engine: eng, Records: st})
	if err != nil {
		t.Fatal(err)
	}
	deps := dashboard.Deps{Log: log, Clock: clk, Engine: eng, Records: st, Operators: st, Opener: keys}
	for name, drop := range map[string]func(*dashboard.Deps){
		"logger": func(d *dashboard.Deps) { d.Log = nil }, "clock": func(d *dashboard.Deps) { d.Clock = nil },
		"engine": func(d *dashboard.Deps) { d.Engine = nil }, "records": func(d *dashboard.Deps) { d.Records = nil },
		"operators": func(d *dashboard.Deps) { d.Operators = nil }, "opener": func(d *dashboard.Deps) { d.Opener = nil },
	} {
		d := deps
		drop(&d)
		if _, err := dashboard.New(dashboard.Config{}, d); err == nil || !strings.Contains(err.Error(), name) {
			t.Fatalf("dashboard.New without a %s: %v, want an error naming it", name, err)
		}
	}
	// Every test client is on loopback: trusting it as a proxy lets a test
	// speak for other addresses (X-Forwarded-For).
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, edit := range with {
		edit(&deps)
	}
	dash, err := dashboard.New(dashboard.Config{Notify: nc, TrustedProxies: loopback}, deps)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ui", dash.Handler())
	mux.Handle("/ui/", dash.Handler())
	mux.Handle("/", apiSrv.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return &fixture{srv: srv, store: st, dash: dash, secret: secret, log: logBuf}
}

// code returns the operator's TOTP code at at.
func (f *fixture) code(t *testing.T, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(f.secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// client is a browser-like client that keeps cookies and does not follow
// redirects.
func (f *fixture) client(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type response struct {
	status int
	header http.Header
	body   string
}

func do(t *testing.T, c *http.Client, method, u string, form url.Values, headers map[string]string) response {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, resp.Header, string(data)}
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfField.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF field in page:\n%s", body)
	}
	return m[1]
}

// signIn signs c in with code and returns the answer to the POST.
func (f *fixture) signIn(t *testing.T, c *http.Client, password, code string) response {
	t.Helper()
	page := do(t, c, "GET", f.srv.URL+"/ui/login", nil, nil)
	return do(t, c, "POST", f.srv.URL+"/ui/login", url.Values{
		"csrf": {csrfOf(t, page.body)}, "name": {opName}, "password": {password}, "code": {code}, "next": {"/ui/"},
	}, nil)
}
