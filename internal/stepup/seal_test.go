package stepup

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSealRoundTripAndTampering(t *testing.T) {
	k, err := ParseKeys("# comment\n" + NewKeyEntry("k1") + "\n")
	if err != nil {
		t.Fatal(err)
	}
	ctx := []byte("factor\x00fa_1\x00u-1\x00totp")
	sealed := k.Seal([]byte("JBSWY3DPEHPK3PXP"), ctx)
	if bytes.Contains(sealed, []byte("JBSWY3DPEHPK3PXP")) {
		t.Fatal("sealed value holds the plaintext")
	}
	got, stale, err := k.Open(sealed, ctx)
	if err != nil || stale || string(got) != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("Open = %q, %v, %v", got, stale, err)
	}
	if _, _, err := k.Open(sealed, []byte("factor\x00fa_1\x00u-2\x00totp")); err == nil {
		t.Error("a value moved to another user opened")
	}
	for i := range sealed {
		bad := bytes.Clone(sealed)
		bad[i] ^= 0x01
		if _, _, err := k.Open(bad, ctx); err == nil {
			t.Errorf("a value with byte %d flipped opened", i)
		}
	}
	if _, _, err := k.Open(sealed[:len(sealed)-1], ctx); err == nil {
		t.Error("a truncated value opened")
	}
	other, _ := ParseKeys(NewKeyEntry("k9"))
	if _, _, err := other.Open(sealed, ctx); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("open with another ring: %v, want ErrUnknownKey", err)
	}
}

func TestParseKeysErrors(t *testing.T) {
	good := NewKeyEntry("k1")
	for _, tt := range []struct{ text, want string }{
		{"", "no key"},
		{"# only a comment\n", "no key"},
		{"k1", "want ID:BASE64"},
		{"bad id!:" + strings.SplitN(good, ":", 2)[1], "want ID:BASE64"},
		{"k1:not-base64!", "not base64"},
		{"k1:AAAA", "3 bytes, want 32"},
		{good + "," + good, "listed twice"},
	} {
		_, err := ParseKeys(tt.text)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseKeys(%q) error = %v, want %q", tt.text, err, tt.want)
		}
		if err != nil && strings.Contains(tt.text, ":") && strings.Contains(err.Error(), strings.SplitN(tt.text, ":", 2)[1]) && len(tt.text) > 20 {
			t.Errorf("ParseKeys error repeats the key: %v", err)
		}
	}
	// Comma-separated, as in ATOGUARD_FACTOR_KEY; URL-safe base64 too.
	k, err := ParseKeys("k2:" + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb, 0xff}, 16)) + ", " + good)
	if err != nil {
		t.Fatal(err)
	}
	if k.Current() != "k2" || fmt.Sprint(k.IDs()) != "[k2 k1]" {
		t.Errorf("current %s, ids %v", k.Current(), k.IDs())
	}
}

func TestLoadKeys(t *testing.T) {
	dir := t.TempDir()
	k, created, err := LoadKeys("", "", dir)
	if err != nil || !created {
		t.Fatalf("first start: %v, created %v", err, created)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, mode %v", err, fi.Mode())
	}
	again, created, err := LoadKeys("", "", dir)
	if err != nil || created || again.Current() != k.Current() {
		t.Fatalf("second start: %v, created %v", err, created)
	}
	sealed := k.Seal([]byte("x"), nil)
	if _, _, err := again.Open(sealed, nil); err != nil {
		t.Errorf("the reloaded key does not open: %v", err)
	}
	env, _, err := LoadKeys("", NewKeyEntry("from-env"), dir)
	if err != nil || env.Current() != "from-env" {
		t.Errorf("env: %v, %v", env, err)
	}
	file := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(file, []byte(NewKeyEntry("from-file")), 0o600); err != nil {
		t.Fatal(err)
	}
	fromFile, _, err := LoadKeys(file, NewKeyEntry("from-env"), dir)
	if err != nil || fromFile.Current() != "from-file" {
		t.Errorf("file wins over env: %v, %v", fromFile, err)
	}
}

// TestNothingSecretPrints logs and prints the secret-bearing values.
func TestNothingSecretPrints(t *testing.T) {
	entry := NewKeyEntry("k1")
	k, _ := ParseKeys(entry)
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	e := TOTPEnrollment{FactorID: "fa_1", Secret: Secret("JBSWY3DPEHPK3PXP"), URI: Secret("otpauth://totp/x?secret=JBSWY3DPEHPK3PXP")}
	log.Info("x", "keys", k, "enrolment", e, "secret", e.Secret, "answer", Answer{Method: "totp", Code: "123456"},
		"codes", RecoveryCodes{"abcd-efgh-jkmn-pqrs"})
	out := buf.String() + fmt.Sprint(k, e.Secret, e.URI, Answer{Code: "123456"}, RecoveryCodes{"abcd-efgh-jkmn-pqrs"}) +
		fmt.Sprintf("%v %s %#v %x", e.Secret, e.Secret, e.Secret, e.Secret)
	for _, secret := range []string{strings.SplitN(entry, ":", 2)[1], "JBSWY3DPEHPK3PXP", "123456", "abcd-efgh"} {
		if strings.Contains(out, secret) {
			t.Errorf("output contains a secret %q:\n%s", secret, out)
		}
	}
}

// TestRotation seals factors with k1, rotates to k2 (k1 decrypt-only),
// reseals on use and with Rekey, then drops k1.
func TestRotation(t *testing.T) {
	k1 := NewKeyEntry("k1")
	f := newFixture(t, fixtureOptions{keys: k1})
	ctx := context.Background()
	f.owner("u-1")
	secret := f.enrolTOTP("u-1")
	if _, err := f.svc.EnrollEmail(ctx, "u-2", "jiro@example.jp", true); err != nil {
		t.Fatal(err)
	}

	// Rotate: k2 seals, k1 still opens.
	k2 := NewKeyEntry("k2")
	rotated, err := ParseKeys(k2 + "\n" + k1)
	if err != nil {
		t.Fatal(err)
	}
	f.svc.keys = rotated
	f.advance(time.Minute)
	ch := f.challenge("u-1", "198.51.100.4", "d-new")
	if out := f.verify(ch.ID, Answer{Method: MethodTOTP, Code: totpAt(secret, f.clockNow())}); out.Status != StatusPassed {
		t.Fatalf("answer under the rotated ring: %+v", out)
	}
	// Used: resealed with k2. Not used: still k1 until Rekey.
	keyOf := func(user string) string {
		fs, _ := f.st.ListFactors(ctx, user)
		return sealedKeyID(fs[0].Secret)
	}
	if keyOf("u-1") != "k2" || keyOf("u-2") != "k1" {
		t.Errorf("after a use: u-1 sealed with %s, u-2 with %s; want k2, k1", keyOf("u-1"), keyOf("u-2"))
	}
	n, err := f.svc.Rekey(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Rekey = %d, %v; want 1", n, err)
	}
	if keyOf("u-2") != "k2" {
		t.Errorf("after Rekey u-2 is sealed with %s", keyOf("u-2"))
	}
	// k1 can go: a ring with k2 alone opens everything.
	k2only, err := ParseKeys(k2)
	if err != nil {
		t.Fatal(err)
	}
	f.svc.keys = k2only
	all, err := f.st.ScanFactors(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, fa := range all {
		if _, err := f.svc.openSecret(ctx, fa); err != nil {
			t.Errorf("factor %s does not open without k1: %v", fa.ID, err)
		}
	}
	f.advance(time.Minute)
	ch2 := f.challenge("u-1", "192.0.2.9", "d-other")
	if out := f.verify(ch2.ID, Answer{Method: MethodTOTP, Code: totpAt(secret, f.clockNow())}); out.Status != StatusPassed {
		t.Errorf("answer after k1 was dropped: %+v", out)
	}
}
