package cli_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/ssf"
)

func TestFederationRotateKey(t *testing.T) {
	data := t.TempDir()
	if code, _, stderr := run(t, "federation", "keys", "--data", data); code == 0 {
		t.Errorf("keys without a key file: exit 0, stderr %q", stderr)
	}
	if _, _, err := ssf.LoadKeys(filepath.Join(data, ssf.KeyFileName), time.Now()); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, "federation", "rotate-key", "--data", data)
	if code != 0 || !strings.Contains(stdout, "current signing key: ") {
		t.Fatalf("rotate-key: exit %d, %q %q", code, stdout, stderr)
	}
	newID := strings.TrimSpace(strings.TrimPrefix(stdout, "current signing key: "))
	code, stdout, _ = run(t, "federation", "keys", "--data", data)
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if code != 0 || len(lines) != 3 || !strings.HasPrefix(lines[1], newID) || !strings.HasSuffix(lines[1], "current") || strings.HasSuffix(lines[2], "current") {
		t.Errorf("keys after a rotation: exit %d\n%s", code, stdout)
	}
	if code, _, _ := run(t, "federation", "rotate-key", "--data", data, "--keep", "0s"); code != 0 {
		t.Fatal("second rotation failed")
	}
	if _, stdout, _ := run(t, "federation", "keys", "--data", data); strings.Count(stdout, "\n") != 2 {
		t.Errorf("with --keep 0s the retired keys are dropped:\n%s", stdout)
	}
}
