package guard

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/tlscert/tlscerttest"
)

// TestTLS serves a guard over TLS with a self-signed certificate for
// 127.0.0.1: a client trusting it gets answers, the dashboard sends HSTS
// and Secure cookies, TLS 1.1 is refused, and a renewed pair written over
// the files is served without a restart.
func TestTLS(t *testing.T) {
	certFile, keyFile := tlscerttest.Files(t)
	first := tlscerttest.WritePair(t, certFile, keyFile, "first", time.Now())
	cfg := config.Default()
	cfg.Data, cfg.Listen = t.TempDir(), "127.0.0.1:0"
	cfg.TLS = config.TLS{CertFile: certFile, KeyFile: keyFile}
	g, logs := startGuard(t, cfg, Options{BootstrapKey: multiBootstrap, CertCheckEvery: 50 * time.Millisecond})
	if !strings.HasPrefix(g.URL(), "https://127.0.0.1:") {
		t.Errorf("URL %s, want https", g.URL())
	}

	// get fetches path with a fresh connection from a client trusting
	// roots and returns the answer and the certificate the guard showed.
	get := func(path string, roots ...*x509.Certificate) (*http.Response, *x509.Certificate, error) {
		c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true,
			TLSClientConfig: &tls.Config{RootCAs: tlscerttest.Pool(roots...)}}}
		resp, err := c.Get(g.URL() + path)
		if err != nil {
			return nil, nil, err
		}
		resp.Body.Close()
		return resp, resp.TLS.PeerCertificates[0], nil
	}
	resp, cert, err := get("/readyz", first)
	if err != nil || resp.StatusCode != 200 || !cert.Equal(first) {
		t.Fatalf("GET /readyz over TLS: %v %v", resp, err)
	}
	resp, _, err = get("/ui/login", first)
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); !strings.HasPrefix(got, "max-age=") {
		t.Errorf("dashboard over TLS: Strict-Transport-Security %q", got)
	}
	if cs := resp.Cookies(); len(cs) == 0 || !cs[0].Secure {
		t.Errorf("dashboard over TLS: cookies %v, want Secure", cs)
	}
	old := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: tlscerttest.Pool(first), MaxVersion: tls.VersionTLS11}}}
	if _, err := old.Get(g.URL() + "/healthz"); err == nil {
		t.Error("TLS 1.1 accepted")
	}

	// Renewal: a new pair over the files, then a half-written one, which
	// leaves the new pair served.
	second := tlscerttest.WritePair(t, certFile, keyFile, "second", time.Now())
	tlscerttest.Touch(t, time.Now().Add(time.Minute), certFile, keyFile)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, cert, err := get("/healthz", first, second)
		if err == nil && cert.Equal(second) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving %v (%v) 10 s after the renewal\n%s", cert.Subject, err, logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := os.WriteFile(certFile, []byte("-----BEGIN"), 0o600); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(logs.String(), "TLS certificate not reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("a broken certificate file was not logged\n%s", logs)
		}
		_, _, _ = get("/healthz", second)
		time.Sleep(20 * time.Millisecond)
	}
	if _, cert, err := get("/healthz", second); err != nil || !cert.Equal(second) {
		t.Errorf("after a broken renewal: %v, %v; want the second certificate served on", cert, err)
	}
}
