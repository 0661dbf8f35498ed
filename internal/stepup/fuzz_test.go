package stepup

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
)

func FuzzParseDigits(f *testing.F) {
	for _, s := range []string{"123456", "123 456", "123-456", "12345", "1234567", "١٢٣٤٥٦", "12345\x00", "", strings.Repeat("1", 100)} {
		f.Add(s, 6)
	}
	f.Add("12345678", 8)
	f.Fuzz(func(t *testing.T, in string, n int) {
		if n < 1 || n > 10 {
			return
		}
		got, err := parseDigits("code", in, n)
		if err != nil {
			if strings.Contains(err.Error(), in) && len(in) >= 4 {
				t.Errorf("error %q repeats the input", err)
			}
			return
		}
		if len(got) != n || strings.Trim(got, "0123456789") != "" {
			t.Errorf("parseDigits(%q, %d) = %q", in, n, got)
		}
	})
}

func FuzzParseRecoveryCode(f *testing.F) {
	for _, s := range []string{"abcd-efgh-jkmn-pqrs", "ABCD EFGH JKMN PQRS", "oil0-0000-0000-0000", "abcd", "ü" + strings.Repeat("a", 15), ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := parseRecoveryCode(in)
		if err != nil {
			return
		}
		if len(got) != recoveryLen || strings.Trim(got, recoveryAlphabet) != "" {
			t.Errorf("parseRecoveryCode(%q) = %q", in, got)
		}
		again, err := parseRecoveryCode(got)
		if err != nil || again != got {
			t.Errorf("not idempotent: %q → %q → %q, %v", in, got, again, err)
		}
	})
}

func FuzzOpen(f *testing.F) {
	k, _ := ParseKeys(NewKeyEntry("k1"))
	aad := []byte("factor\x00fa_1\x00u-1\x00totp")
	good := k.Seal([]byte("secret"), aad)
	f.Add(good)
	f.Add([]byte{1, 2, 'k', '1'})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, sealed []byte) {
		plain, _, err := k.Open(sealed, aad)
		if err == nil && !bytes.Equal(sealed, good) && string(plain) == "secret" && len(sealed) != len(good) {
			t.Errorf("a different value opened to the secret")
		}
	})
}

// webauthnFuzzSetup registers a passkey and returns the service, the
// user, a ceremony's session data and a valid assertion for it.
func webauthnFuzzSetup(f *testing.F) (*fixture, *waUser, webauthn.SessionData, []byte, []byte) {
	fx := newFixture(f, fixtureOptions{})
	ctx := context.Background()
	a := newSoftAuthenticator(f, testRPID, testOrigin)
	creation, err := fx.svc.BeginWebAuthnRegistration(ctx, RegistrationRequest{UserID: "u-1"})
	if err != nil {
		f.Fatal(err)
	}
	attestation := a.create(f, roundTrip(f, creation))
	if _, err := fx.svc.FinishWebAuthnRegistration(ctx, "u-1", attestation); err != nil {
		f.Fatal(err)
	}
	u, err := fx.svc.waUserOf(ctx, "u-1", "u-1", time.Time{})
	if err != nil {
		f.Fatal(err)
	}
	opts, sd, err := fx.svc.wa.BeginLogin(u)
	if err != nil {
		f.Fatal(err)
	}
	return fx, u, *sd, a.get(f, roundTrip(f, opts)), attestation
}

// FuzzAssertion feeds mutated assertions to the parser and the verifier.
func FuzzAssertion(f *testing.F) {
	fx, u, sd, good, _ := webauthnFuzzSetup(f)
	f.Add(good)
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		parsed, err := parseAssertion(data)
		if err != nil {
			if _, ok := err.(*FieldError); !ok {
				t.Errorf("parse error %T, want *FieldError", err)
			}
			return
		}
		_, _ = fx.svc.wa.ValidateLogin(u, sd, parsed) // must not panic
	})
}

// FuzzAttestation feeds mutated registration responses to the parser and
// the verifier.
func FuzzAttestation(f *testing.F) {
	fx, u, _, _, good := webauthnFuzzSetup(f)
	var reg struct {
		Response struct{ ClientDataJSON string }
	}
	_ = json.Unmarshal(good, &reg)
	sd := webauthn.SessionData{Challenge: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", UserID: u.handle, UserVerification: "preferred"}
	f.Add(good)
	f.Add([]byte(`{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		parsed, err := parseAttestation(data)
		if err != nil {
			if _, ok := err.(*FieldError); !ok {
				t.Errorf("parse error %T, want *FieldError", err)
			}
			return
		}
		_, _ = fx.svc.wa.CreateCredential(u, sd, parsed) // must not panic
	})
}
