package stepup

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/mailer"
	"github.com/atoguard/atoguard/internal/mailer/mailtest"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
)

// t0 is inside TOTP step 59000000 (RFC 6238 counts from the Unix epoch).
var t0 = time.Unix(59000000*30+7, 0).UTC()

// stepUpNewDevices challenges every login from a device the account has
// not used.
const stepUpNewDevices = `version: 1
rules:
  - id: new-device
    when: Event.Succeeded && !Account.DeviceKnown && Account.HasHistory
    decision: challenge
    risk: 60
    reasons: [account.new_device]
`

const (
	testRPID   = "shop.example.jp"
	testOrigin = "https://shop.example.jp"
)

// fixture is a step-up service on a real engine, the memory store, an
// SMTP sink and a wall clock the test moves.
type fixture struct {
	t    testing.TB
	st   *memory.Store
	eng  *engine.Engine
	svc  *Service
	sink *mailtest.Sink
	keys *Keyring

	mu  sync.Mutex
	now time.Time
}

func (f *fixture) clockNow() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// advance moves the clock.
func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

type fixtureOptions struct {
	cfg    Config
	engine engine.Config
	keys   string // keyring text; empty: one fresh key
}

func newFixture(t testing.TB, o fixtureOptions) *fixture {
	t.Helper()
	f := &fixture{t: t, st: memory.New(), now: t0}
	clk := clock.New(clock.Wall, f.clockNow)
	pol, err := policy.Parse([]byte(stepUpNewDevices))
	if err != nil {
		t.Fatal(err)
	}
	hashKey := bytes.Repeat([]byte{7}, 32)
	if o.keys == "" {
		o.keys = NewKeyEntry("k1")
	}
	if f.keys, err = ParseKeys(o.keys); err != nil {
		t.Fatal(err)
	}
	cfg := o.cfg
	if cfg.WebAuthn.RPID == "" {
		cfg.WebAuthn = WebAuthnConfig{RPID: testRPID, Origins: []string{testOrigin}}
	}
	f.eng, err = engine.New(o.engine, engine.Deps{Clock: clk, Policy: pol, Records: f.st, Writer: f.st, Key: hashKey,
		Factors: NewEnrolled(cfg, f.st, true)})
	if err != nil {
		t.Fatal(err)
	}
	if f.svc, err = New(cfg, o.engine.Challenges(), clk, f.st, f.eng, f.keys, hashKey, nil); err != nil {
		t.Fatal(err)
	}
	f.sink = mailtest.Start(t, mailtest.Options{TLS: "starttls"})
	m, err := mailer.New(mailer.Config{Server: mailer.Server{Host: f.sink.Host, Port: f.sink.Port, CAFile: f.sink.CAFile,
		From: "Shop <no-reply@shop.example.jp>"}, Timeout: 5 * time.Second}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	f.svc.UseMailer(m)
	return f
}

func (f *fixture) assess(ev event.Event) engine.Result {
	f.t.Helper()
	r, err := f.eng.Assess(context.Background(), ev)
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// login reports a correct password for user from device at the fixture's
// time.
func (f *fixture) login(user, ip, device string) engine.Result {
	f.t.Helper()
	ev, err := event.Decode([]byte(fmt.Sprintf(`{"type": "login.succeeded", "occurred_at": %q, "login": "%s@example.jp",
		"user": {"id": %q}, "session_id": "s-%s", "context": {"ip": %q, "device_id": %q, "accept_language": "ja-JP",
		"user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"}}`,
		f.clockNow().Format(time.RFC3339Nano), user, user, device, ip, device)))
	if err != nil {
		f.t.Fatal(err)
	}
	return f.assess(ev)
}

// owner makes user an account with history on its home device.
func (f *fixture) owner(user string) {
	f.t.Helper()
	if r := f.login(user, "203.0.113.7", "d-home"); r.Decision != policy.Allow {
		f.t.Fatalf("first login of %s: %s", user, r.Decision)
	}
}

// challenge returns the challenge of a login from a new device.
func (f *fixture) challenge(user, ip, device string) store.Challenge {
	f.t.Helper()
	r := f.login(user, ip, device)
	if r.Decision != policy.Challenge || r.Challenge == nil {
		f.t.Fatalf("login of %s from %s: decision %s, want a challenge", user, device, r.Decision)
	}
	return *r.Challenge
}

func (f *fixture) verify(id string, a Answer) Outcome {
	f.t.Helper()
	out, err := f.svc.Verify(context.Background(), id, a)
	if err != nil {
		f.t.Fatalf("Verify(%s, %s): %v", id, a.Method, err)
	}
	return out
}

func (f *fixture) getChallenge(id string) store.Challenge {
	f.t.Helper()
	ch, err := f.st.GetChallenge(context.Background(), id)
	if err != nil {
		f.t.Fatal(err)
	}
	return ch
}

// enrolTOTP enrols and confirms a TOTP factor for user and returns its
// secret; the confirmation uses the current step.
func (f *fixture) enrolTOTP(user string) []byte {
	f.t.Helper()
	ctx := context.Background()
	e, err := f.svc.EnrollTOTP(ctx, user, "phone", user+"@example.jp")
	if err != nil {
		f.t.Fatal(err)
	}
	secret, err := b32.DecodeString(string(e.Secret))
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.svc.ConfirmTOTP(ctx, user, e.FactorID, totpAt(secret, f.clockNow())); err != nil {
		f.t.Fatalf("ConfirmTOTP: %v", err)
	}
	return secret
}
