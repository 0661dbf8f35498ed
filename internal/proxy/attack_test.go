package proxy

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	shopclient "github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/guard"
)

const testKey = "agk_test_proxy_0123456789abcdef"

// startGuard starts a guard in-process on the wall clock that may open a
// campaign at once, and returns a client of it with every scope.
func startGuard(t testing.TB) *shopclient.Client {
	t.Helper()
	return startGuardWith(t, func(*config.Config) {})
}

// startGuardWith is startGuard with edit applied to its configuration.
func startGuardWith(t testing.TB, edit func(*config.Config)) *shopclient.Client {
	t.Helper()
	cfg := config.Default()
	cfg.Data, cfg.Listen = t.TempDir(), "127.0.0.1:0"
	cfg.Engine.Campaign.Learn = time.Second // no minute to learn
	cfg.TickEvery = time.Second
	edit(&cfg)
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g, err := guard.Start(ctx, cfg, guard.Options{Log: discard(), BootstrapKey: testKey, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = g.Wait() })
	c, err := shopclient.New(shopclient.Config{BaseURL: g.URL(), APIKey: testKey, Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolTOTP gives userID a confirmed TOTP factor and returns its secret.
func enrolTOTP(t *testing.T, c *shopclient.Client, userID string) string {
	t.Helper()
	ctx := context.Background()
	e, err := c.EnrolTOTP(ctx, userID, "phone", userID)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(e.Secret, time.Now())
	if err := c.ConfirmTOTP(ctx, userID, e.FactorID, code); err != nil {
		t.Fatal(err)
	}
	return e.Secret
}

func account(i int) (string, string) {
	return fmt.Sprintf("user%03d@plain.test", i), fmt.Sprintf("correct-horse-%03d", i)
}

// TestDistributedAttackThroughTheProxy: the plain shop, which knows
// nothing of atoguard, behind the proxy and a real guard. Owners log in and
// check out as before; a credential-stuffing run spread over a /24 gets
// every stolen login stepped up or refused (no session cookie of the shop
// reaches the attacker), opens an incident, and the order of a thief who
// got in before the attack, changed the account's email and ordered is
// held. An owner with an authenticator app
// passes the step-up from a new device during the attack.
func TestDistributedAttackThroughTheProxy(t *testing.T) {
	shop := startPlainShop(t)
	gc := startGuard(t)
	_, srv := behind(t, plainConfig, shop, gc)
	secret := enrolTOTP(t, gc, "user005@plain.test")

	// Owners at home, each on their own network, log in and buy.
	owners := map[int]*browser{}
	for i := range 10 {
		b := newBrowser(t, fmt.Sprintf("192.0.%d.10", i+1))
		email, pw := account(i)
		if resp, _ := b.login(srv.URL, email, pw); resp.StatusCode != 303 || b.cookie(srv.URL, "PLAINSID") == "" {
			t.Fatalf("owner %s: %d %s", email, resp.StatusCode, resp.Header.Get("Location"))
		}
		if resp, _ := b.do("POST", srv.URL+"/checkout", url.Values{"sku": {"case"}, "total": {"1980"}}); resp.Header.Get("Location") != "/orders" {
			t.Fatalf("owner %s checkout: %d", email, resp.StatusCode)
		}
		owners[i] = b
	}
	// A thief with a password bought elsewhere gets in before the attack.
	thief := newBrowser(t, "198.51.100.250")
	if email, pw := account(40); true {
		if resp, _ := thief.login(srv.URL, email, pw); resp.StatusCode != 303 {
			t.Fatalf("thief's early login: %d", resp.StatusCode)
		}
	}
	before := shopStats(t, shop)

	// The combo list: failures first, then stolen passwords among them.
	type line struct{ email, pw string }
	var combo []line
	for i := range 150 {
		combo = append(combo, line{fmt.Sprintf("nobody%03d@plain.test", i), "hunter2"})
		if i%3 == 0 {
			email, _ := account(i % 50)
			combo = append(combo, line{email, "wrong-" + fmt.Sprint(i)})
		}
	}
	var stolen []line
	for i := 10; i < 30; i++ {
		email, pw := account(i)
		stolen = append(stolen, line{email, pw})
	}
	email5, pw5 := account(5)
	stolen = append(stolen, line{email5, pw5})
	for i, s := range stolen {
		at := 80 + i*5
		combo = append(combo[:at], append([]line{s}, combo[at:]...)...)
	}

	var mu sync.Mutex
	var leaked, challenged, refused []string
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for i := range jobs {
				b := newBrowser(t, fmt.Sprintf("198.51.100.%d", 1+i%200))
				l := combo[i]
				resp, body := b.login(srv.URL, l.email, l.pw)
				mu.Lock()
				if b.cookie(srv.URL, "PLAINSID") != "" || strings.Contains(strings.Join(resp.Header.Values("Set-Cookie"), ";"), "PLAINSID") {
					leaked = append(leaked, l.email)
				}
				if strings.HasPrefix(l.pw, "correct-") {
					switch {
					case strings.HasPrefix(resp.Header.Get("Location"), "/.atoguard/stepup"):
						challenged = append(challenged, l.email)
					case strings.Contains(body, "login failed"):
						refused = append(refused, l.email)
					}
				}
				mu.Unlock()
			}
		})
	}
	for i := range combo {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if len(leaked) > 0 {
		t.Errorf("the shop's session reached the attacker for %v", leaked)
	}
	if len(challenged)+len(refused) != len(stolen) {
		t.Errorf("stolen logins: %d stepped up, %d refused, of %d", len(challenged), len(refused), len(stolen))
	}
	if len(challenged) != 1 || challenged[0] != email5 {
		t.Errorf("stepped up %v, want only %s (the one with a factor)", challenged, email5)
	}
	t.Logf("combo list %d lines: %d stolen logins stepped up, %d refused (no factor to step up with), none leaked",
		len(combo), len(challenged), len(refused))
	after := shopStats(t, shop)
	if got := after["logins_ok"] - before["logins_ok"]; got != len(stolen) {
		t.Errorf("the shop accepted %d passwords, want %d", got, len(stolen))
	}
	if got := after["logouts"] - before["logouts"]; got != len(refused) {
		t.Errorf("the shop ended %d sessions, want %d (the refused ones)", got, len(refused))
	}

	// An incident is open.
	var incs []shopclient.Incident
	deadline := time.Now().Add(20 * time.Second)
	for len(incs) == 0 && time.Now().Before(deadline) {
		var err error
		if incs, err = gc.Incidents(context.Background(), "open"); err != nil {
			t.Fatal(err)
		}
		if len(incs) == 0 {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if len(incs) == 0 {
		t.Fatal("no incident opened")
	}

	// The thief takes the account over (a new email address) and orders:
	// the order is held and never reaches the shop.
	if resp, _ := thief.do("POST", srv.URL+"/profile", url.Values{"email": {"drop@evil.test"}}); resp.Header.Get("Location") != "/account" {
		t.Fatalf("thief's profile change: %d", resp.StatusCode)
	}
	orders := shopStats(t, shop)["orders"]
	resp, body := thief.do("POST", srv.URL+"/checkout", url.Values{"sku": {"phone-x-256"}, "total": {"131800"}, "store": {"famima-shinjuku"}, "payment": {"carrier_billing"}})
	if resp.StatusCode != http.StatusAccepted || !strings.Contains(body, "atoguard-hold") {
		t.Errorf("thief's checkout: %d %s", resp.StatusCode, body)
	}
	// An owner on a known device still buys.
	if resp, _ := owners[3].do("POST", srv.URL+"/checkout", url.Values{"sku": {"case"}, "total": {"1980"}}); resp.Header.Get("Location") != "/orders" {
		t.Errorf("owner's checkout during the attack: %d", resp.StatusCode)
	}
	if got := shopStats(t, shop)["orders"]; got != orders+1 {
		t.Errorf("the shop took %d orders, want 1 (the owner's)", got-orders)
	}

	// The owner with an authenticator app, on a new phone during the attack.
	b := newBrowser(t, "192.0.99.10")
	resp, _ = b.login(srv.URL, email5, pw5)
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "/.atoguard/stepup?t=") || b.cookie(srv.URL, "PLAINSID") != "" {
		t.Fatalf("owner on a new phone: %d %s", resp.StatusCode, loc)
	}
	// The code of the next step: the one of this step confirmed the factor
	// and a code is accepted once.
	code, _ := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	resp, _ = b.do("POST", srv.URL+"/.atoguard/stepup", url.Values{"t": {strings.TrimPrefix(loc, "/.atoguard/stepup?t=")}, "method": {"totp"}, "code": {code}})
	if resp.StatusCode != 303 || b.cookie(srv.URL, "PLAINSID") == "" {
		t.Fatalf("owner's step-up: %d", resp.StatusCode)
	}
	if _, body := b.do("GET", srv.URL+"/account", nil); !strings.Contains(body, "Welcome, "+email5) {
		t.Errorf("owner's account page: %s", body)
	}
}

// TestHydraAgainstTheProxy: hydra, an attack tool nobody here wrote, runs
// a combo list against the plain shop's form through the proxy: the guard
// denies every try at the door (automation user agent), so the shop sees
// none and hydra finds nothing.
func TestHydraAgainstTheProxy(t *testing.T) {
	hydra, err := exec.LookPath("hydra")
	if err != nil {
		t.Skip("hydra is not installed: apt-get install hydra")
	}
	shop := startPlainShop(t)
	_, srv := behind(t, plainConfig, shop, startGuard(t))
	dir := t.TempDir()
	var lines []string
	for i := range 30 {
		email, pw := account(i)
		if i%3 != 0 {
			pw = "nope"
		}
		lines = append(lines, email+":"+pw)
	}
	combo := filepath.Join(dir, "combo.txt")
	if err := os.WriteFile(combo, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(srv.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, hydra, "-C", combo, "-s", u.Port(), "-t", "4", "-w", "10", u.Hostname(), "http-post-form",
		"/login:email=^USER^&password=^PASS^:F=login failed")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	t.Logf("hydra:\n%s", out)
	if err != nil {
		t.Fatalf("hydra: %v", err)
	}
	if !strings.Contains(string(out), "0 valid password") {
		t.Errorf("hydra found passwords through the proxy")
	}
	if st := shopStats(t, shop); st["logins_ok"]+st["logins_failed"] != 0 {
		t.Errorf("the shop saw hydra's tries: %v", st)
	}
}
