package engine

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
)

// fakeFactors offers what a test says each user enrolled.
type fakeFactors map[string][]string

func (f fakeFactors) Methods(_ context.Context, userID string, offered []string) ([]string, error) {
	out := []string{}
	for _, m := range offered {
		if slices.Contains(f[userID], m) {
			out = append(out, m)
		}
	}
	return out, nil
}

func TestChallengeCarriesContextAndEnrolledMethods(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	e := newEngine(t, stepUpNewDevices, st, func(d *Deps) { d.Factors = fakeFactors{"u-1": {"totp"}} })
	if _, err := e.Assess(ctx, login(t, "login.succeeded", "u-1", "203.0.113.7", "d-home", t0)); err != nil {
		t.Fatal(err)
	}
	r, err := e.Assess(ctx, login(t, "login.succeeded", "u-1", "198.51.100.4", "d-new", t0.Add(time.Hour)))
	if err != nil || r.Challenge == nil {
		t.Fatalf("new device: %+v, %v", r, err)
	}
	got, _ := st.GetChallenge(ctx, r.Challenge.ID)
	if got.IP != "198.51.100.4" || got.DeviceID != "d-new" || got.UserAgent == "" || !slices.Equal(got.Methods, []string{"totp"}) {
		t.Errorf("stored challenge %+v, want the login's context and [totp]", got)
	}
	if s := e.ChallengeSettings(); s.MaxAttempts != 5 || s.TTL != 5*time.Minute || len(s.Methods) != 3 {
		t.Errorf("settings %+v", s)
	}
}

// TestSMSStepUpIsWeak: a shop's own SMS step-up is recorded as a weak
// factor; it neither passes the guard's challenge nor teaches the context.
func TestSMSStepUpIsWeak(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	e := newEngine(t, "", st) // the built-in policy
	e.challenges.MaxAttempts = 2
	pol, err := policy.Parse([]byte(stepUpNewDevices + `  - id: step-up-weak
    when: Event.Type == "mfa.succeeded" && Event.MFAMethod in ["sms", "voice"]
    decision: allow
    risk: 50
    reasons: [mfa.weak_factor]
`))
	if err != nil {
		t.Fatal(err)
	}
	e.policy = pol
	if _, err := e.Assess(ctx, login(t, "login.succeeded", "u-1", "203.0.113.7", "d-home", t0)); err != nil {
		t.Fatal(err)
	}
	r, _ := e.Assess(ctx, login(t, "login.succeeded", "u-1", "192.0.2.9", "d-sim", t0.Add(time.Hour)))
	if r.Challenge == nil {
		t.Fatal("no challenge")
	}
	res, err := e.Assess(ctx, decode(t, `{"type": "mfa.succeeded", "occurred_at": %q, "user": {"id": "u-1"},
		"context": {"ip": "192.0.2.9", "device_id": "d-sim"}, "properties": {"challenge_id": %q, "method": "sms"}}`,
		t0.Add(time.Hour+time.Minute).Format(time.RFC3339), r.Challenge.ID))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Reasons) != 1 || res.Reasons[0].Code != "mfa.weak_factor" || res.Risk != 50 {
		t.Errorf("SMS step-up decision %+v, want mfa.weak_factor at risk 50", res)
	}
	if got, _ := st.GetChallenge(ctx, r.Challenge.ID); got.State != store.ChallengePending {
		t.Errorf("challenge after an SMS step-up: %s, want still pending", got.State)
	}
	// The built-in policy reports the same for the shipped rule.
	def := newEngine(t, "", memory.New())
	res, _ = def.Assess(ctx, decode(t, `{"type": "mfa.succeeded", "occurred_at": %q, "user": {"id": "u-2"},
		"context": {"ip": "192.0.2.9"}, "properties": {"method": "voice"}}`, t0.Format(time.RFC3339)))
	if len(res.Reasons) != 1 || res.Reasons[0].Code != "mfa.weak_factor" {
		t.Errorf("built-in policy on a voice step-up: %+v", res.Reasons)
	}

	// Wrong answers lock the challenge at the configured maximum.
	for i := range 2 {
		if _, err := e.Assess(ctx, decode(t, `{"type": "mfa.failed", "occurred_at": %q, "user": {"id": "u-1"},
			"context": {"ip": "192.0.2.9"}, "properties": {"challenge_id": %q, "method": "totp"}}`,
			t0.Add(time.Hour+2*time.Minute).Format(time.RFC3339), r.Challenge.ID)); err != nil {
			t.Fatal(err)
		}
		got, _ := st.GetChallenge(ctx, r.Challenge.ID)
		want := store.ChallengePending
		if i == 1 {
			want = store.ChallengeLocked
		}
		if got.State != want || got.Attempts != i+1 {
			t.Errorf("after %d wrong answers: %s with %d attempts, want %s", i+1, got.State, got.Attempts, want)
		}
	}
	// A locked challenge cannot be passed, not even by a shop's report.
	if _, err := e.Assess(ctx, decode(t, `{"type": "mfa.succeeded", "occurred_at": %q, "user": {"id": "u-1"},
		"context": {"ip": "192.0.2.9"}, "properties": {"challenge_id": %q, "method": "totp"}}`,
		t0.Add(time.Hour+3*time.Minute).Format(time.RFC3339), r.Challenge.ID)); err != nil {
		t.Fatal(err)
	}
	if got, _ := st.GetChallenge(ctx, r.Challenge.ID); got.State != store.ChallengeLocked {
		t.Errorf("locked challenge became %s", got.State)
	}
}

// TestPasswordChangeEndsFailedStepUps: an attacker with u-1's password
// fails a step-up; u-1's next login from a new device is stepped up again
// (after-failed-step-up) until the password changes, which makes the
// stolen one worthless.
func TestPasswordChangeEndsFailedStepUps(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name    string
		changed bool
		want    policy.Decision
	}{
		{"password unchanged", false, policy.Challenge},
		{"password changed", true, policy.Allow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memory.New()
			e := newEngine(t, "", st)
			for d := range 5 {
				if _, err := e.Assess(ctx, login(t, "login.succeeded", "u-1", "203.0.113.7", "d-home", t0.Add(time.Duration(d)*24*time.Hour))); err != nil {
					t.Fatal(err)
				}
			}
			at := t0.Add(5 * 24 * time.Hour)
			if _, err := e.Assess(ctx, decode(t, `{"type": "mfa.failed", "occurred_at": %q, "user": {"id": "u-1"},
				"context": {"ip": "198.51.100.66", "device_id": "d-attacker"}, "properties": {"method": "totp"}}`, at.Format(time.RFC3339))); err != nil {
				t.Fatal(err)
			}
			if tc.changed {
				if _, err := e.Assess(ctx, decode(t, `{"type": "password.changed", "occurred_at": %q, "user": {"id": "u-1"},
					"context": {"ip": "203.0.113.7", "device_id": "d-home"}}`, at.Add(time.Hour).Format(time.RFC3339))); err != nil {
					t.Fatal(err)
				}
			}
			r, err := e.Assess(ctx, login(t, "login.succeeded", "u-1", "192.0.2.44", "d-new-phone", at.Add(2*time.Hour)))
			if err != nil {
				t.Fatal(err)
			}
			if r.Decision != tc.want {
				t.Errorf("owner's new phone: %s %v, want %s", r.Decision, codes(r.Reasons), tc.want)
			}
		})
	}
}

// TestOnlyTheVerifierPassesTheGuardsChallenges: an mfa.succeeded sent as
// an event (all an events key can do) does not pass a challenge the
// guard's step-up verifies, nor makes the device familiar; the guard's
// own verification (RecordAnswer) does. A challenge left to the shop
// (methods: []) passes with the shop's report.
func TestOnlyTheVerifierPassesTheGuardsChallenges(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		enrolled   []string // u-1's factors
		viaVerify  bool     // the guard's step-up verified the answer
		wantState  string
		wantPassed bool
	}{
		{name: "guard's challenge, shop's report", enrolled: []string{"totp"}, wantState: store.ChallengePending},
		{name: "guard's challenge, guard's verification", enrolled: []string{"totp"}, viaVerify: true, wantState: store.ChallengePassed, wantPassed: true},
		{name: "shop's challenge, shop's report", wantState: store.ChallengePassed, wantPassed: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := memory.New()
			e := newEngine(t, stepUpNewDevices, st, func(d *Deps) { d.Factors = fakeFactors{"u-1": tc.enrolled} })
			if _, err := e.Assess(ctx, login(t, "login.succeeded", "u-1", "203.0.113.7", "d-home", t0)); err != nil {
				t.Fatal(err)
			}
			r, err := e.Assess(ctx, login(t, "login.succeeded", "u-1", "198.51.100.4", "d-new", t0.Add(time.Hour)))
			if err != nil || r.Challenge == nil {
				t.Fatalf("new device: %+v, %v", r, err)
			}
			answer := decode(t, `{"type": "mfa.succeeded", "occurred_at": %q, "user": {"id": "u-1"},
				"context": {"ip": "198.51.100.4", "device_id": "d-new"}, "properties": {"challenge_id": %q, "method": "totp"}}`,
				t0.Add(time.Hour+time.Minute).Format(time.RFC3339), r.Challenge.ID)
			var passed bool
			if tc.viaVerify {
				a, err := e.RecordAnswer(ctx, answer)
				if err != nil {
					t.Fatal(err)
				}
				passed = a.Challenge.State == store.ChallengePassed
			} else {
				res, err := e.Assess(ctx, answer)
				if err != nil {
					t.Fatal(err)
				}
				passed = res.passed
			}
			got, _ := st.GetChallenge(ctx, r.Challenge.ID)
			if got.State != tc.wantState || passed != tc.wantPassed {
				t.Errorf("challenge %s (passed %v), want %s (%v)", got.State, passed, tc.wantState, tc.wantPassed)
			}
			again, err := e.Assess(ctx, login(t, "login.succeeded", "u-1", "198.51.100.4", "d-new", t0.Add(2*time.Hour)))
			if err != nil {
				t.Fatal(err)
			}
			if familiar := again.Decision == policy.Allow; familiar != tc.wantPassed {
				t.Errorf("next login from the new device: %s, want allow only after a pass", again.Decision)
			}
		})
	}
}
