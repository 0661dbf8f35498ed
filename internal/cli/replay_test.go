package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atoguard/atoguard/internal/store/postgres"
	"github.com/atoguard/atoguard/internal/store/sqlite"
	"github.com/atoguard/atoguard/internal/testserver"
)

func TestReplay(t *testing.T) {
	out := t.TempDir()
	const cfg = "../logreplay/testdata/replay.yaml"
	code, stdout, stderr := run(t, "replay", "check", cfg)
	if code != 0 || !strings.Contains(stdout, "ok, format combined, 4 requests") {
		t.Fatalf("replay check: code %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, "replay", "../logreplay/testdata/access.log.gz", "--config", cfg, "--out", out, "--emit", "ips")
	if code != 0 {
		t.Fatalf("replay: code %d, stderr %q", code, stderr)
	}
	if ips := strings.Fields(stdout); len(ips) < 500 {
		t.Errorf("--emit ips: got %d addresses, want hundreds", len(ips))
	}
	if !strings.Contains(stderr, "successful logins from its sources") {
		t.Errorf("the summary on stderr: got %q", stderr)
	}
	for _, f := range []string{"replay.md", "replay.json", "replay.svg"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("format: combined\nrequests: [{event: logout}]\n"), 0o644)
	if code, _, stderr := run(t, "replay", "check", bad); code == 0 || !strings.Contains(stderr, "requests[0].event") {
		t.Errorf("replay check of a bad file: code %d, stderr %q", code, stderr)
	}
}

// TestReplayRefuses: flags that cannot do what they say are refused,
// with the flag named, before any log is read.
func TestReplayRefuses(t *testing.T) {
	const cfg = "../logreplay/testdata/replay.yaml"
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"key without --into", []string{"--secret-key-file", "/nonexistent"}, "--secret-key-file is for --into"},
		{"a key=value connection string", []string{"--into", "host=127.0.0.1 dbname=shop"}, "postgres:// URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"replay", "../logreplay/testdata/access.log.gz", "--config", cfg, "--out", t.TempDir()}, tc.args...)
			code, _, stderr := run(t, args...)
			if code == 0 || !strings.Contains(stderr, tc.want) {
				t.Errorf("code %d, stderr %q; want a refusal with %q", code, stderr, tc.want)
			}
		})
	}
}

func TestReplayInto(t *testing.T) {
	const cfg = "../logreplay/testdata/replay.yaml"
	data := t.TempDir()
	if code, _, stderr := run(t, "replay", "../logreplay/testdata/access.log.gz", "--config", cfg, "--out", "", "--into", data); code == 0 || !strings.Contains(stderr, "secret key") {
		t.Fatalf("--into without a key: code %d, stderr %q", code, stderr)
	}
	if err := os.WriteFile(filepath.Join(data, "secret.key"), bytes.Repeat([]byte{1}, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "replay", "../logreplay/testdata/access.log.gz", "--config", cfg, "--out", "", "--into", data); code != 0 {
		t.Fatalf("--into: code %d, stderr %q", code, stderr)
	}
	st, err := sqlite.Open(context.Background(), data, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if b, err := st.GetState(context.Background(), "engine"); err != nil || len(b) == 0 {
		t.Errorf("the campaign baseline in the guard's store: %d bytes, %v", len(b), err)
	}
}

func TestReplayIntoPostgres(t *testing.T) {
	const cfg = "../logreplay/testdata/replay.yaml"
	url := testserver.PostgresSchema(t)
	if code, _, stderr := run(t, "replay", "../logreplay/testdata/access.log.gz", "--config", cfg, "--out", "", "--into", url); code == 0 || !strings.Contains(stderr, "--secret-key-file") {
		t.Fatalf("--into a URL without a key: code %d, stderr %q", code, stderr)
	}
	key := filepath.Join(t.TempDir(), "secret.key")
	if err := os.WriteFile(key, bytes.Repeat([]byte{1}, 32), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, "replay", "../logreplay/testdata/access.log.gz", "--config", cfg, "--out", "", "--into", url, "--secret-key-file", key); code != 0 {
		t.Fatalf("--into %s: code %d, stderr %q", url, code, stderr)
	}
	st, err := postgres.Open(context.Background(), url, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if b, err := st.GetState(context.Background(), "engine"); err != nil || len(b) == 0 {
		t.Errorf("the campaign baseline in the guards' records: %d bytes, %v", len(b), err)
	}
}
