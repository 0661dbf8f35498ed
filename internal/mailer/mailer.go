// Package mailer sends plain-text email over SMTP (STARTTLS or implicit
// TLS, optional authentication, an extra trusted CA) for step-up codes and
// notifications alike.
package mailer

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"os"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// EnvPassword is the environment variable read for the password when
// neither Config.PasswordFile nor Config.PasswordEnv is set.
const EnvPassword = "ATOGUARD_SMTP_PASSWORD"

// TLS modes of Config.TLS.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS, which is required
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, usually port 465)
	TLSNone     = "none"     // no encryption: only for a relay on the same host
)

// Server is a mail server and the sender address used on it: the keys
// notify.smtp and stepup.smtp share. Host empty means no email.
type Server struct {
	Host         string `yaml:"host"`
	Port         int    `yaml:"port"`          // 0: New's default, 587, or 465 with tls: tls
	TLS          string `yaml:"tls"`           // starttls (default), tls or none
	Username     string `yaml:"username"`      // empty: no authentication
	PasswordFile string `yaml:"password_file"` // a file holding the password; or
	PasswordEnv  string `yaml:"password_env"`  // an environment variable holding it (New's default: ATOGUARD_SMTP_PASSWORD)
	From         string `yaml:"from"`          // e.g. "Shop <no-reply@shop.example.jp>"
	CAFile       string `yaml:"ca_file"`       // PEM CA certificates to trust besides the system's
}

// Config is the mail server email goes through, with how long one
// message may take. Host empty means no email.
type Config struct {
	Server  `yaml:",inline"`
	Timeout time.Duration `yaml:"timeout"` // per message; default 10s
}

// Enabled reports whether a mail server is configured.
func (c Config) Enabled() bool { return c.Host != "" }

// Validate reports every problem of the configuration at once; field
// names are those of the YAML under "smtp".
func (c Config) Validate(prefix string) error {
	var errs []error
	switch c.TLS {
	case "", TLSStartTLS, TLSImplicit, TLSNone:
	default:
		errs = append(errs, fmt.Errorf("%s.tls: %q is not starttls, tls or none", prefix, c.TLS))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("%s.port: %d is not a port", prefix, c.Port))
	}
	if c.Timeout < 0 {
		errs = append(errs, fmt.Errorf("%s.timeout: negative", prefix))
	}
	if c.Host != "" {
		if _, err := mail.ParseAddress(c.From); err != nil {
			errs = append(errs, fmt.Errorf("%s.from: %q is not an address (needed with %s.host)", prefix, c.From, prefix))
		}
	}
	return errors.Join(errs...)
}

// ErrRejected marks a message that can never be delivered as it is: an
// address that does not parse, or a recipient the server refuses for good
// (a 5xx answer to RCPT TO). Any other failure may pass on a later try.
var ErrRejected = errors.New("message rejected")

// rejected wraps err so that it also matches ErrRejected, its message
// unchanged.
type rejected struct{ err error }

func (r rejected) Error() string        { return r.err.Error() }
func (r rejected) Unwrap() error        { return r.err }
func (r rejected) Is(target error) bool { return target == ErrRejected }

// SMTP sends email through one mail server. It is safe for concurrent
// use; each message opens its own connection.
type SMTP struct {
	cfg      Config
	password string
	roots    *x509.CertPool // nil: the system's
}

// LogValue implements slog.LogValuer: the server, never the password.
func (s *SMTP) LogValue() slog.Value {
	return slog.GroupValue(slog.String("host", s.cfg.Host), slog.Int("port", s.cfg.Port), slog.String("tls", s.cfg.TLS))
}

// New returns a sender for cfg. The password is read from
// cfg.PasswordFile, else from the environment variable cfg.PasswordEnv
// (default EnvPassword) through getenv (nil: os.Getenv).
func New(cfg Config, getenv func(string) string) (*SMTP, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	env := cfg.PasswordEnv
	if env == "" {
		env = EnvPassword
	}
	password := getenv(env)
	if cfg.PasswordFile != "" {
		data, err := os.ReadFile(cfg.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("smtp.password_file: %w", err)
		}
		password = strings.TrimRight(string(data), "\r\n")
	}
	return NewWithPassword(cfg, password)
}

// NewWithPassword returns a sender for cfg that authenticates (when
// cfg.Username is set) with password, which the caller has read; the
// password keys of cfg are not looked at.
func NewWithPassword(cfg Config, password string) (*SMTP, error) {
	if err := cfg.Validate("smtp"); err != nil {
		return nil, err
	}
	if !cfg.Enabled() {
		return nil, errors.New("smtp: no host")
	}
	if cfg.TLS == "" {
		cfg.TLS = TLSStartTLS
	}
	if cfg.Port == 0 {
		cfg.Port = 587
		if cfg.TLS == TLSImplicit {
			cfg.Port = 465
		}
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 10 * time.Second
	}
	s := &SMTP{cfg: cfg, password: password}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("smtp.ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("smtp.ca_file: no PEM certificate in %s", cfg.CAFile)
		}
		s.roots = pool
	}
	return s, nil
}

// Message is one plain-text email to one address.
type Message struct {
	To      string
	Subject string
	Body    string
	// ID is the Message-ID, without the angle brackets; empty: a random
	// one. An id kept across retries lets the receiver drop a copy
	// delivered twice.
	ID   string
	Date time.Time // zero: when it is sent
	// Automated marks a message no person wrote (Auto-Submitted:
	// auto-generated, X-Mailer: atoguard), so that auto-responders stay
	// quiet.
	Automated bool
}

// SendMail sends a plain-text message to one address.
func (s *SMTP) SendMail(ctx context.Context, to, subject, body string) error {
	return s.Send(ctx, Message{To: to, Subject: subject, Body: body})
}

// Send sends m. A failure that retrying cannot fix wraps ErrRejected.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	msg := gomail.NewMsg(gomail.WithCharset(gomail.CharsetUTF8), gomail.WithEncoding(gomail.EncodingQP))
	if err := msg.From(s.cfg.From); err != nil {
		return rejected{fmt.Errorf("smtp: from: %w", err)}
	}
	if err := msg.To(m.To); err != nil {
		return rejected{fmt.Errorf("smtp: recipient: %w", err)}
	}
	msg.Subject(m.Subject)
	msg.SetBodyString(gomail.TypeTextPlain, m.Body)
	if m.ID != "" {
		msg.SetMessageIDWithValue(m.ID)
	}
	if !m.Date.IsZero() {
		msg.SetDateWithValue(m.Date)
	}
	if m.Automated {
		msg.SetGenHeader(gomail.HeaderXMailer, "atoguard")
		msg.SetGenHeader("Auto-Submitted", "auto-generated")
	}

	opts := []gomail.Option{
		gomail.WithPort(s.cfg.Port),
		gomail.WithTimeout(s.cfg.Timeout),
		gomail.WithTLSConfig(&tls.Config{ServerName: s.cfg.Host, RootCAs: s.roots, MinVersion: tls.VersionTLS12}),
	}
	switch s.cfg.TLS {
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	}
	if s.cfg.Username != "" {
		opts = append(opts, gomail.WithSMTPAuth(gomail.SMTPAuthAutoDiscover),
			gomail.WithUsername(s.cfg.Username), gomail.WithPassword(s.password))
	}
	c, err := gomail.NewClient(s.cfg.Host, opts...)
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		var se *gomail.SendError
		if errors.As(err, &se) && se.Reason == gomail.ErrSMTPRcptTo && !se.IsTemp() {
			return rejected{fmt.Errorf("smtp %s:%d: %w", s.cfg.Host, s.cfg.Port, err)}
		}
		return fmt.Errorf("smtp %s:%d: %w", s.cfg.Host, s.cfg.Port, err)
	}
	return nil
}
