package backup_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/atoguard/atoguard/internal/backup"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/stepup"
	"github.com/atoguard/atoguard/internal/store/sqlite"
)

// guardData makes a data directory as a guard leaves it: records, secret
// key, factor keys.
func guardData(t *testing.T) backup.Layout {
	t.Helper()
	cfg := config.Default()
	cfg.Data = t.TempDir()
	st, err := sqlite.Open(context.Background(), cfg.Data, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	l := backup.LayoutOf(cfg, func(string) string { return "" })
	write(t, l.SecretKey, "0123456789abcdef0123456789abcdef")
	write(t, l.FactorKeys, stepup.NewKeyEntry("k1")+"\n")
	return l
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestLayoutOf(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*config.Config)
		env  string
		want backup.Layout
	}{
		{name: "defaults", want: backup.Layout{Data: "d", SecretKey: "d/secret.key", FactorKeys: "d/factor.keys", SigningKeys: "d/ssf-signing.json"}},
		{name: "files elsewhere", edit: func(c *config.Config) {
			c.SecretKeyFile, c.StepUp.EncryptionKeyFile = "/etc/atoguard/secret.key", "/etc/atoguard/factor.keys"
		}, env: "k1:x", want: backup.Layout{Data: "d", SecretKey: "/etc/atoguard/secret.key", FactorKeys: "/etc/atoguard/factor.keys", SigningKeys: "d/ssf-signing.json"}},
		{name: "factor keys in the environment", env: "k1:x", want: backup.Layout{Data: "d", SecretKey: "d/secret.key", SigningKeys: "d/ssf-signing.json"}},
	} {
		cfg := config.Default()
		cfg.Data = "d"
		if tc.edit != nil {
			tc.edit(&cfg)
		}
		getenv := func(k string) string {
			if k == stepup.EnvFactorKey {
				return tc.env
			}
			return ""
		}
		if got := backup.LayoutOf(cfg, getenv); got != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

func TestCreateAndRestore(t *testing.T) {
	ctx := context.Background()
	src := guardData(t)
	dir := filepath.Join(t.TempDir(), "new", "backup")
	rep, err := backup.Create(ctx, src, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []backup.File{{backup.RecordsName, filepath.Join(src.Data, backup.RecordsName)},
		{backup.SecretKeyName, src.SecretKey}, {backup.FactorKeysName, src.FactorKeys}}
	if len(rep.Copied) != 3 || rep.Copied[0] != want[0] || rep.Copied[1] != want[1] || rep.Copied[2] != want[2] {
		t.Errorf("copied %+v, want %+v", rep.Copied, want)
	}
	for _, f := range want {
		if fi, err := os.Stat(filepath.Join(dir, f.Name)); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s in the backup: %v %v", f.Name, err, fi)
		}
	}
	if _, err := backup.Create(ctx, src, dir); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("a second backup into the same directory: %v, want a refusal", err)
	}

	// Restore: into a fresh directory, the secret key already in place
	// (a file shared with the configuration), the factor keys from the
	// environment.
	dst := backup.Layout{Data: filepath.Join(t.TempDir(), "data"), SecretKey: filepath.Join(t.TempDir(), "secret.key")}
	write(t, dst.SecretKey, "0123456789abcdef0123456789abcdef")
	rep, err = backup.Restore(dst, dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Copied) != 1 || rep.Copied[0].Name != backup.RecordsName || len(rep.Notes) != 2 ||
		!strings.Contains(rep.Notes[0], "holds it already") || !strings.Contains(rep.Notes[1], stepup.EnvFactorKey) {
		t.Errorf("restore: %+v", rep)
	}
	st, err := sqlite.Open(ctx, dst.Data, sqlite.Options{})
	if err != nil {
		t.Fatalf("the restored records: %v", err)
	}
	_ = st.Close()
}

func TestRefusals(t *testing.T) {
	ctx := context.Background()
	src := guardData(t)
	dir := t.TempDir()
	if _, err := backup.Create(ctx, src, dir); err != nil {
		t.Fatal(err)
	}
	fresh := func() backup.Layout {
		d := t.TempDir()
		return backup.Layout{Data: d, SecretKey: filepath.Join(d, "secret.key"), FactorKeys: filepath.Join(d, "factor.keys")}
	}
	for _, tc := range []struct {
		name    string
		restore bool // Restore from dir into the layout, else Create from it into dir
		layout  func() backup.Layout
		dir     func() string
		want    []string
	}{
		{name: "no records to back up", layout: fresh, dir: func() string { return filepath.Join(t.TempDir(), "b") }, want: []string{"no records"}},
		{name: "no secret key to back up", layout: func() backup.Layout { l := guardData(t); l.SecretKey += ".gone"; return l },
			dir: func() string { return filepath.Join(t.TempDir(), "b") }, want: []string{"backing up the secret key"}},
		{name: "into a file", layout: func() backup.Layout { return src }, dir: func() string { return src.SecretKey }, want: []string{"backup directory"}},
		{name: "restore over another guard's", restore: true, layout: func() backup.Layout { return guardData(t) }, dir: func() string { return dir },
			want: []string{"holds atoguard.db: restore into a fresh data directory", "factor.keys exists and differs from the backup's factor.keys"}},
		{name: "restore from nothing", restore: true, layout: fresh, dir: func() string { return t.TempDir() },
			want: []string{"backup: stat", "atoguard.db", "secret.key"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, d := tc.layout(), tc.dir()
			var err error
			if tc.restore {
				_, err = backup.Restore(l, d)
			} else {
				_, err = backup.Create(ctx, l, d)
				if entries, _ := os.ReadDir(d); len(entries) > 0 && tc.name != "into a file" {
					t.Errorf("a failed backup left %d files", len(entries))
				}
			}
			for _, w := range tc.want {
				if err == nil || !strings.Contains(err.Error(), w) {
					t.Errorf("error %v, want %q in it", err, w)
				}
			}
		})
	}
}

// TestSigningKeys: the federation's signing keys, when a guard made them,
// are backed up and restored with the other keys.
func TestSigningKeys(t *testing.T) {
	src := guardData(t)
	write(t, src.SigningKeys, `{"keys":[]}`)
	dir := filepath.Join(t.TempDir(), "backup")
	rep, err := backup.Create(context.Background(), src, dir)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(rep.Copied); n != 4 || rep.Copied[3] != (backup.File{Name: backup.SigningKeysName, Path: src.SigningKeys}) {
		t.Fatalf("copied %+v, want the signing keys last", rep.Copied)
	}
	data := filepath.Join(t.TempDir(), "data")
	dst := backup.Layout{Data: data, SecretKey: filepath.Join(data, "secret.key"), SigningKeys: filepath.Join(data, backup.SigningKeysName)}
	if _, err := backup.Restore(dst, dir); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(dst.SigningKeys); err != nil || string(got) != `{"keys":[]}` {
		t.Errorf("restored signing keys: %q, %v", got, err)
	}
}
