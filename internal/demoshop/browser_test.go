package demoshop_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/atoguard/atoguard/internal/browsertest"
)

// TestPasskeyInTheBrowser drives headless Chromium with a DevTools virtual
// authenticator (a platform passkey that verifies its user): it registers
// an account, registers a passkey on the shop's security page, logs out,
// logs in again — the test policy steps every login up — and passes the
// step-up with the passkey.
func TestPasskeyInTheBrowser(t *testing.T) {
	b := browsertest.Open(t, browsertest.Options{Width: 1200, Height: 900, UserAgent: browsertest.BrowserUA})
	ctx := b.Ctx
	base := startGuardedShop(t)

	auth := b.PasskeyAuthenticator()

	shot := func(name string) { b.Shot(name, true) }
	clickAndLoad, text := b.ClickAndLoad, b.Text

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

	// Security settings: register a passkey through /static/passkey.js (internal/passkeyjs).
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
	if creds := b.Credentials(auth); len(creds) != 1 || creds[0].RpID != "localhost" {
		t.Fatalf("the authenticator holds %+v; want one credential for localhost", creds)
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
	if creds := b.Credentials(auth); len(creds) != 1 || creds[0].SignCount < 1 {
		t.Errorf("after the assertion the authenticator holds %+v; want a used credential", creds)
	}

	// The security page now says when the passkey was used.
	if err := chromedp.Do(ctx, chromedp.Navigate(base+"/security"), chromedp.WaitVisible(chromedp.CSS(`li[data-type="webauthn"]`))); err != nil {
		t.Fatal(err)
	}
}
