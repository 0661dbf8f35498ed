package cli_test

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/atoguard/atoguard/internal/dashboard"
	"github.com/atoguard/atoguard/internal/stepup"
	"github.com/atoguard/atoguard/internal/store/sqlite"
)

var (
	passwordLine = regexp.MustCompile(`(?m)^password: +(\S+)$`)
	totpLine     = regexp.MustCompile(`(?m)^totp secret: +([A-Z2-7]+)$`)
	uriLine      = regexp.MustCompile(`(?m)^otpauth uri: +(otpauth://totp/\S+)$`)
)

func TestOperatorCreate(t *testing.T) {
	data := t.TempDir()
	code, stdout, stderr := run(t, "operator", "create", "--data", data, "--name", "hanako")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	pw, secret, uri := passwordLine.FindStringSubmatch(stdout), totpLine.FindStringSubmatch(stdout), uriLine.FindStringSubmatch(stdout)
	if pw == nil || secret == nil || uri == nil || len(pw[1]) < 20 || !strings.Contains(uri[1], "secret="+secret[1]) {
		t.Fatalf("output lacks a password, a TOTP secret or its URI:\n%s", stdout)
	}

	ctx := context.Background()
	st, err := sqlite.Open(ctx, data, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	op, err := st.GetOperator(ctx, "hanako")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(op.PasswordHash, "$argon2id$") || strings.Contains(op.PasswordHash, pw[1]) {
		t.Errorf("password hash %q: want an argon2id hash", op.PasswordHash)
	}
	if bytes.Contains(op.TOTPSecret, []byte(secret[1])) {
		t.Error("the TOTP secret is stored in clear")
	}
	keys, _, err := stepup.LoadKeys("", "", data)
	if err != nil {
		t.Fatal(err)
	}
	if plain, _, err := keys.Open(op.TOTPSecret, dashboard.TOTPContext("hanako")); err != nil || string(plain) != secret[1] {
		t.Errorf("sealed TOTP secret opens to %q, %v", plain, err)
	}

	if code, _, stderr := run(t, "operator", "create", "--data", data, "--name", "hanako"); code == 0 || !strings.Contains(stderr, "exists") {
		t.Errorf("second create: exit %d, stderr %q", code, stderr)
	}
	if code, _, stderr := run(t, "operator", "create", "--data", data, "--name", "bad name"); code == 0 || !strings.Contains(stderr, "--name") {
		t.Errorf("bad name: exit %d, stderr %q", code, stderr)
	}
	if code, stdout, _ := run(t, "operator", "list", "--data", data); code != 0 || !strings.HasPrefix(stdout, "hanako\tactive\t") || strings.Contains(stdout, secret[1]) {
		t.Errorf("operator list: exit %d:\n%s", code, stdout)
	}
}
