package stepup

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRecoveryCodesSingleUse(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	f.owner("u-1")
	codes, err := f.svc.NewRecoveryCodes(ctx, "u-1")
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != 10 {
		t.Fatalf("%d codes, want 10", len(codes))
	}
	shape := regexp.MustCompile(`^[0-9a-z]{4}(-[0-9a-z]{4}){3}$`)
	for _, c := range codes {
		if !shape.MatchString(c) {
			t.Errorf("code %q is not xxxx-xxxx-xxxx-xxxx", c)
		}
	}
	if s := fmt.Sprint(codes); strings.Contains(s, codes[0]) {
		t.Errorf("codes print in clear: %s", s)
	}
	// Only hashes are stored.
	stored, _ := f.st.ListRecoveryCodes(ctx, "u-1")
	for _, c := range stored {
		if strings.Contains(string(c.Hash), strings.ReplaceAll(codes[0], "-", "")) {
			t.Error("a recovery code is stored in clear")
		}
	}

	f.advance(time.Minute)
	ch := f.challenge("u-1", "198.51.100.4", "d-new")
	if !slices.Equal(ch.Methods, []string{MethodRecoveryCode}) {
		t.Errorf("methods %v, want [recovery_code]", ch.Methods)
	}
	// Typed in capitals without hyphens, it still counts.
	typed := strings.ToUpper(strings.ReplaceAll(codes[3], "-", " "))
	if out := f.verify(ch.ID, Answer{Method: MethodRecoveryCode, Code: typed}); out.Status != StatusPassed {
		t.Fatalf("recovery code: %+v, want passed", out)
	}
	ch2 := f.challenge("u-1", "192.0.2.9", "d-other")
	if out := f.verify(ch2.ID, Answer{Method: MethodRecoveryCode, Code: codes[3]}); out.Status != StatusFailed {
		t.Errorf("used recovery code: %+v, want failed", out)
	}
	if out := f.verify(ch2.ID, Answer{Method: MethodRecoveryCode, Code: codes[4]}); out.Status != StatusPassed {
		t.Errorf("another recovery code: %+v, want passed", out)
	}
	fs, _ := f.svc.ListFactors(ctx, "u-1")
	if fs.RecoveryCodesLeft != 8 {
		t.Errorf("%d codes left, want 8", fs.RecoveryCodesLeft)
	}
	// New codes replace the old ones.
	if _, err := f.svc.NewRecoveryCodes(ctx, "u-1"); err != nil {
		t.Fatal(err)
	}
	f.advance(time.Minute)
	ch3 := f.challenge("u-1", "192.0.2.10", "d-third")
	if out := f.verify(ch3.ID, Answer{Method: MethodRecoveryCode, Code: codes[5]}); out.Status != StatusFailed {
		t.Errorf("a replaced code: %+v, want failed", out)
	}
}

func TestParseRecoveryCode(t *testing.T) {
	for _, tt := range []struct {
		in, want string
		ok       bool
	}{
		{"abcd-efgh-jkmn-pqrs", "abcdefghjkmnpqrs", true},
		{"ABCD EFGH JKMN PQRS", "abcdefghjkmnpqrs", true},
		{"oOiI-lL00-1111-2222", "00111100" + "11112222", true},
		{"abcd-efgh-jkmn-pqr", "", false},
		{"abcd-efgh-jkmn-pqrsu", "", false}, // u is not in the alphabet
		{"abcd_efgh_jkmn_pqrs", "", false},
		{"", "", false},
	} {
		got, err := parseRecoveryCode(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseRecoveryCode(%q) = %q, %v; want %q, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
