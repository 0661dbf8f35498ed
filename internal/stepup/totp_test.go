package stepup

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/store"
)

// totpAt is the 6-digit code of secret at t, as an authenticator app
// shows it.
func totpAt(secret []byte, t time.Time) string {
	code, err := totp.GenerateCodeCustom(b32.EncodeToString(secret), t, totpOpts)
	if err != nil {
		panic(err)
	}
	return code
}

// TestRFC6238Vectors checks the SHA-1 test vectors of RFC 6238 Appendix B
// (seed "12345678901234567890", T0 = 0, X = 30 s): the 8-digit values,
// and the 6-digit codes the guard accepts (their last six digits, since
// both are the same truncated value modulo a power of ten).
func TestRFC6238Vectors(t *testing.T) {
	seed := []byte("12345678901234567890")
	vectors := []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	eight := totp.ValidateOpts{Period: 30, Digits: otp.DigitsEight, Algorithm: otp.AlgorithmSHA1}
	for _, v := range vectors {
		at := time.Unix(v.unix, 0)
		ok, err := totp.ValidateCustom(v.want, b32.EncodeToString(seed), at, eight)
		if err != nil || !ok {
			t.Errorf("T=%d: 8-digit %s not accepted (%v)", v.unix, v.want, err)
		}
		six := v.want[2:]
		if got := totpAt(seed, at); got != six {
			t.Errorf("T=%d: code %s, want %s", v.unix, got, six)
		}
		if step := matchTOTP(seed, six, at); step != v.unix/30 {
			t.Errorf("T=%d: matchTOTP = step %d, want %d", v.unix, step, v.unix/30)
		}
	}
}

func TestTOTPWindow(t *testing.T) {
	secret := []byte("12345678901234567890")
	now := t0
	cur := totpStep(now)
	for _, tt := range []struct {
		offset int64
		want   int64
	}{
		{-2, 0}, {-1, cur - 1}, {0, cur}, {1, cur + 1}, {2, 0},
	} {
		code := totpAt(secret, time.Unix((cur+tt.offset)*30, 0))
		if got := matchTOTP(secret, code, now); got != tt.want {
			t.Errorf("code of step %+d: matched %d, want %d", tt.offset, got, tt.want)
		}
	}
}

// oathtool returns the TOTP code oathtool (a real TOTP client, Debian
// package oathtool) computes for a base32 secret at t.
func oathtool(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	path, err := exec.LookPath("oathtool")
	if err != nil {
		t.Skip("oathtool is not installed (apt-get install oathtool; .ci/run installs it): skipping the interoperability test")
	}
	out, err := exec.Command(path, "--totp", "--base32", "--now", at.UTC().Format("2006-01-02 15:04:05 UTC"), secret).CombinedOutput()
	if err != nil {
		t.Fatalf("oathtool: %v: %s", err, out)
	}
	return strings.TrimSpace(string(out))
}

// TestOathtoolCodesAccepted enrols a TOTP factor, confirms it with a code
// from oathtool, answers a challenge with oathtool's next code, and
// checks that the same code is refused when replayed on a new challenge.
func TestOathtoolCodesAccepted(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	f.owner("u-1")
	e, err := f.svc.EnrollTOTP(ctx, "u-1", "phone", "taro@example.jp")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(e.URI), "otpauth://totp/atoguard:taro@example.jp?") || !strings.Contains(string(e.URI), "secret="+string(e.Secret)) {
		t.Errorf("otpauth URI %q", string(e.URI))
	}
	if len(e.QRPNG) < 100 || string(e.QRPNG[1:4]) != "PNG" {
		t.Errorf("QR code is not a PNG (%d bytes)", len(e.QRPNG))
	}
	secret := string(e.Secret)
	if err := f.svc.ConfirmTOTP(ctx, "u-1", e.FactorID, oathtool(t, secret, f.clockNow())); err != nil {
		t.Fatalf("ConfirmTOTP with oathtool's code: %v", err)
	}

	f.advance(30 * time.Second)
	ch := f.challenge("u-1", "198.51.100.4", "d-new")
	if fmt.Sprint(ch.Methods) != "[totp]" {
		t.Errorf("methods %v, want [totp] (what u-1 enrolled)", ch.Methods)
	}
	code := oathtool(t, secret, f.clockNow())
	if out := f.verify(ch.ID, Answer{Method: MethodTOTP, Code: code}); out.Status != StatusPassed {
		t.Fatalf("oathtool's code: %+v, want passed", out)
	}
	// Passing taught the context: the same device is now let in.
	if r := f.login("u-1", "198.51.100.4", "d-new"); r.Challenge != nil {
		t.Errorf("after passing, the device is still challenged")
	}
	// The code cannot be used twice, not even on another challenge.
	ch2 := f.challenge("u-1", "192.0.2.8", "d-other")
	if out := f.verify(ch2.ID, Answer{Method: MethodTOTP, Code: code}); out.Status != StatusFailed || out.AttemptsLeft != 4 {
		t.Errorf("replayed code: %+v, want failed with 4 attempts left", out)
	}
	// Nor a code of an earlier step still inside the window.
	if out := f.verify(ch2.ID, Answer{Method: MethodTOTP, Code: oathtool(t, secret, f.clockNow().Add(-30*time.Second))}); out.Status != StatusFailed {
		t.Errorf("older code: %+v, want failed", out)
	}
	f.advance(30 * time.Second)
	if out := f.verify(ch2.ID, Answer{Method: MethodTOTP, Code: oathtool(t, secret, f.clockNow())}); out.Status != StatusPassed {
		t.Errorf("the next code: %+v, want passed", out)
	}
}

func TestChallengeLocksAfterWrongAnswers(t *testing.T) {
	for _, max := range []int{0, 3} { // 0: the default, 5
		t.Run(fmt.Sprintf("max=%d", max), func(t *testing.T) {
			f := newFixture(t, fixtureOptions{engine: engineConfig(max)})
			want := max
			if want == 0 {
				want = 5
			}
			f.owner("u-1")
			secret := f.enrolTOTP("u-1")
			f.advance(time.Minute)
			ch := f.challenge("u-1", "198.51.100.4", "d-new")
			right := totpAt(secret, f.clockNow())
			wrong := fmt.Sprintf("%06d", (atoi(right)+1)%1000000)
			for i := 1; i < want; i++ {
				if out := f.verify(ch.ID, Answer{Method: MethodTOTP, Code: wrong}); out.Status != StatusFailed || out.AttemptsLeft != want-i || out.Decision() != "deny" {
					t.Fatalf("wrong answer %d: %+v, want failed with %d left", i, out, want-i)
				}
			}
			if out := f.verify(ch.ID, Answer{Method: MethodTOTP, Code: wrong}); out.Status != StatusLocked || out.AttemptsLeft != 0 {
				t.Fatalf("wrong answer %d: %+v, want locked", want, out)
			}
			if _, err := f.svc.Verify(context.Background(), ch.ID, Answer{Method: MethodTOTP, Code: right}); !errors.Is(err, ErrLocked) {
				t.Errorf("the right code on a locked challenge: %v, want ErrLocked", err)
			}
			if got := f.getChallenge(ch.ID); got.State != store.ChallengeLocked || got.Attempts != want {
				t.Errorf("stored challenge %s with %d attempts", got.State, got.Attempts)
			}
			// The failures raise the risk of the account's next logins.
			f.advance(time.Minute)
			if r := f.login("u-1", "198.51.100.4", "d-new"); r.Challenge == nil || r.Reasons[0].Code != "account.new_device" {
				t.Errorf("next login from the attacker's device: %s %+v", r.Decision, r.Reasons)
			}
		})
	}
}

func TestExpiredChallengeRefused(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.owner("u-1")
	secret := f.enrolTOTP("u-1")
	f.advance(time.Minute)
	ch := f.challenge("u-1", "198.51.100.4", "d-new")
	f.advance(5*time.Minute + time.Second) // the default TTL is 5 minutes
	code := totpAt(secret, f.clockNow())
	for range 2 {
		if out := f.verify(ch.ID, Answer{Method: MethodTOTP, Code: code}); out.Status != StatusExpired || out.Decision() != "deny" {
			t.Fatalf("answer after expiry: %+v, want expired", out)
		}
	}
	if got := f.getChallenge(ch.ID); got.State != store.ChallengeExpired {
		t.Errorf("stored state %s, want expired", got.State)
	}
	// The code was not spent on the expired challenge.
	ch2 := f.challenge("u-1", "198.51.100.4", "d-new")
	if out := f.verify(ch2.ID, Answer{Method: MethodTOTP, Code: code}); out.Status != StatusPassed {
		t.Errorf("the same code on a fresh challenge: %+v, want passed", out)
	}
}

func TestChallengeSingleUse(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.owner("u-1")
	secret := f.enrolTOTP("u-1")
	f.advance(time.Minute)
	ch := f.challenge("u-1", "198.51.100.4", "d-new")
	if out := f.verify(ch.ID, Answer{Method: MethodTOTP, Code: totpAt(secret, f.clockNow())}); out.Status != StatusPassed {
		t.Fatalf("%+v", out)
	}
	f.advance(30 * time.Second)
	if _, err := f.svc.Verify(context.Background(), ch.ID, Answer{Method: MethodTOTP, Code: totpAt(secret, f.clockNow())}); !errors.Is(err, ErrUsed) {
		t.Errorf("second answer: %v, want ErrUsed", err)
	}
	if _, err := f.svc.Verify(context.Background(), "ch_nope", Answer{Method: MethodTOTP, Code: "123456"}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown challenge: %v, want ErrNotFound", err)
	}
}

func TestMalformedAnswersCostNothing(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.owner("u-1")
	f.enrolTOTP("u-1")
	f.advance(time.Minute)
	ch := f.challenge("u-1", "198.51.100.4", "d-new")
	for _, a := range []struct {
		ans   Answer
		field string
	}{
		{Answer{Method: MethodTOTP, Code: "12345"}, "code"},
		{Answer{Method: MethodTOTP, Code: "12345a"}, "code"},
		{Answer{Method: MethodTOTP}, "code"},
		{Answer{Method: MethodEmailOTP, Code: "123456"}, "method"}, // not offered
		{Answer{Method: "sms", Code: "123456"}, "method"},
	} {
		_, err := f.svc.Verify(context.Background(), ch.ID, a.ans)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != a.field {
			t.Errorf("%+v: error %v, want a FieldError on %s", a.ans, err, a.field)
		}
	}
	if got := f.getChallenge(ch.ID); got.Attempts != 0 || got.State != store.ChallengePending {
		t.Errorf("after malformed answers: %s with %d attempts", got.State, got.Attempts)
	}
}

// TestFactorEnrolledAfterChallengeCannotAnswer: whoever holds only the
// password cannot enrol a factor of their own and answer with it.
func TestFactorEnrolledAfterChallengeCannotAnswer(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.owner("u-1")
	f.enrolTOTP("u-1")
	f.advance(time.Minute)
	ch := f.challenge("u-1", "198.51.100.4", "d-attacker")
	f.advance(time.Second)
	attackers := f.enrolTOTP("u-1") // e.g. through a shop that lets a half-logged-in session enrol
	f.advance(30 * time.Second)
	if out := f.verify(ch.ID, Answer{Method: MethodTOTP, Code: totpAt(attackers, f.clockNow())}); out.Status != StatusFailed {
		t.Errorf("code of a factor enrolled after the challenge: %+v, want failed", out)
	}
}

func engineConfig(maxAttempts int) (c engine.Config) {
	c.ChallengeMaxAttempts = maxAttempts
	return c
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
