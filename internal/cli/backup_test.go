package cli_test

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestBackupRestoreCommands backs up a guard's data directory and
// restores it with the commands, which say what they copied.
func TestBackupRestoreCommands(t *testing.T) {
	data := t.TempDir()
	s := startServe(t, "", "--data", data) // records and keys are made on first start
	dir := filepath.Join(t.TempDir(), "backup")
	restored := filepath.Join(t.TempDir(), "restored")
	pg := map[string]string{"ATOGUARD_RECORDS": "postgres://atoguard@127.0.0.1/atoguard"}
	for _, tc := range []struct {
		name       string
		env        map[string]string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr string
	}{
		{name: "backup while serving", args: []string{"backup", dir, "--data", data}, wantStdout: []string{
			"backed up " + data + " into " + dir + ":",
			"  atoguard.db  from " + filepath.Join(data, "atoguard.db"),
			"  secret.key   from " + filepath.Join(data, "secret.key"),
			"  factor.keys  from " + filepath.Join(data, "factor.keys"),
			"not copied: the breached-password index (" + filepath.Join(data, "passwords"),
			"WARNING: this backup holds secrets",
		}},
		{name: "backup into a used directory", args: []string{"backup", dir, "--data", data}, wantCode: 1, wantStderr: "is not empty"},
		{name: "backup of PostgreSQL", env: pg, args: []string{"backup", t.TempDir(), "--data", data}, wantCode: 1, wantStderr: "pg_dump"},
		{name: "restore into the running guard's", args: []string{"restore", dir, "--data", data}, wantCode: 1,
			wantStderr: "restore into a fresh data directory"},
		{name: "restore", args: []string{"restore", dir, "--data", restored}, wantStdout: []string{
			"restored " + dir + " into " + restored + ":",
			"  atoguard.db  to " + filepath.Join(restored, "atoguard.db"),
			"  factor.keys  to " + filepath.Join(restored, "factor.keys"),
			"start the guard: atoguard serve --data " + restored,
		}},
		{name: "restore of PostgreSQL", env: pg, args: []string{"restore", dir, "--data", t.TempDir()}, wantCode: 1, wantStderr: "pg_restore"},
		{name: "backup needs DIR", args: []string{"backup"}, wantCode: 1, wantStderr: "accepts 1 arg"},
	} {
		code, stdout, stderr := runEnv(t, tc.env, tc.args...)
		if code != tc.wantCode || !strings.Contains(stderr, tc.wantStderr) {
			t.Errorf("%s: exit %d, stderr %q; want %d and %q", tc.name, code, stderr, tc.wantCode, tc.wantStderr)
		}
		for _, w := range tc.wantStdout {
			if !strings.Contains(stdout, w) {
				t.Errorf("%s: stdout lacks %q:\n%s", tc.name, w, stdout)
			}
		}
	}
	if code := s.stop(t); code != 0 {
		t.Errorf("serve exited with %d\n%s", code, s.stderr)
	}
	s2 := startServe(t, "", "--data", restored)
	if code := s2.stop(t); code != 0 {
		t.Errorf("serve on the restored data exited with %d\n%s", code, s2.stderr)
	}
}
