// Package tlscert serves a TLS certificate and key pair from files and
// picks up a renewed pair without a restart: the files are looked at, at
// most every few seconds, and read again when they changed. A pair that
// does not load (a half-written renewal, a key that does not match) is
// logged and the pair that did is served on.
package tlscert

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// DefaultCheckEvery is how often the files are looked at when New is
// given zero.
const DefaultCheckEvery = 5 * time.Second

// Reloader serves the pair in two files; safe for concurrent use.
type Reloader struct {
	certFile, keyFile string
	every             time.Duration
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate // the pair served
	tried   stamp            // the files as they were when last read
	checked time.Time        // when the files were last looked at
}

// stamp is what tells that the files changed: modification times and
// sizes, or the error of looking at them.
type stamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
	err               string
}

// New loads the pair in certFile and keyFile, which must load, and looks
// at them again at most every checkEvery (0: DefaultCheckEvery) from now.
func New(certFile, keyFile string, checkEvery time.Duration, log *slog.Logger, now time.Time) (*Reloader, error) {
	if checkEvery <= 0 {
		checkEvery = DefaultCheckEvery
	}
	r := &Reloader{certFile: certFile, keyFile: keyFile, every: checkEvery, log: log, checked: now}
	r.tried = r.stat()
	cert, err := r.load()
	if err != nil {
		return nil, err
	}
	r.cert = cert
	log.Info("TLS certificate loaded", describe(cert)...)
	return r, nil
}

// Config returns a server configuration serving the pair, TLS 1.2 at
// least.
func (r *Reloader) Config() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: r.GetCertificate}
}

// GetCertificate is tls.Config.GetCertificate: the current pair.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return r.Certificate(time.Now()), nil
}

// Certificate returns the pair to serve at now, reading the files again
// when more than the check interval has passed since they were last
// looked at and they changed since they were last read.
func (r *Reloader) Certificate(now time.Time) *tls.Certificate {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now.Sub(r.checked) < r.every {
		return r.cert
	}
	r.checked = now
	st := r.stat()
	if st == r.tried {
		return r.cert
	}
	r.tried = st
	cert, err := r.load()
	if err != nil {
		r.log.Error("TLS certificate not reloaded; serving the previous one", append(describe(r.cert), "err", err)...)
		return r.cert
	}
	r.cert = cert
	r.log.Info("TLS certificate reloaded", describe(cert)...)
	return r.cert
}

func (r *Reloader) stat() stamp {
	c, err := os.Stat(r.certFile)
	if err != nil {
		return stamp{err: err.Error()}
	}
	k, err := os.Stat(r.keyFile)
	if err != nil {
		return stamp{err: err.Error()}
	}
	return stamp{certMod: c.ModTime(), keyMod: k.ModTime(), certSize: c.Size(), keySize: k.Size()}
}

func (r *Reloader) load() (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading TLS certificate %s and key %s: %w", r.certFile, r.keyFile, err)
	}
	return &cert, nil
}

// describe returns the log attributes of cert: subject and expiry.
func describe(cert *tls.Certificate) []any {
	leaf := cert.Leaf
	if leaf == nil && len(cert.Certificate) > 0 {
		leaf, _ = x509.ParseCertificate(cert.Certificate[0]) // LoadX509KeyPair parsed it already
	}
	if leaf == nil {
		return nil
	}
	return []any{"subject", leaf.Subject.String(), "not_after", leaf.NotAfter.UTC().Format(time.RFC3339)}
}
