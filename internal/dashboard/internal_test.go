package dashboard

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
)

func TestPasswordHash(t *testing.T) {
	h := HashPassword("s3cret")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q: want argon2id with the documented parameters", h)
	}
	if HashPassword("s3cret") == h {
		t.Error("two hashes of one password are equal: no salt")
	}
	for _, tc := range []struct {
		encoded, password string
		want              bool
	}{
		{h, "s3cret", true},
		{h, "s3cret ", false},
		{h, "", false},
		{"", "s3cret", false},
		{"$argon2i$v=19$m=19456,t=2,p=1$AAAA$AAAA", "s3cret", false},
		{strings.Replace(h, "m=19456", "m=99999999", 1), "s3cret", false}, // refuses absurd costs
		{strings.Replace(h, "v=19", "v=16", 1), "s3cret", false},
		{h[:len(h)-4], "s3cret", false},
	} {
		if got := checkPassword(tc.encoded, tc.password); got != tc.want {
			t.Errorf("checkPassword(%q, %q) = %v, want %v", tc.encoded, tc.password, got, tc.want)
		}
	}
}

func TestTOTPStep(t *testing.T) {
	secret, uri, err := NewTOTP("alice")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(uri, "otpauth://totp/atoguard:alice?") || !strings.Contains(uri, "secret="+secret) {
		t.Errorf("uri %q", uri)
	}
	now := time.Unix(1_764_064_800, 0) // a multiple of 30
	code := func(at time.Time) string {
		c, err := totp.GenerateCodeCustom(secret, at, totpOpts)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	step := now.Unix() / totpPeriod
	for _, tc := range []struct {
		name string
		code string
		want int64
	}{
		{"now", code(now), step},
		{"previous period", code(now.Add(-30 * time.Second)), step - 1},
		{"next period", code(now.Add(30 * time.Second)), step + 1},
		{"two periods ago", code(now.Add(-60 * time.Second)), 0},
		{"short", "12345", 0},
		{"letters", "abcdef", 0},
	} {
		if got := totpStep(secret, tc.code, now); got != tc.want {
			t.Errorf("%s: step %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestSessionsExpire(t *testing.T) {
	ss := newSessions(30*time.Minute, 12*time.Hour)
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	id, _ := ss.create("alice", t0)
	if _, ok := ss.get(id, t0.Add(29*time.Minute)); !ok {
		t.Fatal("session gone before its idle timeout")
	}
	// Used every 20 minutes, it lives until the absolute limit.
	at := t0.Add(29 * time.Minute)
	for at.Before(t0.Add(12*time.Hour - 20*time.Minute)) {
		at = at.Add(20 * time.Minute)
		if _, ok := ss.get(id, at); !ok {
			t.Fatalf("session gone at %s while in use", at)
		}
	}
	if _, ok := ss.get(id, t0.Add(12*time.Hour+time.Minute)); ok {
		t.Error("session outlived its absolute limit")
	}
	id2, _ := ss.create("bob", t0)
	if _, ok := ss.get(id2, t0.Add(31*time.Minute)); ok {
		t.Error("idle session still valid")
	}
	id3, _ := ss.create("carol", t0)
	ss.delete(id3)
	if _, ok := ss.get(id3, t0); ok {
		t.Error("deleted session still valid")
	}
	if _, ok := ss.get("", t0); ok {
		t.Error("empty id is a session")
	}
}

func TestLoginLimiter(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	l := newLoginLimiter(5, 100)
	for i := range 5 {
		if !l.allowIP(t0, "192.0.2.1") || !l.allowName(t0, "x") {
			t.Fatalf("attempt %d refused", i+1)
		}
	}
	if !l.allowIP(t0, "192.0.2.2") || l.allowName(t0, "X") {
		t.Error("6th attempt on one name (any case) from another IP allowed")
	}
	if !l.allowIP(t0, "192.0.2.3") || !l.allowName(t0, "y") {
		t.Error("another name from another IP refused")
	}
	if !l.allowName(t0.Add(13*time.Second), "x") {
		t.Error("no attempt regained after 12 s")
	}
}

// TestLoginLimiterCannotBeFlushed: one address churning through new names
// (or many addresses) cannot reset the buckets that are spending; before,
// a full map was cleared and one IP got 110 password checks a minute.
func TestLoginLimiterCannotBeFlushed(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	l := newLoginLimiter(10, 50)
	checks := 0
	for i := range 1000 {
		now := t0.Add(time.Duration(i) * 60 * time.Millisecond) // 1,000 tries in a minute
		if l.allowIP(now, "198.51.100.7") && l.allowName(now, fmt.Sprintf("guess-%d", i)) {
			checks++
		}
	}
	if checks > 20 { // the burst of 10 plus 10 refilled in the minute
		t.Errorf("one address got %d password checks in a minute, want at most 20", checks)
	}
	// Names churned by many addresses keep a spent name spent.
	for range 10 {
		l.allowName(t0, "admin")
	}
	for i := range 200 {
		l.allowName(t0, fmt.Sprintf("churn-%d", i))
	}
	if l.allowName(t0, "admin") {
		t.Error("a spent name's bucket was reset by churning other names")
	}
}

func TestClientIP(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name, remote, xff string
		trusted           []netip.Prefix
		want              string
	}{
		{name: "no proxies: the peer", remote: "10.1.2.3:5000", xff: "203.0.113.9", want: "10.1.2.3"},
		{name: "trusted proxy: the client it names", remote: "10.1.2.3:5000", xff: "203.0.113.9", trusted: proxies, want: "203.0.113.9"},
		{name: "a spoofed first hop is skipped", remote: "10.1.2.3:5000", xff: "1.2.3.4, 203.0.113.9, 10.9.9.9", trusted: proxies, want: "203.0.113.9"},
		{name: "untrusted peer: its header is ignored", remote: "198.51.100.1:5000", xff: "203.0.113.9", trusted: proxies, want: "198.51.100.1"},
		{name: "unreadable hop: the proxy", remote: "10.1.2.3:5000", xff: "junk", trusted: proxies, want: "10.1.2.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/ui/login", nil)
			r.RemoteAddr = tc.remote
			r.Header.Set("X-Forwarded-For", tc.xff)
			if got := clientIP(r, tc.trusted); got != tc.want {
				t.Errorf("clientIP = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestHistoryRing(t *testing.T) {
	var h history
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for i := range historySize + 5 {
		h.add(rateSample{at: t0.Add(time.Duration(i) * time.Second)})
	}
	got := h.list()
	if len(got) != historySize || !got[0].at.Equal(t0.Add(5*time.Second)) || !got[len(got)-1].at.Equal(t0.Add(time.Duration(historySize+4)*time.Second)) {
		t.Errorf("ring holds %d samples from %s to %s", len(got), got[0].at, got[len(got)-1].at)
	}
}

func TestHistoryAddAt(t *testing.T) {
	var h history
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for _, d := range []time.Duration{0, 5 * time.Second, 10 * time.Second, 25 * time.Second, 30 * time.Second} {
		h.addAt(rateSample{at: t0.Add(d)}, 10*time.Second)
	}
	if got := h.list(); len(got) != 3 {
		t.Errorf("%d samples, want 3 (0, 10 s, 25 s)", len(got))
	}
	h.addAt(rateSample{at: t0.Add(-72 * time.Hour)}, 10*time.Second) // the clock went back: a new history
	if got := h.list(); len(got) != 1 || !got[0].at.Equal(t0.Add(-72*time.Hour)) {
		t.Errorf("after the clock went back: %d samples", len(got))
	}
}

func TestSafeNextAndCSVCell(t *testing.T) {
	for in, want := range map[string]string{
		"/ui/reviews":           "/ui/reviews",
		"/ui/incidents/x?all=1": "/ui/incidents/x?all=1",
		"https://evil.example/": "/ui/",
		"//evil.example/ui/":    "/ui/",
		"/v1/incidents":         "/ui/",
		"/ui/\\evil":            "/ui/",
		"":                      "/ui/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{"=1+1": "'=1+1", "+x": "'+x", "-x": "'-x", "@x": "'@x", "u-1": "u-1", "": ""} {
		if got := csvCell(in); got != want {
			t.Errorf("csvCell(%q) = %q, want %q", in, got, want)
		}
	}
	if got := network("203.0.113.7"); got != "203.0.113.0/24" {
		t.Errorf("network v4 = %q", got)
	}
	if got := network("2001:db8:1:2::5"); got != "2001:db8:1:2::/64" {
		t.Errorf("network v6 = %q", got)
	}
}

// TestOnHTTPS: over TLS, or with SecureCookies (an https public URL behind
// a proxy), the dashboard's cookies are Secure and it sends HSTS; on plain
// HTTP without it, neither.
func TestOnHTTPS(t *testing.T) {
	for _, tc := range []struct {
		name          string
		tls, secureCk bool
		want          bool
	}{
		{"plain HTTP", false, false, false},
		{"TLS", true, false, true},
		{"behind a TLS proxy", false, true, true},
		{"TLS and secure_cookies", true, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &Server{cfg: Config{SecureCookies: tc.secureCk}}
			h := s.securityHeaders(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s.setCookie(w, r, loginCookie, "token", 600)
			}))
			req := httptest.NewRequest("GET", "http://guard.example/ui/login", nil)
			if tc.tls {
				req = httptest.NewRequest("GET", "https://guard.example/ui/login", nil) // sets req.TLS
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			res := rec.Result()
			if got := res.Header.Get("Strict-Transport-Security"); (got == hsts) != tc.want || (got == "") == tc.want {
				t.Errorf("Strict-Transport-Security %q, want it: %v", got, tc.want)
			}
			cookies := res.Cookies()
			if len(cookies) != 1 || cookies[0].Secure != tc.want {
				t.Errorf("cookies %v, want one, Secure: %v", cookies, tc.want)
			}
		})
	}
}
