package proxy

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	shopclient "github.com/atoguard/atoguard/client"
)

// plainShopBin is the plain shop, built once per test binary.
var plainShopBin struct {
	once sync.Once
	path string
	err  error
}

// startPlainShop builds and runs testdata/plainshop, a shop that imports
// nothing of this module, and returns its URL.
func startPlainShop(t testing.TB) string {
	t.Helper()
	plainShopBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "plainshop-*")
		if err != nil {
			plainShopBin.err = err
			return
		}
		plainShopBin.path = filepath.Join(dir, "plainshop")
		out, err := exec.Command("go", "build", "-o", plainShopBin.path, "./testdata/plainshop").CombinedOutput()
		if err != nil {
			plainShopBin.err = &buildError{string(out), err}
		}
	})
	if plainShopBin.err != nil {
		t.Fatalf("building the plain shop: %v", plainShopBin.err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, plainShopBin.path, "-listen", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "listening on ") {
		t.Fatalf("plain shop: %q, %v", line, err)
	}
	return "http://" + strings.TrimSpace(strings.TrimPrefix(line, "listening on "))
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

// plainConfig is the configuration of the plain shop: what the README's
// "Without changing your shop" shows.
const plainConfig = `
trusted_proxies: [127.0.0.1]
logout: {method: POST, path: /logout}
routes:
  login:
    preset: form-login
    success: {status: [303], cookie: PLAINSID}
    failure: {status: 200, body: "<p class=\"error\">login failed</p>"}
  registration:
    path: /register
    fields: {login: email, password: password}
    success: {status: [303], cookie: PLAINSID}
    failure: {status: 200, body: "<p class=\"error\">login failed</p>"}
  profile_change:
    path: /profile
    fields: {email: email, shipping_address: address}
    success: {status: [303], redirect: /account}
  checkout:
    path: /checkout
    fields: {amount: total, items: sku, shipping_address: address, pickup_store: store, payment_method: payment}
    success: {status: [303], redirect: /orders}
    fail: closed
`

// behind starts the proxy of cfg in front of upstream, asking g.
func behind(t testing.TB, cfgText, upstream string, g Guard) (*Proxy, *httptest.Server) {
	t.Helper()
	cfg, err := Parse([]byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(upstream)
	p, err := New(cfg, Options{Upstream: u, Guard: g, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv
}

// browser is a client with its own cookies that does not follow redirects,
// coming from ip through the trusted loopback proxy.
type browser struct {
	t   *testing.T
	c   *http.Client
	ip  string
	ua  string
	jar *cookiejar.Jar
}

func newBrowser(t *testing.T, ip string) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, ip: ip, jar: jar,
		ua: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36",
		c: &http.Client{Jar: jar, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// do sends a request and returns the answer with its body read.
func (b *browser) do(method, u string, form url.Values) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("User-Agent", b.ua)
	req.Header.Set("Accept", "text/html,application/xhtml+xml")
	req.Header.Set("Accept-Language", "ja-JP,ja;q=0.9")
	req.Header.Set("Accept-Encoding", "gzip, deflate, br")
	if b.ip != "" {
		req.Header.Set("X-Forwarded-For", b.ip)
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp, string(data)
}

// cookie returns the browser's cookie name for u, or "".
func (b *browser) cookie(u, name string) string {
	pu, _ := url.Parse(u)
	for _, c := range b.jar.Cookies(pu) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

func (b *browser) login(base, email, password string) (*http.Response, string) {
	return b.do("POST", base+"/login", url.Values{"email": {email}, "password": {password}})
}

// shopStats reads the plain shop's counters.
func shopStats(t *testing.T, shop string) map[string]int {
	t.Helper()
	resp, err := http.Get(shop + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]int
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// fakeGuard answers as its functions say and records the events.
type fakeGuard struct {
	mu      sync.Mutex
	events  []shopclient.Event
	decide  func(ev shopclient.Event) (shopclient.Result, error)
	verify  func(id string, a shopclient.Answer) (shopclient.Verification, error)
	verifed []string
}

func (g *fakeGuard) Assess(_ context.Context, ev shopclient.Event) (shopclient.Result, error) {
	g.mu.Lock()
	g.events = append(g.events, ev)
	g.mu.Unlock()
	if g.decide == nil {
		return shopclient.Result{Decision: shopclient.Allow}, nil
	}
	return g.decide(ev)
}

func (g *fakeGuard) Verify(_ context.Context, id string, a shopclient.Answer) (shopclient.Verification, error) {
	g.mu.Lock()
	g.verifed = append(g.verifed, id)
	g.mu.Unlock()
	return g.verify(id, a)
}

func (g *fakeGuard) SendCode(context.Context, string, string) (shopclient.CodeSent, error) {
	return shopclient.CodeSent{}, nil
}

// types lists the types of the events seen.
func (g *fakeGuard) types() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, ev := range g.events {
		out = append(out, ev.Type)
	}
	return out
}

func (g *fakeGuard) last() shopclient.Event {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.events[len(g.events)-1]
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
