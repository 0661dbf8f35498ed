package stepup

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

var codeInMail = regexp.MustCompile(`code is ([0-9]{6,8})`)

func (f *fixture) mailedCode(n int) string {
	f.t.Helper()
	m := f.sink.Wait(f.t, n)
	got := codeInMail.FindStringSubmatch(m.Body())
	if got == nil {
		f.t.Fatalf("no code in mail %d: %q", n, m.Body())
	}
	return got[1]
}

// TestEmailCodeEndToEnd enrols an address (confirmed with an emailed code)
// and passes a challenge with a code sent through SMTP to the sink.
func TestEmailCodeEndToEnd(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	f.owner("u-1")
	enrolEmailConfirmedByMail(ctx, t, f)

	f.advance(time.Minute)
	ch := f.challenge("u-1", "198.51.100.4", "d-new")
	if !slices.Equal(ch.Methods, []string{MethodEmailOTP}) {
		t.Fatalf("methods %v, want [email_otp]", ch.Methods)
	}
	// Answering before a code was sent is a protocol error, not an attempt.
	if _, err := f.svc.Verify(ctx, ch.ID, Answer{Method: MethodEmailOTP, Code: "123456"}); !errors.Is(err, ErrConflict) {
		t.Errorf("answer before send: %v, want ErrConflict", err)
	}
	sent, err := f.svc.Send(ctx, ch.ID, MethodEmailOTP)
	if err != nil {
		t.Fatal(err)
	}
	if sent.To != "t***@example.jp" || !sent.ExpiresAt.Equal(ch.ExpiresAt) {
		t.Errorf("sent %+v", sent)
	}
	code := f.mailedCode(2)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	if out := f.verify(ch.ID, Answer{Method: MethodEmailOTP, Code: wrong}); out.Status != StatusFailed || out.AttemptsLeft != 4 {
		t.Errorf("wrong code: %+v", out)
	}
	resendAndPass(ctx, t, f, ch.ID, code)
}

// enrolEmailConfirmedByMail enrols taro.yamada@example.jp for u-1 and
// confirms it with the code mailed to it: a wrong code does not confirm
// it, and until it is confirmed the address is not offered.
func enrolEmailConfirmedByMail(ctx context.Context, t *testing.T, f *fixture) {
	t.Helper()
	e, err := f.svc.EnrollEmail(ctx, "u-1", "taro.yamada@example.jp", false)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Sent || e.Confirmed {
		t.Fatalf("enrolment %+v, want a code sent", e)
	}
	m := f.sink.Wait(t, 1)
	if len(m.To) != 1 || m.To[0] != "taro.yamada@example.jp" || !strings.Contains(m.Subject(), "atoguard verification code") {
		t.Errorf("confirmation mail to %v, subject %q", m.To, m.Subject())
	}
	// Not confirmed yet: nothing to offer.
	if got, _ := f.svc.Methods(ctx, "u-1", []string{MethodEmailOTP}); len(got) != 0 {
		t.Errorf("methods before confirmation: %v", got)
	}
	if err := f.svc.ConfirmEmail(ctx, "u-1", e.FactorID, "000000"); err == nil && f.mailedCode(1) != "000000" {
		t.Error("a wrong confirmation code was accepted")
	}
	if err := f.svc.ConfirmEmail(ctx, "u-1", e.FactorID, f.mailedCode(1)); err != nil {
		t.Fatalf("ConfirmEmail: %v", err)
	}
	fs, _ := f.svc.ListFactors(ctx, "u-1")
	if len(fs.Factors) != 1 || fs.Factors[0].Address != "t***@example.jp" {
		t.Errorf("factors %+v, want the masked address", fs.Factors)
	}
}

// resendAndPass resends challenge id's code after the throttle, checks the
// new code replaces code (the one sent first) and passes with it; a
// passed challenge sends nothing more.
func resendAndPass(ctx context.Context, t *testing.T, f *fixture, id, code string) {
	t.Helper()
	// Resending is throttled, then allowed; the new code replaces the old.
	if _, err := f.svc.Send(ctx, id, MethodEmailOTP); !errors.Is(err, ErrSendLimit) {
		t.Errorf("immediate resend: %v, want ErrSendLimit", err)
	}
	f.advance(30 * time.Second)
	if _, err := f.svc.Send(ctx, id, MethodEmailOTP); err != nil {
		t.Fatal(err)
	}
	code2 := f.mailedCode(3)
	if code2 != code {
		if out := f.verify(id, Answer{Method: MethodEmailOTP, Code: code}); out.Status != StatusFailed {
			t.Errorf("the replaced code: %+v, want failed", out)
		}
	}
	if out := f.verify(id, Answer{Method: MethodEmailOTP, Code: code2}); out.Status != StatusPassed {
		t.Fatalf("the emailed code: %+v, want passed", out)
	}
	if _, err := f.svc.Send(ctx, id, MethodEmailOTP); !errors.Is(err, ErrUsed) {
		t.Errorf("send on a passed challenge: %v, want ErrUsed", err)
	}
}

func TestEmailSendLimit(t *testing.T) {
	f := newFixture(t, fixtureOptions{cfg: Config{EmailCode: EmailCodeConfig{MaxSends: 2, Digits: 8}}})
	ctx := context.Background()
	f.owner("u-1")
	if _, err := f.svc.EnrollEmail(ctx, "u-1", "taro@example.jp", true); err != nil {
		t.Fatal(err)
	}
	f.advance(time.Minute)
	ch := f.challenge("u-1", "198.51.100.4", "d-new")
	for i := range 2 {
		if _, err := f.svc.Send(ctx, ch.ID, MethodEmailOTP); err != nil {
			t.Fatalf("send %d: %v", i+1, err)
		}
		f.advance(time.Minute)
	}
	if len(f.mailedCode(2)) != 8 {
		t.Errorf("code length, want 8 digits")
	}
	if _, err := f.svc.Send(ctx, ch.ID, MethodEmailOTP); !errors.Is(err, ErrSendLimit) {
		t.Errorf("third send: %v, want ErrSendLimit", err)
	}
}

func TestEmailAddressValidation(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	for _, addr := range []string{"", "taro", "Taro <taro@example.jp>", "a@b@c", strings.Repeat("a", 250) + "@example.jp"} {
		_, err := f.svc.EnrollEmail(context.Background(), "u-1", addr, true)
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != "address" {
			t.Errorf("EnrollEmail(%q): %v, want a FieldError on address", addr, err)
		}
	}
}
