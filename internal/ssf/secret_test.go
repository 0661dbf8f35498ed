package ssf

import (
	"os"
	"path/filepath"
	"testing"
)

// TestSecret: a token named by an environment variable or a file must
// not be empty: a peer configured with an unset variable would otherwise
// start and refuse every push with 401.
func TestSecret(t *testing.T) {
	dir := t.TempDir()
	full, empty := filepath.Join(dir, "full"), filepath.Join(dir, "empty")
	if err := os.WriteFile(full, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(empty, []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"SET": " tok ", "BLANK": ""}
	getenv := func(k string) string { return env[k] }
	for _, tc := range []struct {
		name, env, file string
		want            string
		wantErr         bool
	}{
		{"env", "SET", "", "tok", false},
		{"unset env", "UNSET", "", "", true},
		{"empty env", "BLANK", "", "", true},
		{"file", "", full, "tok", false},
		{"empty file", "", empty, "", true},
		{"missing file", "", filepath.Join(dir, "none"), "", true},
		{"none named", "", "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := secret(tc.env, tc.file, getenv)
			if got != tc.want || (err != nil) != tc.wantErr {
				t.Errorf("secret(%q, %q) = %q, %v; want %q, error %v", tc.env, tc.file, got, err, tc.want, tc.wantErr)
			}
		})
	}
}
