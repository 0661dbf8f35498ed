package cli_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

var csrfInPage = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// shopBrowser is a cookie-keeping client posing as a browser.
type shopBrowser struct {
	t    *testing.T
	base string
	c    *http.Client
}

func (b *shopBrowser) do(method, path string, form url.Values) (int, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, b.base+path, body)
	req.Header.Set("User-Agent", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36")
	req.Header.Set("Accept-Language", "ja-JP,ja;q=0.9")
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// post submits form with the CSRF token of the page at from.
func (b *shopBrowser) post(from, path string, form url.Values) (int, string) {
	b.t.Helper()
	_, page := b.do("GET", from, nil)
	m := csrfInPage.FindStringSubmatch(page)
	if m == nil {
		b.t.Fatalf("no form token on %s", from)
	}
	form.Set("csrf_token", m[1])
	return b.do("POST", path, form)
}

// TestDemoOwnerHearsOnTheOldAddress: in the running demo, an owner's
// email is changed; the guard's notification reaches the shop's webhook
// and the outbox shows it addressed to the address before the change,
// with a "this wasn't me" link that works.
func TestDemoOwnerHearsOnTheOldAddress(t *testing.T) {
	d := startDemo(t, "--accounts", "50", "--combo-lines", "10")
	m := regexp.MustCompile(`Try an owner\s+(\S+) / (.+)`).FindStringSubmatch(d.stdout.String())
	if m == nil {
		t.Fatalf("no sample owner in the banner:\n%s", d.stdout)
	}
	email, password := m[1], strings.TrimSpace(m[2])
	jar, _ := cookiejar.New(nil)
	b := &shopBrowser{t: t, base: d.shopURL, c: &http.Client{Jar: jar}}
	if _, page := b.post("/login", "/login", url.Values{"login": {email}, "password": {password}}); strings.Contains(page, "login-failed") {
		t.Fatal("the sample owner cannot log in")
	}
	_, page := b.post("/account", "/account", url.Values{"email": {"attacker@example.net"}, "name": {"山田 太郎"}})
	if !strings.Contains(page, "data-status=") {
		t.Fatalf("profile change:\n%s", page)
	}

	deadline := time.Now().Add(20 * time.Second)
	var outbox string
	for {
		_, outbox = b.do("GET", "/outbox", nil)
		if strings.Contains(outbox, "owner.contact_changed") && strings.Contains(outbox, email) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no contact change notification in the outbox after 20 s\nstderr: %s\n%s", d.stderr, outbox)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(outbox, `<span class="to">`+email+`</span> <em class="note">(変更前のアドレス`) {
		t.Errorf("the outbox does not show the mail to the old address %s as such:\n%s", email, outbox)
	}
	link := regexp.MustCompile(`href="` + regexp.QuoteMeta(d.shopURL) + `(/not-me/[A-Za-z0-9_-]+)"`).FindStringSubmatch(outbox)
	if link == nil {
		t.Fatalf("no not-me link in the outbox:\n%s", outbox)
	}
	owner := &shopBrowser{t: t, base: d.shopURL, c: &http.Client{Jar: func() http.CookieJar { j, _ := cookiejar.New(nil); return j }()}}
	if code, page := owner.post(link[1], link[1], url.Values{}); code != 200 || !strings.Contains(page, `data-status="not-me-done"`) {
		t.Fatalf("not-me: %d\n%s", code, page)
	}
	if code, _ := owner.do("GET", link[1], nil); code != http.StatusGone {
		t.Errorf("the link worked twice: %d", code)
	}
}
