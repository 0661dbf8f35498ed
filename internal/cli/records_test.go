package cli_test

import (
	"context"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atoguard/atoguard/internal/cli"
	"github.com/atoguard/atoguard/internal/dashboard"
	"github.com/atoguard/atoguard/internal/stepup"
	"github.com/atoguard/atoguard/internal/store/postgres"
	"github.com/atoguard/atoguard/internal/testserver"
)

// runEnv runs the command line to completion with env as the environment.
func runEnv(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb lockedBuffer
	code = cli.Main(context.Background(), args, &out, &errb, func(k string) string { return env[k] })
	return code, out.String(), errb.String()
}

// recordsPostgres returns the URL of an empty schema on the test server.
func recordsPostgres(t *testing.T) string { return testserver.PostgresSchema(t) }

func openPostgres(t *testing.T, url string) *postgres.Store {
	t.Helper()
	st, err := postgres.Open(t.Context(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func TestRecordsPostgresKeys(t *testing.T) {
	url := recordsPostgres(t)
	data := t.TempDir()
	code, stdout, stderr := run(t, "keys", "create", "--data", data, "--records", url, "--name", "shop", "--scopes", "events,admin")
	if code != 0 {
		t.Fatalf("keys create: exit %d: %s", code, stderr)
	}
	m := secretLine.FindStringSubmatch(stdout)
	if m == nil {
		t.Fatalf("keys create printed no secret:\n%s", stdout)
	}

	st := openPostgres(t, url)
	sum := sha256.Sum256([]byte(m[1]))
	k, err := st.KeyByHash(t.Context(), sum[:])
	if err != nil {
		t.Fatalf("the key is not in PostgreSQL: %v", err)
	}
	if k.Name != "shop" || strings.Join(k.Scopes, ",") != "events,admin" {
		t.Errorf("stored key %+v: want name shop, scopes events,admin", k)
	}

	code, stdout, stderr = run(t, "keys", "list", "--data", data, "--records", url)
	if code != 0 {
		t.Fatalf("keys list: exit %d: %s", code, stderr)
	}
	if !strings.HasPrefix(stdout, k.ID+"\tshop\tevents,admin\t") || strings.Count(stdout, "\n") != 1 || strings.Contains(stdout, m[1]) {
		t.Errorf("keys list --records:\n%s", stdout)
	}
	// The SQLite records in --data are another store, without the key.
	if code, stdout, stderr := run(t, "keys", "list", "--data", data); code != 0 || stdout != "" {
		t.Errorf("keys list on SQLite: exit %d, stdout %q, stderr %q; want no keys", code, stdout, stderr)
	}
}

func TestRecordsPostgresOperator(t *testing.T) {
	url := recordsPostgres(t)
	data := t.TempDir()
	// Without the guards' shared factor key, a key made in --data would
	// seal a secret no guard can open.
	if code, _, stderr := run(t, "operator", "create", "--data", data, "--records", url, "--name", "hanako"); code == 0 || !strings.Contains(stderr, "ATOGUARD_FACTOR_KEY") {
		t.Errorf("create without a shared key: exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(data, stepup.KeyFileName)); err == nil {
		t.Errorf("the refused create made %s in --data", stepup.KeyFileName)
	}

	env := map[string]string{ // the defaults of --records and of the key
		"ATOGUARD_RECORDS":  url,
		stepup.EnvFactorKey: stepup.NewKeyEntry("k1"),
	}
	code, stdout, stderr := runEnv(t, env, "operator", "create", "--data", data, "--name", "hanako")
	if code != 0 {
		t.Fatalf("operator create: exit %d: %s", code, stderr)
	}
	pw, secret := passwordLine.FindStringSubmatch(stdout), totpLine.FindStringSubmatch(stdout)
	if pw == nil || secret == nil {
		t.Fatalf("output lacks a password or a TOTP secret:\n%s", stdout)
	}

	st := openPostgres(t, url)
	var ops dashboard.Operators = st
	op, err := ops.GetOperator(t.Context(), "hanako")
	if err != nil {
		t.Fatalf("the operator is not in PostgreSQL: %v", err)
	}
	if !strings.HasPrefix(op.PasswordHash, "$argon2id$") || strings.Contains(op.PasswordHash, pw[1]) {
		t.Errorf("password hash %q: want an argon2id hash", op.PasswordHash)
	}
	keys, _, err := stepup.LoadKeys("", env[stepup.EnvFactorKey], data)
	if err != nil {
		t.Fatal(err)
	}
	if plain, _, err := keys.Open(op.TOTPSecret, dashboard.TOTPContext("hanako")); err != nil || string(plain) != secret[1] {
		t.Errorf("sealed TOTP secret opens to %q, %v", plain, err)
	}
	if ok, err := ops.AdvanceOperatorTOTP(t.Context(), "hanako", 1); err != nil || !ok {
		t.Errorf("AdvanceOperatorTOTP = %v, %v; want true", ok, err)
	}

	keyFile := writeFile(t, "factor.keys", env[stepup.EnvFactorKey]+"\n")
	if code, _, stderr := run(t, "operator", "create", "--data", data, "--records", url, "--factor-key-file", keyFile, "--name", "hanako"); code == 0 || !strings.Contains(stderr, "exists") {
		t.Errorf("second create: exit %d, stderr %q", code, stderr)
	}
	if code, stdout, stderr := runEnv(t, env, "operator", "list", "--data", data); code != 0 || !strings.HasPrefix(stdout, "hanako\tactive\t") || strings.Count(stdout, "\n") != 1 {
		t.Errorf("operator list: exit %d, stderr %q:\n%s", code, stderr, stdout)
	}
	// An explicit empty --records means SQLite in --data, whatever the
	// environment says.
	if code, stdout, stderr := runEnv(t, env, "operator", "list", "--data", data, "--records", ""); code != 0 || stdout != "" {
		t.Errorf("operator list --records '': exit %d, stderr %q, stdout %q; want SQLite, empty", code, stderr, stdout)
	}
}

func TestRecordsNotPostgres(t *testing.T) {
	const url = "mysql://ops:hunter2@db.internal/atoguard"
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"keys flag", nil, []string{"keys", "list", "--records", url}},
		{"keys env", map[string]string{"ATOGUARD_RECORDS": url}, []string{"keys", "create", "--name", "x"}},
		{"operator flag", nil, []string{"operator", "list", "--records", url}},
		{"operator env", map[string]string{"ATOGUARD_RECORDS": url}, []string{"operator", "list"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append(tc.args, "--data", t.TempDir())
			code, stdout, stderr := runEnv(t, tc.env, args...)
			if code == 0 || !strings.Contains(stderr, "--records") || !strings.Contains(stderr, "postgres://") {
				t.Errorf("exit %d, stderr %q; want an error naming --records", code, stderr)
			}
			if strings.Contains(stdout+stderr, "hunter2") {
				t.Errorf("the URL's password is in the output: %q", stdout+stderr)
			}
		})
	}
}
