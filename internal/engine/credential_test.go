package engine

import (
	"context"
	"crypto/sha1"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/breach"
	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/signal/spray"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
)

func sha1Hex(password string) string { return fmt.Sprintf("%X", sha1.Sum([]byte(password))) }

// withPassword builds an event of type typ for user (none when "") with
// the digest of password.
func withPassword(t testing.TB, typ, user, login, ip, password string, at time.Time) event.Event {
	t.Helper()
	uid := ""
	if user != "" {
		uid = fmt.Sprintf(`"user": {"id": %q},`, user)
	}
	return decode(t, `{"type": %q, "occurred_at": %q, "login": %q, %s
		"context": {"ip": %q, "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "accept_language": "ja-JP"},
		"credential": {"password_sha1": %q}}`, typ, at.Format(time.RFC3339Nano), login, uid, ip, sha1Hex(password))
}

func TestBreachedPasswords(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, "", memory.New())
	tests := []struct {
		name     string
		ev       event.Event
		decision policy.Decision
		reasons  []policy.Reason
		actions  []string
	}{
		{"registration with a breached password", withPassword(t, "registration", "u-1", "taro@example.jp", "203.0.113.7", "password", t0),
			policy.Deny, []policy.Reason{{Code: "credential.breached", Detail: "this password appears 10000 times in breached-password corpora"}}, nil},
		{"registration with a fresh password", withPassword(t, "registration", "u-2", "hanako@example.jp", "203.0.113.8", "a long and fresh passphrase 9f3c", t0),
			policy.Allow, []policy.Reason{}, nil},
		{"password changed to a breached one", withPassword(t, "password.changed", "u-2", "", "203.0.113.8", "qwerty", t0.Add(time.Minute)),
			policy.Deny, []policy.Reason{{Code: "credential.breached", Detail: "this password appears 5000 times in breached-password corpora"}}, nil},
		{"login with a breached password", withPassword(t, "login.succeeded", "u-1", "taro@example.jp", "203.0.113.7", "123456", t0.Add(2*time.Minute)),
			policy.Allow, []policy.Reason{{Code: "credential.breached", Detail: "this password appears 20000 times in breached-password corpora"}}, []string{ActionRequirePasswordChange}},
		{"failed login with a breached password", withPassword(t, "login.failed", "u-1", "taro@example.jp", "203.0.113.7", "123456", t0.Add(3*time.Minute)),
			policy.Allow, []policy.Reason{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := e.Assess(ctx, tt.ev)
			if err != nil {
				t.Fatal(err)
			}
			if r.Decision != tt.decision {
				t.Errorf("decision = %s, want %s (rules %v)", r.Decision, tt.decision, r.Rules)
			}
			if diff := cmp.Diff(tt.reasons, r.Reasons); diff != "" {
				t.Errorf("reasons (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.actions, r.Actions); diff != "" {
				t.Errorf("actions (-want +got):\n%s", diff)
			}
		})
	}
}

func TestUseBreached(t *testing.T) {
	ctx := context.Background()
	custom := breach.NewList([]breach.Entry{{SHA1: sha1.Sum([]byte("hunter2")), Count: 7}})
	e := newEngine(t, "", memory.New(), func(d *Deps) { d.Breached = custom })
	r, err := e.Assess(ctx, withPassword(t, "registration", "u-1", "a@example.jp", "203.0.113.7", "hunter2", t0))
	if err != nil {
		t.Fatal(err)
	}
	if r.Decision != policy.Deny || len(r.Reasons) != 1 || r.Reasons[0].Detail != "this password appears 7 times in breached-password corpora" {
		t.Errorf("custom corpus: %s %v", r.Decision, r.Reasons)
	}
	r, _ = e.Assess(ctx, withPassword(t, "registration", "u-2", "b@example.jp", "203.0.113.7", "password", t0))
	if r.Decision != policy.Allow {
		t.Errorf("a password only the built-in list has: %s, want allow (the custom corpus replaces it)", r.Decision)
	}
	e = newEngine(t, "", memory.New(), func(d *Deps) { d.Breached = NoBreachCheck{} })
	r, _ = e.Assess(ctx, withPassword(t, "registration", "u-3", "c@example.jp", "203.0.113.7", "hunter2", t0))
	if r.Decision != policy.Allow {
		t.Errorf("check off: %s, want allow", r.Decision)
	}
}

func TestPasswordSprayingOpensAnIncident(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	e := newEngine(t, "", st)
	at := t0
	var last Result
	// One password failing on 30 accounts, each from its own IP.
	for i := 0; i < 30; i++ {
		at = at.Add(3 * time.Second)
		ev := withPassword(t, "login.failed", "", fmt.Sprintf("user%03d@example.jp", i), fmt.Sprintf("198.51.100.%d", i+1), "sunshine", at)
		r, err := e.Assess(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		if i < 19 && r.Decision != policy.Allow {
			t.Fatalf("attempt %d: %s %v before the password counts as sprayed", i, r.Decision, r.Rules)
		}
		last = r
	}
	if last.Decision != policy.Deny || !slices.ContainsFunc(last.Reasons, func(r policy.Reason) bool { return r.Code == "credential.sprayed" }) {
		t.Fatalf("30th attempt: %s %v, want deny with credential.sprayed", last.Decision, last.Reasons)
	}
	incs, err := st.ListIncidents(ctx, store.IncidentOpen)
	if err != nil {
		t.Fatal(err)
	}
	if len(incs) != 1 || incs[0].Kind != spray.IncidentKind || last.IncidentID != incs[0].ID {
		t.Fatalf("open incidents %+v, answer's incident %q; want one password_spraying incident", incs, last.IncidentID)
	}
	if e.OpenIncidents() != 1 {
		t.Errorf("OpenIncidents = %d", e.OpenIncidents())
	}

	// A correct sprayed password from a stranger is stepped up.
	r, err := e.Assess(ctx, withPassword(t, "login.succeeded", "u-77", "user077@example.jp", "198.51.100.200", "sunshine", at.Add(time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Decision != policy.Challenge || r.IncidentID != incs[0].ID {
		t.Errorf("correct sprayed password: %s (rules %v), incident %q", r.Decision, r.Rules, r.IncidentID)
	}

	// A restart keeps the counts and the incident.
	if err := e.Save(ctx); err != nil {
		t.Fatal(err)
	}
	e2 := newEngine(t, "", st)
	if err := e2.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	r, err = e2.Assess(ctx, withPassword(t, "login.failed", "", "user100@example.jp", "198.51.100.99", "sunshine", at.Add(2*time.Second)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Decision != policy.Deny || r.IncidentID != incs[0].ID {
		t.Errorf("after a restart: %s %v, incident %q, want deny in %s", r.Decision, r.Reasons, r.IncidentID, incs[0].ID)
	}

	// Quiet for 30 minutes of event time: the incident closes.
	e2.clock.At(at.Add(31 * time.Minute))
	if err := e2.Tick(ctx); err != nil {
		t.Fatal(err)
	}
	inc, err := st.GetIncident(ctx, incs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if inc.State != store.IncidentClosed || inc.AccountsCompromised != 1 || inc.Attempts < 12 {
		t.Errorf("incident after the quiet: %+v", inc)
	}
}

func TestNewRejects(t *testing.T) {
	p, err := policy.Default()
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New()
	ok := Deps{Clock: clock.New(clock.Event, nil), Policy: p, Records: st, Writer: st, Key: key}
	for _, tc := range []struct {
		name string
		cfg  Config
		deps func(d Deps) Deps
		want string
	}{
		{"short spray key", Config{Spray: spray.Config{Key: []byte("short")}}, func(d Deps) Deps { return d }, "engine: spray"},
		{"no clock", Config{}, func(d Deps) Deps { d.Clock = nil; return d }, "engine: no clock"},
		{"no policy", Config{}, func(d Deps) Deps { d.Policy = nil; return d }, "engine: no policy"},
		{"no records", Config{}, func(d Deps) Deps { d.Records = nil; return d }, "engine: no records"},
		{"no writer", Config{}, func(d Deps) Deps { d.Writer = nil; return d }, "engine: no writer"},
		{"no key", Config{}, func(d Deps) Deps { d.Key = nil; return d }, "engine: no key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.cfg, tc.deps(ok))
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("New: %v, want an error starting %q", err, tc.want)
			}
		})
	}
	if _, err := New(Config{}, ok); err != nil {
		t.Errorf("New with every dependency: %v", err)
	}
}
