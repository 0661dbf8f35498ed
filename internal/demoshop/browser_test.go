package demoshop_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// Screenshots of the browser test go to $ATOGUARD_SCREENSHOTS when set,
// else to $ATOGUARD_ARTIFACTS/screenshots when that is set, else to a
// temporary directory (the test logs each path). The key ones are copied by
// hand to docs/screenshots/shop-*.png.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("ATOGUARD_SCREENSHOTS")
	if dir == "" && os.Getenv("ATOGUARD_ARTIFACTS") != "" {
		dir = filepath.Join(os.Getenv("ATOGUARD_ARTIFACTS"), "screenshots")
	}
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// chromiumBinary returns a headless Chromium: $ATOGUARD_CHROMIUM, Debian's
// chromium-headless-shell (not in chromedp's own search list), or one on
// PATH; "" when there is none.
func chromiumBinary() string {
	if p := os.Getenv("ATOGUARD_CHROMIUM"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return ""
		}
		return p
	}
	for _, p := range []string{"/usr/lib/chromium/chromium-headless-shell", "/usr/bin/chromium"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	for _, name := range []string{"chromium-headless-shell", "chromium", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestPasskeyInTheBrowser drives headless Chromium with a DevTools virtual
// authenticator (a platform passkey that verifies its user): it registers
// an account, registers a passkey on the shop's security page, logs out,
// logs in again — the test policy steps every login up — and passes the
// step-up with the passkey.
func TestPasskeyInTheBrowser(t *testing.T) {
	bin := chromiumBinary()
	if bin == "" {
		t.Skip("no Chromium found (install Debian's chromium-headless-shell, or set ATOGUARD_CHROMIUM): skipping the passkey browser test")
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	dir := screenshotDir(t)
	base := startGuardedDemo(t)

	// A browser's own user agent: the headless one says HeadlessChrome.
	ua := "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36"
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.WindowSize(1200, 900),
		chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()), chromedp.UserAgent(ua))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(allocCtx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil { // start the browser without a deadline
		t.Fatalf("starting %s: %v", bin, err)
	}
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	defer cancelT()

	if _, err := chromedp.Call(ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	auth, err := chromedp.Call(ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		}})
	if err != nil {
		t.Fatalf("adding the virtual authenticator: %v", err)
	}

	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		p := filepath.Join(dir, name+".png")
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("saved %s", p)
	}
	clickAndLoad := func(sel string) {
		t.Helper()
		if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
			t.Fatalf("clicking %s: %v", sel, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("reading %s: %v", sel, err)
		}
		return s
	}

	// Register: the new account is logged in at once.
	const email, pw = "passkey.owner@example.jp", "a long enough secret"
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/register"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/register"] input[name=email]`), email),
		chromedp.SendKeys(chromedp.CSS(`form[action="/register"] input[name=name]`), "山田 太郎"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/register"] input[name=password]`), pw),
	); err != nil {
		t.Fatalf("register page: %v", err)
	}
	clickAndLoad(`form[action="/register"] button[type=submit]`)

	// Security settings: register a passkey through static/webauthn.js.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/security"), chromedp.WaitVisible(chromedp.ID("passkey-register"))); err != nil {
		t.Fatalf("security page: %v", err)
	}
	shot("shop-security")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("passkey-name"), "テスト端末 / test device"),
		chromedp.Click(chromedp.ID("passkey-register")),
		chromedp.WaitVisible(chromedp.CSS(`[data-status="passkey-registered"] li[data-type="webauthn"]`)),
	); err != nil {
		errText, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("passkey-error")))
		t.Fatalf("registering the passkey: %v (page says %q)", err, errText)
	}
	shot("shop-passkey-registered")
	creds, err := chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: auth.AuthenticatorID})
	if err != nil || len(creds.Credentials) != 1 || creds.Credentials[0].RpID != "localhost" {
		t.Fatalf("the authenticator holds %+v, %v; want one credential for localhost", creds.Credentials, err)
	}

	// The authenticator-app enrolment shows its QR code (a data: URL).
	clickAndLoad("#totp-start")
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("totp-qr"))); err != nil {
		t.Fatalf("TOTP enrolment: %v", err)
	}
	shot("shop-totp-enrol")

	// Log out, log in: the guard (test policy) challenges the login.
	clickAndLoad(`form[action="/logout"] button`)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(base+"/login"),
		chromedp.SendKeys(chromedp.CSS(`form[action="/login"] input[name=login]`), email),
		chromedp.SendKeys(chromedp.CSS(`form[action="/login"] input[name=password]`), pw),
	); err != nil {
		t.Fatalf("login page: %v", err)
	}
	clickAndLoad(`form[action="/login"] button[type=submit]`)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("passkey-login"))); err != nil {
		t.Fatalf("step-up page: %v", err)
	}
	if got := text("h1"); !strings.Contains(got, "second factor") {
		t.Errorf("step-up heading %q", got)
	}
	shot("shop-stepup")

	// Pass it with the passkey: the account page opens.
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("passkey-login")),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/account"]`)),
	); err != nil {
		errText, _ := chromedp.Run(ctx, chromedp.Text(chromedp.ID("passkey-error")))
		t.Fatalf("passing the step-up: %v (page says %q)", err, errText)
	}
	shot("shop-after-stepup")
	creds, err = chromedp.Call(ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: auth.AuthenticatorID})
	if err != nil || len(creds.Credentials) != 1 || creds.Credentials[0].SignCount < 1 {
		t.Errorf("after the assertion the authenticator holds %+v, %v; want a used credential", creds.Credentials, err)
	}

	// The security page now says when the passkey was used.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/security"), chromedp.WaitVisible(chromedp.CSS(`li[data-type="webauthn"]`))); err != nil {
		t.Fatal(err)
	}
}
