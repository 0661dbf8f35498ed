package proxy

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	shopclient "github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/browsertest"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/stepup"
)

// TestPasskeyThroughTheProxy drives headless Chromium with a DevTools
// virtual authenticator through the proxy in front of the plain shop,
// which knows nothing of atoguard: it registers an account on the shop's
// own form, adds a passkey on the proxy's security page, logs out, logs in
// again — the test policy steps every login up, so the shop's session
// cookie is held — passes the proxy's step-up with the passkey and reaches
// the shop's signed-in page with the shop's own session.
func TestPasskeyThroughTheProxy(t *testing.T) {
	b := browsertest.Open(t, browsertest.Options{Width: 1000, Height: 800, UserAgent: browsertest.BrowserUA})
	ctx := b.Ctx
	shop := startPlainShop(t)

	// Passkeys need a name, not an address: the proxy is
	// http://localhost:PORT, the guard's relying party localhost.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	gc := startGuardWith(t, func(c *config.Config) {
		c.Policy = filepath.Join("testdata", "challenge-every-login.yaml")
		c.StepUp.WebAuthn = stepup.WebAuthnConfig{RPID: "localhost", Origins: []string{base}}
	})
	p, _ := behind(t, plainConfig, shop, gc)
	srv := httptest.NewUnstartedServer(p)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)

	auth := b.PasskeyAuthenticator()
	shot := func(name string) { b.Shot(name, true) }
	sessionCookie := func() string {
		cookies, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
		if err != nil {
			t.Fatalf("reading cookies: %v", err)
		}
		for _, c := range cookies.Cookies {
			if c.Name == "PLAINSID" {
				return c.Value
			}
		}
		return ""
	}
	fill := func(form, email, pw string) {
		t.Helper()
		if err := chromedp.Do(ctx,
			chromedp.Navigate(base+"/login"),
			chromedp.SendKeys(chromedp.CSS(`form[action="`+form+`"] input[name=email]`), email),
			chromedp.SendKeys(chromedp.CSS(`form[action="`+form+`"] input[name=password]`), pw),
		); err != nil {
			t.Fatalf("the shop's %s form: %v", form, err)
		}
		b.ClickAndLoad(`form[action="` + form + `"] button`)
	}

	// Register on the shop's own form: the shop signs the account in, and
	// the proxy saw that session begin.
	const email, pw = "passkey.owner@plain.test", "a long enough secret"
	fill("/register", email, pw)
	if got := b.Text("p"); !strings.Contains(got, "Welcome, "+email) {
		t.Fatalf("after registering the shop says %q", got)
	}

	// The proxy's security page: add a passkey through static/passkey.js.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/.atoguard/security"), chromedp.WaitVisible(chromedp.ID("passkey-register"))); err != nil {
		t.Fatalf("security page: %v", err)
	}
	shot("proxy-security")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("passkey-name"), "テスト端末 / test device"),
		chromedp.Click(chromedp.ID("passkey-register")),
		chromedp.WaitVisible(chromedp.CSS(`[data-status="notice"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#factors li[data-type="webauthn"]`)),
	); err != nil {
		errText, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("passkey-error")))
		t.Fatalf("registering the passkey: %v (page says %q)", err, errText)
	}
	shot("proxy-passkey-registered")
	if creds := b.Credentials(auth); len(creds) != 1 || creds[0].RpID != "localhost" {
		t.Fatalf("the authenticator holds %+v; want one credential for localhost", creds)
	}

	// Log out, log in: the guard steps the login up; the shop's session
	// cookie is held by the proxy, not in the browser.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/account")); err != nil {
		t.Fatal(err)
	}
	b.ClickAndLoad(`form[action="/logout"] button`)
	fill("/login", email, pw)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("passkey-login"))); err != nil {
		t.Fatalf("step-up page: %v", err)
	}
	shot("proxy-stepup")
	if c := sessionCookie(); c != "" {
		t.Fatalf("the shop's session reached the browser before the step-up: %q", c)
	}

	// Pass it with the passkey: the shop's own signed-in page opens, with
	// the shop's own session.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("passkey-login")),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/checkout"]`)),
	); err != nil {
		errText, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("passkey-error")))
		t.Fatalf("passing the step-up: %v (page says %q)", err, errText)
	}
	shot("proxy-after-stepup")
	if got := b.Text("p"); !strings.Contains(got, "Welcome, "+email) {
		t.Errorf("after the step-up the shop says %q", got)
	}
	sid := sessionCookie()
	if sid == "" {
		t.Fatal("no shop session in the browser after the step-up")
	}
	// The session is the shop's: the shop itself, asked directly, knows it.
	req, _ := http.NewRequestWithContext(context.Background(), "GET", shop+"/account", nil)
	req.AddCookie(&http.Cookie{Name: "PLAINSID", Value: sid})
	resp, err := (&http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the shop does not know the session the browser holds: %d", resp.StatusCode)
	}
	if creds := b.Credentials(auth); len(creds) != 1 || creds[0].SignCount < 1 {
		t.Errorf("after the assertion the authenticator holds %+v; want a used credential", creds)
	}
	fs, err := gc.Factors(context.Background(), email)
	if err != nil || len(fs.Factors) != 1 || fs.Factors[0].Type != shopclient.MethodWebAuthn || fs.Factors[0].LastUsedAt == nil {
		t.Errorf("the guard holds %+v, %v; want one used passkey", fs, err)
	}
}
