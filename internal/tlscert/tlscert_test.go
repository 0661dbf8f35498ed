package tlscert_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/tlscert"
	"github.com/atoguard/atoguard/internal/tlscert/tlscerttest"
)

// TestReload replaces, breaks and removes the files under a Reloader and
// checks which certificate it serves at each step.
func TestReload(t *testing.T) {
	certFile, keyFile := tlscerttest.Files(t)
	dir := filepath.Dir(certFile)
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	certs := map[string]*x509.Certificate{}
	// write puts a new pair named name in place, modified at mod.
	write := func(name string, mod time.Time) {
		certs[name] = tlscerttest.WritePair(t, certFile, keyFile, name, t0)
		tlscerttest.Touch(t, mod, certFile, keyFile)
	}
	write("first", t0.Add(-time.Hour))
	var logs bytes.Buffer
	r, err := tlscert.New(certFile, keyFile, 5*time.Second, slog.New(slog.NewTextHandler(&logs, nil)), t0)
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Config(); c.MinVersion != tls.VersionTLS12 || c.GetCertificate == nil {
		t.Errorf("config: min version %x, GetCertificate %v", c.MinVersion, c.GetCertificate != nil)
	}
	for _, step := range []struct {
		name   string
		change func()
		at     time.Duration // after t0
		want   string        // the certificate served
		log    string        // in the log since the last step
	}{
		{name: "unchanged", at: 10 * time.Second, want: "first"},
		{name: "renewed, not yet looked at", change: func() { write("second", t0.Add(11*time.Second)) }, at: 12 * time.Second, want: "first"},
		{name: "renewed, looked at", at: 15 * time.Second, want: "second", log: "TLS certificate reloaded"},
		{name: "half written", change: func() {
			if err := os.WriteFile(certFile, []byte("-----BEGIN CERT"), 0o600); err != nil {
				t.Fatal(err)
			}
			tlscerttest.Touch(t, t0.Add(16*time.Second), certFile)
		}, at: 21 * time.Second, want: "second", log: "not reloaded"},
		{name: "broken, unchanged, not logged again", at: 30 * time.Second, want: "second"},
		{name: "key of another pair", change: func() {
			other := filepath.Join(dir, "other.pem")
			tlscerttest.WritePair(t, certFile, other, "third", t0)
			tlscerttest.Touch(t, t0.Add(31*time.Second), certFile)
		}, at: 40 * time.Second, want: "second", log: "private key does not match"},
		{name: "fixed", change: func() { write("fourth", t0.Add(41*time.Second)) }, at: 50 * time.Second, want: "fourth", log: "reloaded"},
		{name: "removed", change: func() {
			if err := os.Remove(keyFile); err != nil {
				t.Fatal(err)
			}
		}, at: 60 * time.Second, want: "fourth", log: "no such file"},
	} {
		if step.change != nil {
			step.change()
		}
		logs.Reset()
		got := r.Certificate(t0.Add(step.at))
		if got.Leaf == nil || got.Leaf.Subject.CommonName != step.want {
			t.Errorf("%s: serving %v, want %s", step.name, got.Leaf.Subject, step.want)
		}
		if step.log == "" && logs.Len() > 0 || !strings.Contains(logs.String(), step.log) {
			t.Errorf("%s: log %q, want %q", step.name, logs.String(), step.log)
		}
	}
}

func TestNewFails(t *testing.T) {
	certFile, keyFile := tlscerttest.Files(t)
	if _, err := tlscert.New(certFile, keyFile, 0, slog.New(slog.DiscardHandler), time.Now()); err == nil ||
		!strings.Contains(err.Error(), certFile) {
		t.Errorf("New without files: %v, want an error naming %s", err, certFile)
	}
}
