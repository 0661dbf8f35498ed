package stepup

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/protocol"

	"github.com/atoguard/atoguard/internal/store"
)

// registerPasskey registers a new soft authenticator for user.
func (f *fixture) registerPasskey(user string) *softAuthenticator {
	f.t.Helper()
	ctx := context.Background()
	a := newSoftAuthenticator(f.t, testRPID, testOrigin)
	creation, err := f.svc.BeginWebAuthnRegistration(ctx, RegistrationRequest{UserID: user, Name: "laptop", UserName: user + "@example.jp"})
	if err != nil {
		f.t.Fatal(err)
	}
	creation = roundTrip(f.t, creation)
	info, err := f.svc.FinishWebAuthnRegistration(ctx, user, a.create(f.t, creation))
	if err != nil {
		f.t.Fatalf("FinishWebAuthnRegistration: %v", err)
	}
	if info.Type != store.FactorWebAuthn || !info.Confirmed || info.Name != "laptop" {
		f.t.Errorf("registered factor %+v", info)
	}
	return a
}

// roundTrip passes v through JSON, as it reaches a browser.
func roundTrip[T any](t testing.TB, v *T) *T {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out := new(T)
	if err := json.Unmarshal(data, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func (f *fixture) options(id string) *protocol.CredentialAssertion {
	f.t.Helper()
	opts, err := f.svc.WebAuthnOptions(context.Background(), id)
	if err != nil {
		f.t.Fatalf("WebAuthnOptions: %v", err)
	}
	return roundTrip(f.t, opts)
}

func TestWebAuthnRegistrationAndAssertion(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	f.owner("u-1")
	a := f.registerPasskey("u-1")
	f.advance(time.Minute)

	ch := f.challenge("u-1", "198.51.100.4", "d-new")
	if !slices.Equal(ch.Methods, []string{MethodWebAuthn}) {
		t.Errorf("methods %v, want [webauthn]", ch.Methods)
	}
	opts := f.options(ch.ID)
	if opts.Response.RelyingPartyID != testRPID || len(opts.Response.AllowedCredentials) != 1 {
		t.Errorf("options: rp %q, %d allowed credentials", opts.Response.RelyingPartyID, len(opts.Response.AllowedCredentials))
	}
	assertion := a.get(t, opts)
	if out := f.verify(ch.ID, Answer{Method: MethodWebAuthn, Assertion: assertion}); out.Status != StatusPassed {
		t.Fatalf("assertion: %+v, want passed", out)
	}

	// The same assertion, replayed on a new challenge, fails: its
	// challenge bytes are the old ceremony's.
	ch2 := f.challenge("u-1", "192.0.2.9", "d-other")
	f.options(ch2.ID)
	if out := f.verify(ch2.ID, Answer{Method: MethodWebAuthn, Assertion: assertion}); out.Status != StatusFailed {
		t.Errorf("replayed assertion: %+v, want failed", out)
	}
	// The options were used by that answer: a second answer needs new ones.
	if _, err := f.svc.Verify(ctx, ch2.ID, Answer{Method: MethodWebAuthn, Assertion: a.get(t, opts)}); !errors.Is(err, ErrConflict) {
		t.Errorf("answer without outstanding options: %v, want ErrConflict", err)
	}
	// A signature for another origin (a phishing site) fails.
	phish := *a
	phish.origin = "https://shop-example.jp.attacker.example"
	if out := f.verify(ch2.ID, Answer{Method: MethodWebAuthn, Assertion: phish.get(t, f.options(ch2.ID))}); out.Status != StatusFailed {
		t.Errorf("assertion from a phishing origin: %+v, want failed", out)
	}
	a.counter = phish.counter
	// An unregistered authenticator fails.
	stranger := newSoftAuthenticator(t, testRPID, testOrigin)
	stranger.handle = a.handle
	if out := f.verify(ch2.ID, Answer{Method: MethodWebAuthn, Assertion: stranger.get(t, f.options(ch2.ID))}); out.Status != StatusFailed {
		t.Errorf("unregistered authenticator: %+v, want failed", out)
	}
	if out := f.verify(ch2.ID, Answer{Method: MethodWebAuthn, Assertion: a.get(t, f.options(ch2.ID))}); out.Status != StatusPassed {
		t.Errorf("the owner's authenticator: %+v, want passed", out)
	}
}

func TestWebAuthnCounterGoingBackIsRefusedAndFlagged(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.owner("u-1")
	a := f.registerPasskey("u-1")
	f.advance(time.Minute)
	ch := f.challenge("u-1", "198.51.100.4", "d-new")
	a.counter = 41
	if out := f.verify(ch.ID, Answer{Method: MethodWebAuthn, Assertion: a.get(t, f.options(ch.ID))}); out.Status != StatusPassed {
		t.Fatalf("%+v", out)
	}
	// A clone of the key, with the counter of before.
	clone := *a
	clone.counter = 10
	ch2 := f.challenge("u-1", "192.0.2.9", "d-clone")
	if out := f.verify(ch2.ID, Answer{Method: MethodWebAuthn, Assertion: clone.get(t, f.options(ch2.ID))}); out.Status != StatusFailed {
		t.Fatalf("counter went back: %+v, want failed", out)
	}
	fs, err := f.svc.ListFactors(context.Background(), "u-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(fs.Factors) != 1 || !fs.Factors[0].CloneWarning {
		t.Errorf("factors %+v, want the passkey flagged", fs.Factors)
	}
	// A flagged credential answers no more, not even the original.
	if m, _ := f.svc.Methods(context.Background(), "u-1", []string{MethodWebAuthn}); len(m) != 0 {
		t.Errorf("methods after the flag: %v, want none", m)
	}
	if _, err := f.svc.WebAuthnOptions(context.Background(), ch2.ID); !errors.Is(err, ErrUnavailable) {
		t.Errorf("options for a flagged credential: %v, want ErrUnavailable", err)
	}
}

func TestWebAuthnWithoutCounter(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.owner("u-1")
	a := f.registerPasskey("u-1")
	a.step = 0 // like synced passkeys: the counter is always 0
	for i, dev := range []string{"d-a", "d-b"} {
		f.advance(time.Minute)
		ch := f.challenge("u-1", "198.51.100.4", dev)
		if out := f.verify(ch.ID, Answer{Method: MethodWebAuthn, Assertion: a.get(t, f.options(ch.ID))}); out.Status != StatusPassed {
			t.Errorf("use %d of a counterless authenticator: %+v, want passed", i+1, out)
		}
	}
}

func TestWebAuthnRegistrationRefusals(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	a := newSoftAuthenticator(t, testRPID, testOrigin)
	// No registration begun.
	if _, err := f.svc.FinishWebAuthnRegistration(ctx, "u-1", []byte(`{"id":"x"}`)); err == nil {
		t.Error("finish without begin succeeded")
	}
	creation, err := f.svc.BeginWebAuthnRegistration(ctx, RegistrationRequest{UserID: "u-1"})
	if err != nil {
		t.Fatal(err)
	}
	// Another relying party's registration is rejected.
	other := *a
	other.rpID = "attacker.example"
	_, err = f.svc.FinishWebAuthnRegistration(ctx, "u-1", other.create(t, roundTrip(t, creation)))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "attestation" {
		t.Errorf("wrong RP: %v, want a FieldError on attestation", err)
	}
	// The registration state was used: begin again.
	creation, err = f.svc.BeginWebAuthnRegistration(ctx, RegistrationRequest{UserID: "u-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.FinishWebAuthnRegistration(ctx, "u-1", a.create(t, roundTrip(t, creation))); err != nil {
		t.Fatal(err)
	}
	// The same authenticator again is excluded by the options and refused.
	creation, err = f.svc.BeginWebAuthnRegistration(ctx, RegistrationRequest{UserID: "u-1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(creation.Response.CredentialExcludeList) != 1 {
		t.Errorf("exclude list has %d credentials, want 1", len(creation.Response.CredentialExcludeList))
	}
	if _, err := f.svc.FinishWebAuthnRegistration(ctx, "u-1", a.create(t, roundTrip(t, creation))); !errors.Is(err, ErrConflict) {
		t.Errorf("registering the same credential twice: %v, want ErrConflict", err)
	}
	// A registration left too long expires.
	if _, err := f.svc.BeginWebAuthnRegistration(ctx, RegistrationRequest{UserID: "u-2"}); err != nil {
		t.Fatal(err)
	}
	f.advance(enrolTTL)
	b := newSoftAuthenticator(t, testRPID, testOrigin)
	if _, err := f.svc.FinishWebAuthnRegistration(ctx, "u-2", b.create(t, creation)); !errors.Is(err, ErrConflict) {
		t.Errorf("finish after the registration expired: %v, want ErrConflict", err)
	}
}
