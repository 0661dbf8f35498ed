package client

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// eventGuard answers POST /v1/events with decide(event) and records the
// events it was sent.
type eventGuard struct {
	mu     sync.Mutex
	events []Event
}

func (g *eventGuard) start(t *testing.T, decide func(Event) string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev Event
		if err := json.NewDecoder(r.Body).Decode(&ev); err != nil {
			t.Errorf("decoding event: %v", err)
		}
		g.mu.Lock()
		g.events = append(g.events, ev)
		g.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(Result{EventID: "ev", Decision: decide(ev), Reasons: []Reason{}})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// summary is an event as the test compares it: type, login, user,
// reason, whether a password hash came along, and the IP.
func (g *eventGuard) summary() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	var out []string
	for _, ev := range g.events {
		s := ev.Type + " " + ev.Login + " ip=" + ev.Context.IP
		if ev.User != nil {
			s += " user=" + ev.User.ID
		}
		if ev.Properties != nil && ev.Properties.Reason != "" {
			s += " reason=" + ev.Properties.Reason
		}
		if ev.Credential != nil && ev.Credential.PasswordSHA1 == PasswordSHA1("correct horse") {
			s += " sha1"
		}
		out = append(out, s)
	}
	return out
}

// shopLogin is a shop's login handler: taro's password is "correct horse".
func shopLogin(w http.ResponseWriter, r *http.Request) {
	if r.PostFormValue("password") != "correct horse" {
		ReportLoginFailure(r, ReasonBadPassword, "u-1")
		http.Error(w, "wrong password", http.StatusUnauthorized)
		return
	}
	res, _ := ReportLoginSuccess(r, "u-1", "s-1")
	switch res.Decision {
	case Allow:
		http.SetCookie(w, &http.Cookie{Name: "session", Value: "s-1"})
		io.WriteString(w, "welcome")
	case Challenge:
		http.Redirect(w, r, "/step-up", http.StatusSeeOther)
	default:
		http.Error(w, "refused", http.StatusForbidden)
	}
}

func TestGuardLogin(t *testing.T) {
	tests := []struct {
		name       string
		password   string
		decide     func(Event) string
		wantStatus int
		wantEvents []string
	}{
		{"allowed", "correct horse", func(Event) string { return Allow }, 200, []string{
			"login.attempt taro@example.jp ip=192.0.2.1 sha1",
			"login.succeeded taro@example.jp ip=192.0.2.1 user=u-1 sha1",
		}},
		{"wrong password", "hunter2", func(Event) string { return Allow }, 401, []string{
			"login.attempt taro@example.jp ip=192.0.2.1",
			"login.failed taro@example.jp ip=192.0.2.1 user=u-1 reason=bad_password",
		}},
		{"stepped up", "correct horse", func(ev Event) string {
			if ev.Type == LoginSucceeded {
				return Challenge
			}
			return Allow
		}, 303, []string{
			"login.attempt taro@example.jp ip=192.0.2.1 sha1",
			"login.succeeded taro@example.jp ip=192.0.2.1 user=u-1 sha1",
		}},
		{"denied at the door", "correct horse", func(Event) string { return Deny }, 429, []string{
			"login.attempt taro@example.jp ip=192.0.2.1 sha1",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := &eventGuard{}
			c, _ := newTest(t, g.start(t, tt.decide), FailOpen)
			h := c.GuardLogin(http.HandlerFunc(shopLogin), LoginOptions{})
			form := url.Values{"login": {"taro@example.jp"}, "password": {tt.password}}
			req := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus {
				t.Errorf("status %d, want %d: %s", rec.Code, tt.wantStatus, rec.Body)
			}
			if diff := cmp.Diff(tt.wantEvents, g.summary()); diff != "" {
				t.Errorf("events (-want +got)\n%s", diff)
			}
		})
	}
}

func TestGuardLoginPassesOtherRequests(t *testing.T) {
	g := &eventGuard{}
	c, _ := newTest(t, g.start(t, func(Event) string { return Deny }), FailOpen)
	h := c.GuardLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := ReportLoginSuccess(r, "u-1", ""); err != ErrNotGuarded {
			t.Errorf("ReportLoginSuccess outside a login: %v, want ErrNotGuarded", err)
		}
		io.WriteString(w, "the login form")
	}), LoginOptions{})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/login", nil))
	if rec.Code != 200 || len(g.summary()) != 0 {
		t.Errorf("GET /login: %d, events %v; want 200 and none", rec.Code, g.summary())
	}
}

func TestGuardLoginFailModes(t *testing.T) {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close() // a guard that refuses connections
	for _, tt := range []struct {
		mode FailMode
		want int
	}{
		{FailOpen, 200},   // the session starts, unprotected
		{FailClosed, 303}, // the owner is stepped up
	} {
		t.Run(tt.mode.String(), func(t *testing.T) {
			c, _ := newTest(t, down, tt.mode)
			h := c.GuardLogin(http.HandlerFunc(shopLogin), LoginOptions{})
			req := httptest.NewRequest("POST", "/login", strings.NewReader("login=taro&password=correct+horse"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.want {
				t.Errorf("guard down, fail %s: %d, want %d", tt.mode, rec.Code, tt.want)
			}
		})
	}
}
