package notify

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
)

const (
	smtpUser     = "atoguard"
	smtpPassword = "s3cret-smtp-pässword"
)

// sink is an SMTP server on 127.0.0.1 that keeps what it receives.
type sink struct {
	auth   bool   // require AUTH PLAIN with smtpUser / smtpPassword
	reject string // a recipient refused with 550

	mu   sync.Mutex
	msgs []received
}

type received struct {
	from   string
	to     []string
	data   []byte
	tls    bool
	authed bool
}

func (s *sink) NewSession(c *smtp.Conn) (smtp.Session, error) { return &session{sink: s, conn: c}, nil }

func (s *sink) received() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs)
}

type session struct {
	sink   *sink
	conn   *smtp.Conn
	authed bool
	cur    received
}

func (s *session) AuthMechanisms() []string {
	if !s.sink.auth {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *session) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != smtpUser || pass != smtpPassword {
			return errors.New("invalid credentials")
		}
		s.authed = true
		return nil
	}), nil
}

func (s *session) Mail(from string, _ *smtp.MailOptions) error {
	if s.sink.auth && !s.authed {
		return smtp.ErrAuthRequired
	}
	s.cur = received{from: from}
	return nil
}

func (s *session) Rcpt(to string, _ *smtp.RcptOptions) error {
	if to == s.sink.reject {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such user"}
	}
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *session) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.cur.data, s.cur.tls, s.cur.authed = data, isTLS, s.authed
	s.sink.mu.Lock()
	s.sink.msgs = append(s.sink.msgs, s.cur)
	s.sink.mu.Unlock()
	return nil
}

func (s *session) Reset()        { s.cur = received{} }
func (s *session) Logout() error { return nil }

// selfSigned returns a certificate for 127.0.0.1 and the path of its PEM,
// to be trusted as smtp.ca_file.
func selfSigned(t *testing.T) (tls.Certificate, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "atoguard test relay"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, path
}

// startSink serves s on 127.0.0.1: plain (offering STARTTLS when cert is
// given) or, with implicit, TLS from the first byte. It returns the port.
func startSink(t *testing.T, s *sink, cert *tls.Certificate, implicit bool) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(s)
	srv.Domain = "sink.test"
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	if cert != nil {
		cfg := &tls.Config{Certificates: []tls.Certificate{*cert}, MinVersion: tls.VersionTLS12}
		if implicit {
			ln = tls.NewListener(ln, cfg)
		} else {
			srv.TLSConfig = cfg
		}
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return ln.Addr().(*net.TCPAddr).Port
}

func smtpGetenv(k string) string {
	if k == "SMTP_PASSWORD" {
		return smtpPassword
	}
	return getenv(k)
}

// emailConfig sends mail only, through 127.0.0.1:port.
func emailConfig(port int, mode, caFile string, auth bool) Config {
	c := Config{
		SiteName: "Example Mobile",
		SMTP: SMTPConfig{Host: "127.0.0.1", Port: port, TLS: mode, CAFile: caFile,
			From: "Example Mobile <security@example.jp>"},
		SendTimeout: 10 * time.Second,
	}
	if auth {
		c.SMTP.Username, c.SMTP.PasswordEnv = smtpUser, "SMTP_PASSWORD"
	}
	return c
}

// decoded is a received message with its subject and body decoded.
type decoded struct {
	to, from, subject, messageID, body string
}

func decode(t *testing.T, r received) decoded {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(r.data))
	if err != nil {
		t.Fatalf("reading message: %v\n%s", err, r.data)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("subject: %v", err)
	}
	var body []byte
	if m.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
		body, err = io.ReadAll(quotedprintable.NewReader(m.Body))
	} else {
		body, err = io.ReadAll(m.Body)
	}
	if err != nil {
		t.Fatalf("body: %v", err)
	}
	if ct := m.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || !strings.Contains(strings.ToLower(ct), "utf-8") {
		t.Errorf("Content-Type %q", ct)
	}
	return decoded{to: m.Header.Get("To"), from: m.Header.Get("From"), subject: subject,
		messageID: m.Header.Get("Message-Id"), body: string(body)}
}

func newEmailDispatcher(t *testing.T, cfg Config, st Outbox, logs *bytes.Buffer) *Dispatcher {
	t.Helper()
	d, err := newDispatcher(cfg, st, testLogger(logs), smtpGetenv)
	if err != nil {
		t.Fatalf("newDispatcher: %v", err)
	}
	return d
}

// TestEmailEndToEnd mails the owner notifications of a taken-over account
// through an SMTP server on 127.0.0.1, in each TLS mode: both the address
// before the change and the current one receive them.
func TestEmailEndToEnd(t *testing.T) {
	cert, caFile := selfSigned(t)
	tests := []struct {
		name     string
		mode     string
		auth     bool
		implicit bool
	}{
		{name: "plain relay", mode: "none"},
		{name: "STARTTLS with AUTH", mode: "starttls", auth: true},
		{name: "implicit TLS with AUTH", mode: "tls", auth: true, implicit: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &sink{auth: tt.auth}
			var c *tls.Certificate
			if tt.mode != "none" {
				c = &cert
			}
			port := startSink(t, s, c, tt.implicit)
			cfg := emailConfig(port, tt.mode, caFile, tt.auth)
			p, err := NewPlanner(cfg)
			if err != nil {
				t.Fatal(err)
			}
			o := Owner{Account: "u-1042"}
			o.Contacts.Observe("taro@example.jp", start.Add(-30*24*time.Hour))
			o.Contacts.Observe("attacker@example.net", start.Add(-time.Hour))
			owed := p.NewDeviceLogin(o, Login{Ref: "ev_1", At: start, Decision: "allow", NewDevice: true, IP: "203.0.113.7"}, time.Now())

			st := memory.New()
			if err := st.Write(t.Context(), store.Batch{Notifications: owed}); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			d := newEmailDispatcher(t, cfg, st, &logs)
			if n, err := d.DispatchDue(t.Context()); err != nil || n != 2 {
				t.Fatalf("DispatchDue = %d, %v; want 2", n, err)
			}
			for _, n := range list(t, st, "") {
				if n.State != store.NotificationSent {
					t.Errorf("%s to %s: %s, %q", n.ID, n.Recipient, n.State, n.LastError)
				}
			}
			got := s.received()
			if len(got) != 2 {
				t.Fatalf("the sink received %d messages, want 2", len(got))
			}
			var to []string
			for _, r := range got {
				if r.tls != (tt.mode != "none") || r.authed != tt.auth || r.from != "security@example.jp" || len(r.to) != 1 {
					t.Errorf("envelope: from %q to %q, TLS %v, authenticated %v", r.from, r.to, r.tls, r.authed)
				}
				to = append(to, r.to...)
				m := decode(t, r)
				if m.to != "<"+r.to[0]+">" && m.to != r.to[0] {
					t.Errorf("To %q, envelope %q", m.to, r.to)
				}
				if !strings.Contains(m.from, "security@example.jp") {
					t.Errorf("From %q", m.from)
				}
				if m.subject != "新しい端末からログインがありました / New sign-in to your account" {
					t.Errorf("Subject %q", m.subject)
				}
				for _, s := range []string{"Example Mobileのアカウントに", "203.0.113.7", "There was a sign-in to your Example Mobile account"} {
					if !strings.Contains(m.body, s) {
						t.Errorf("body lacks %q:\n%s", s, m.body)
					}
				}
				if !strings.HasPrefix(m.messageID, "<ntf_") || !strings.HasSuffix(m.messageID, "@atoguard>") {
					t.Errorf("Message-Id %q", m.messageID)
				}
			}
			slices.Sort(to)
			if want := []string{"attacker@example.net", "taro@example.jp"}; !slices.Equal(to, want) {
				t.Errorf("delivered to %q, want %q", to, want)
			}
			if strings.Contains(logs.String(), smtpPassword) || strings.Contains(logs.String(), "taro@example.jp") {
				t.Errorf("logs carry the password or an address:\n%s", logs.String())
			}
		})
	}
}

// TestEmailFailures: a refused mailbox is final; a server that does not
// offer STARTTLS is not sent to in clear; bad credentials are retried; the
// password appears nowhere.
func TestEmailFailures(t *testing.T) {
	cert, caFile := selfSigned(t)
	note := func(id, to string) store.Notification {
		return store.Notification{ID: id, Kind: KindOrder, Channel: store.ChannelEmail, Recipient: to,
			Payload: []byte(`{"subject":"s","text":"t"}`), CreatedAt: time.Now(), State: store.NotificationPending}
	}

	t.Run("mailbox refused", func(t *testing.T) {
		s := &sink{reject: "gone@example.jp"}
		cfg := emailConfig(startSink(t, s, nil, false), "none", "", false)
		st := memory.New()
		if err := st.Write(t.Context(), store.Batch{Notifications: []store.Notification{note("n-1", "gone@example.jp"), note("n-2", "ok@example.jp")}}); err != nil {
			t.Fatal(err)
		}
		if _, err := newEmailDispatcher(t, cfg, st, nil).DispatchDue(t.Context()); err != nil {
			t.Fatal(err)
		}
		for _, n := range list(t, st, "") {
			switch n.ID {
			case "n-1":
				if n.State != store.NotificationFailed || !strings.Contains(n.LastError, "550") {
					t.Errorf("refused mailbox: %s, %q", n.State, n.LastError)
				}
			case "n-2":
				if n.State != store.NotificationSent {
					t.Errorf("other mailbox: %s, %q", n.State, n.LastError)
				}
			}
		}
	})

	t.Run("STARTTLS required but not offered", func(t *testing.T) {
		s := &sink{}
		cfg := emailConfig(startSink(t, s, nil, false), "starttls", caFile, true)
		st := memory.New()
		if err := st.Write(t.Context(), store.Batch{Notifications: []store.Notification{note("n-1", "a@example.jp")}}); err != nil {
			t.Fatal(err)
		}
		if _, err := newEmailDispatcher(t, cfg, st, nil).DispatchDue(t.Context()); err != nil {
			t.Fatal(err)
		}
		n := list(t, st, "")[0]
		if n.State != store.NotificationPending || !strings.Contains(n.LastError, "STARTTLS") || len(s.received()) != 0 {
			t.Errorf("without STARTTLS: %s, %q, %d received", n.State, n.LastError, len(s.received()))
		}
	})

	t.Run("untrusted certificate", func(t *testing.T) {
		s := &sink{auth: true}
		cfg := emailConfig(startSink(t, s, &cert, false), "starttls", "", true) // no ca_file
		st := memory.New()
		if err := st.Write(t.Context(), store.Batch{Notifications: []store.Notification{note("n-1", "a@example.jp")}}); err != nil {
			t.Fatal(err)
		}
		if _, err := newEmailDispatcher(t, cfg, st, nil).DispatchDue(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n := list(t, st, "")[0]; n.State != store.NotificationPending || !strings.Contains(n.LastError, "certificate") {
			t.Errorf("untrusted certificate: %s, %q", n.State, n.LastError)
		}
	})

	t.Run("wrong password", func(t *testing.T) {
		s := &sink{auth: true}
		cfg := emailConfig(startSink(t, s, &cert, false), "starttls", caFile, true)
		cfg.SMTP.PasswordEnv = ""
		cfg.SMTP.PasswordFile = filepath.Join(t.TempDir(), "pw")
		if err := os.WriteFile(cfg.SMTP.PasswordFile, []byte("not-"+smtpPassword+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		st := memory.New()
		if err := st.Write(t.Context(), store.Batch{Notifications: []store.Notification{note("n-1", "a@example.jp")}}); err != nil {
			t.Fatal(err)
		}
		var logs bytes.Buffer
		if _, err := newEmailDispatcher(t, cfg, st, &logs).DispatchDue(t.Context()); err != nil {
			t.Fatal(err)
		}
		n := list(t, st, "")[0]
		if n.State != store.NotificationPending || !strings.Contains(n.LastError, "AUTH") {
			t.Errorf("wrong password: %s, %q", n.State, n.LastError)
		}
		if strings.Contains(n.LastError+logs.String(), smtpPassword) {
			t.Errorf("the password leaked: %q\n%s", n.LastError, logs.String())
		}
	})
}
