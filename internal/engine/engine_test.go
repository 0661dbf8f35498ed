package engine

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/geo"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
	"github.com/atoguard/atoguard/internal/store/sqlite"
)

var (
	t0  = time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	key = []byte("0123456789abcdef0123456789abcdef")
)

// decode builds an event from API JSON, failing the test on error.
func decode(t testing.TB, format string, args ...any) event.Event {
	t.Helper()
	ev, err := event.Decode([]byte(fmt.Sprintf(format, args...)))
	if err != nil {
		t.Fatalf("decoding test event: %v", err)
	}
	return ev
}

func login(t testing.TB, typ, user, ip, device string, at time.Time) event.Event {
	uid := ""
	if user != "" {
		uid = fmt.Sprintf(`"user": {"id": %q},`, user)
	}
	dev := ""
	if device != "" {
		dev = fmt.Sprintf(`, "device_id": %q`, device)
	}
	return decode(t, `{"type": %q, "occurred_at": %q, "login": "%s@example.jp", %s
		"context": {"ip": %q, "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "accept_language": "ja-JP"%s}}`,
		typ, at.Format(time.RFC3339Nano), user, uid, ip, dev)
}

// stepUpNewDevices challenges every login from an unknown device.
const stepUpNewDevices = `version: 1
rules:
  - id: new-device
    when: Event.Succeeded && !Account.DeviceKnown && Account.HasHistory
    decision: challenge
    risk: 60
    reasons: [account.new_device]
`

func newEngine(t testing.TB, pol string, st interface {
	Records
	Writer
}, with ...func(*Deps)) *Engine {
	t.Helper()
	p, err := policy.Default()
	if pol != "" {
		p, err = policy.Parse([]byte(pol))
	}
	if err != nil {
		t.Fatal(err)
	}
	deps := Deps{Clock: clock.New(clock.Event, nil), Policy: p, Records: st, Writer: st, Key: key}
	for _, f := range with {
		f(&deps)
	}
	e, err := New(Config{}, deps)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestChallengeAndStepUp(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	e := newEngine(t, stepUpNewDevices, st)

	mustAssess := func(ev event.Event) Result {
		t.Helper()
		r, err := e.Assess(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := mustAssess(login(t, "login.succeeded", "u-1", "203.0.113.7", "d-home", t0)); r.Decision != policy.Allow {
		t.Fatalf("first login: %s", r.Decision)
	}
	r := mustAssess(login(t, "login.succeeded", "u-1", "198.51.100.4", "d-new", t0.Add(time.Hour)))
	if r.Decision != policy.Challenge || r.Challenge == nil {
		t.Fatalf("new device: decision %s, challenge %v", r.Decision, r.Challenge)
	}
	ch := r.Challenge
	if !ch.ExpiresAt.Equal(t0.Add(time.Hour + 5*time.Minute)) {
		t.Errorf("challenge expires %v, want 5m after the event time", ch.ExpiresAt)
	}
	if diff := cmp.Diff([]string{"webauthn", "totp", "email_otp"}, ch.Methods); diff != "" {
		t.Errorf("methods (-want +got):\n%s", diff)
	}

	// The owner passes the step-up: the challenge is used and the device
	// becomes familiar.
	mustAssess(decode(t, `{"type": "mfa.succeeded", "occurred_at": %q, "user": {"id": "u-1"},
		"context": {"ip": "198.51.100.4", "device_id": "d-new"}, "properties": {"challenge_id": %q, "method": "totp"}}`,
		t0.Add(time.Hour+time.Minute).Format(time.RFC3339), ch.ID))
	got, err := st.GetChallenge(ctx, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != store.ChallengePassed {
		t.Errorf("challenge state %s, want passed", got.State)
	}
	if r := mustAssess(login(t, "login.succeeded", "u-1", "198.51.100.4", "d-new", t0.Add(2*time.Hour))); r.Decision != policy.Allow {
		t.Errorf("after the step-up the new device is still challenged: %+v", r)
	}

	// An SMS step-up is weak: it does not make a device familiar.
	r = mustAssess(login(t, "login.succeeded", "u-1", "192.0.2.9", "d-sim", t0.Add(3*time.Hour)))
	mustAssess(decode(t, `{"type": "mfa.succeeded", "occurred_at": %q, "user": {"id": "u-1"},
		"context": {"ip": "192.0.2.9", "device_id": "d-sim"}, "properties": {"challenge_id": %q, "method": "sms"}}`,
		t0.Add(3*time.Hour+time.Minute).Format(time.RFC3339), r.Challenge.ID))
	if r := mustAssess(login(t, "login.succeeded", "u-1", "192.0.2.9", "d-sim", t0.Add(4*time.Hour))); r.Decision != policy.Challenge {
		t.Errorf("after an SMS step-up: %s, want challenge", r.Decision)
	}

	// An expired challenge cannot be passed.
	r = mustAssess(login(t, "login.succeeded", "u-1", "192.0.2.10", "d-late", t0.Add(5*time.Hour)))
	mustAssess(decode(t, `{"type": "mfa.succeeded", "occurred_at": %q, "user": {"id": "u-1"},
		"context": {"ip": "192.0.2.10"}, "properties": {"challenge_id": %q}}`,
		t0.Add(5*time.Hour+10*time.Minute).Format(time.RFC3339), r.Challenge.ID))
	if got, _ := st.GetChallenge(ctx, r.Challenge.ID); got.State != store.ChallengePending {
		t.Errorf("expired challenge state %s, want still pending", got.State)
	}
}

func TestFailedStepUpRaisesRisk(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	e := newEngine(t, "", st)
	if _, err := e.Assess(ctx, login(t, "login.succeeded", "u-1", "203.0.113.7", "d-home", t0)); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Assess(ctx, decode(t, `{"type": "mfa.failed", "occurred_at": %q, "user": {"id": "u-1"}, "context": {"ip": "198.51.100.4"}}`,
		t0.Add(time.Hour).Format(time.RFC3339))); err != nil {
		t.Fatal(err)
	}
	r, err := e.Assess(ctx, login(t, "login.succeeded", "u-1", "198.51.100.4", "d-other", t0.Add(2*time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Decision != policy.Challenge || r.Reasons[0].Code != "account.mfa_failures" {
		t.Errorf("after a failed step-up: %s %+v, want challenge for account.mfa_failures", r.Decision, r.Reasons)
	}
}

func TestAuditHasEveryEventWithoutPassword(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	e := newEngine(t, "", st)
	ev := decode(t, `{"type": "login.failed", "occurred_at": %q, "login": "Ｔａｒｏ@Example.JP", "context": {"ip": "203.0.113.7"},
		"credential": {"password_sha1": "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"}}`, t0.Format(time.RFC3339))
	r, err := e.Assess(ctx, ev)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := st.ListAudit(ctx, store.AuditQuery{})
	if err != nil || len(recs) != 1 {
		t.Fatalf("audit: %d records, %v", len(recs), err)
	}
	rec := recs[0]
	if rec.EventID != r.EventID || rec.Login != "taro@example.jp" || rec.Account != "taro@example.jp" {
		t.Errorf("audit record %+v", rec)
	}
	for _, b := range [][]byte{rec.Event, rec.PasswordHMAC, []byte(fmt.Sprint(rec))} {
		for _, s := range []string{"5BAA61E4", "5baa61e4"} {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("audit record holds the password digest: %q", b)
			}
		}
	}
	if len(rec.PasswordHMAC) != 16 {
		t.Errorf("PasswordHMAC has %d bytes, want 16", len(rec.PasswordHMAC))
	}
}

// TestRestartKeepsWhatWasLearned runs an engine on SQLite, restarts it on
// the same directory and checks it still knows the owner's device and the
// campaign baseline.
func TestRestartKeepsWhatWasLearned(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, stepUpNewDevices, st)
	for i := 0; i < 120; i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		if _, err := e.Assess(ctx, login(t, "login.succeeded", "u-1", "203.0.113.7", "d-home", at)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.Save(ctx); err != nil {
		t.Fatal(err)
	}
	ratesBefore := e.campaign.Rates(t0.Add(2 * time.Hour))
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st2, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	e2 := newEngine(t, stepUpNewDevices, st2)
	if err := e2.Restore(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := e2.Assess(ctx, login(t, "login.succeeded", "u-1", "203.0.113.7", "d-home", t0.Add(3*time.Hour)))
	if err != nil {
		t.Fatal(err)
	}
	if r.Decision != policy.Allow {
		t.Errorf("after restart the owner's device is unknown: %+v", r)
	}
	if diff := cmp.Diff(ratesBefore, e2.campaign.Rates(t0.Add(2*time.Hour))); diff != "" {
		t.Errorf("campaign baseline not restored (-before +after):\n%s", diff)
	}
	if n, _ := st2.CountAudit(ctx); n != 121 {
		t.Errorf("audit has %d records, want 121", n)
	}
}

// fakeGeo places 203.0.113.0/24 in Japan and everything else in the US.
type fakeGeo struct{}

func (fakeGeo) Lookup(ip netip.Addr) geo.Info {
	if netip.MustParsePrefix("203.0.113.0/24").Contains(ip) {
		return geo.Info{Country: "JP", ASN: 2516, ASOrg: "KDDI"}
	}
	return geo.Info{Country: "US", ASN: 15169, ASOrg: "GOOGLE"}
}

func TestGeoFamiliarity(t *testing.T) {
	ctx := context.Background()
	e := newEngine(t, "", memory.New(), func(d *Deps) { d.Geo = fakeGeo{} })
	if _, err := e.Assess(ctx, login(t, "login.succeeded", "u-1", "203.0.113.7", "d-home", t0)); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, ip, device string
		want             policy.Decision
		wantFirst        string
	}{
		{"new device, new network, same country", "203.0.113.99", "d-new", policy.Allow, "account.new_device"},
		{"new device, new network, new country", "198.51.100.4", "d-new2", policy.Challenge, "account.new_country"},
	}
	for i, tt := range tests {
		r, err := e.Assess(ctx, login(t, "login.succeeded", "u-1", tt.ip, tt.device, t0.Add(time.Duration(i+1)*time.Hour)))
		if err != nil {
			t.Fatal(err)
		}
		if r.Decision != tt.want || len(r.Reasons) == 0 || r.Reasons[0].Code != tt.wantFirst {
			t.Errorf("%s: %s %+v, want %s first reason %s", tt.name, r.Decision, r.Reasons, tt.want, tt.wantFirst)
		}
	}
}
