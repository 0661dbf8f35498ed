// Package browsertest starts Debian's headless Chromium for the project's
// browser tests and gives them the helpers they share: screenshots, clicks
// that wait for the next page, and reading text.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
)

// Chromium returns the path of a headless Chromium: $ATOGUARD_CHROMIUM,
// Debian's chromium-headless-shell (not in chromedp's own search list),
// chromium, or one on PATH; "" when there is none (or the one named is
// absent).
func Chromium() string {
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

// ScreenshotDir returns where screenshots go: $ATOGUARD_SCREENSHOTS when
// set, else $ATOGUARD_ARTIFACTS/screenshots when that is set, else a
// temporary directory of t. The tests log each file they save.
func ScreenshotDir(t testing.TB) string {
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

// Options shape the browser. Zero values take defaults.
type Options struct {
	Width, Height int           // window size; default 1366×900, a laptop screen
	UserAgent     string        // default: Chromium's own (headless ones say HeadlessChrome)
	Timeout       time.Duration // bounds everything after start-up; default 90s
}

// Browser is a running headless Chromium with one tab.
type Browser struct {
	Ctx context.Context // the tab; pass it to chromedp
	Dir string          // where Shot saves
	t   testing.TB
}

// Open starts a browser for t, or skips t when there is no Chromium or
// the tests run with -short. It is closed when t ends.
func Open(t testing.TB, o Options) *Browser {
	t.Helper()
	bin := Chromium()
	if bin == "" {
		t.Skip("no Chromium found (install Debian's chromium-headless-shell, or set ATOGUARD_CHROMIUM): skipping the browser test")
	}
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	if o.Width == 0 || o.Height == 0 {
		o.Width, o.Height = 1366, 900
	}
	if o.Timeout <= 0 {
		o.Timeout = 90 * time.Second
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.WindowSize(o.Width, o.Height),
		chromedp.DisableGPU, chromedp.UserDataDir(t.TempDir()))
	if o.UserAgent != "" {
		opts = append(opts, chromedp.UserAgent(o.UserAgent))
	}
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	// Start the browser without a deadline, then bound the test.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("starting %s: %v", bin, err)
	}
	ctx, cancelT := context.WithTimeout(ctx, o.Timeout)
	t.Cleanup(func() { cancelT(); cancel(); cancelAlloc() })
	return &Browser{Ctx: ctx, Dir: ScreenshotDir(t), t: t}
}

// Shot saves the page as Dir/name.png: the whole page, or only what the
// window shows.
func (b *Browser) Shot(name string, whole bool) {
	b.t.Helper()
	capture := chromedp.CaptureScreenshot()
	if whole {
		capture = chromedp.FullScreenshot(100)
	}
	png, err := chromedp.Run(b.Ctx, capture)
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(b.Dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("saved %s", p)
}

// ClickAndLoad clicks the element sel and waits for the page it leads to.
func (b *Browser) ClickAndLoad(sel string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.Ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
		b.t.Fatalf("clicking %s: %v", sel, err)
	}
}

// Text returns the text of the element sel.
func (b *Browser) Text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.Ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("reading %s: %v", sel, err)
	}
	return s
}

// BrowserUA is a desktop Chromium's user agent: headless ones say
// HeadlessChrome, which the guard denies at login.
const BrowserUA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36"

// PasskeyAuthenticator enables WebAuthn in the tab and adds a DevTools
// virtual authenticator: a platform passkey (CTAP2, internal transport,
// resident keys) whose user is always verified and present. It returns
// the authenticator's id.
func (b *Browser) PasskeyAuthenticator() webauthn.AuthenticatorID {
	b.t.Helper()
	if _, err := chromedp.Call(b.Ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		b.t.Fatalf("WebAuthn.enable: %v", err)
	}
	auth, err := chromedp.Call(b.Ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
			HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		}})
	if err != nil {
		b.t.Fatalf("adding the virtual authenticator: %v", err)
	}
	return auth.AuthenticatorID
}

// Credentials returns the credentials the authenticator id holds.
func (b *Browser) Credentials(id webauthn.AuthenticatorID) []*webauthn.Credential {
	b.t.Helper()
	creds, err := chromedp.Call(b.Ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		b.t.Fatalf("reading the authenticator's credentials: %v", err)
	}
	return creds.Credentials
}
