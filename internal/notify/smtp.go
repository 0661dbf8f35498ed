// Package notify sends messages to people: email over SMTP (one-time
// codes now; owner and operator notifications later).
package notify

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

// EnvSMTPPassword is the environment variable that may hold the SMTP
// password (instead of SMTPConfig.PasswordFile).
const EnvSMTPPassword = "ATOGUARD_SMTP_PASSWORD"

// TLS modes of SMTPConfig.TLS.
const (
	TLSStartTLS = "starttls" // plain connection upgraded with STARTTLS, which is required
	TLSImplicit = "tls"      // TLS from the first byte (SMTPS, usually port 465)
	TLSNone     = "none"     // no encryption: only for a relay on the same host
)

// SMTPConfig is the mail server email goes through. Host empty means no
// email.
type SMTPConfig struct {
	Host         string        `yaml:"host"`
	Port         int           `yaml:"port"`          // default 587, or 465 with tls: tls
	TLS          string        `yaml:"tls"`           // starttls (default), tls or none
	Username     string        `yaml:"username"`      // empty: no authentication
	PasswordFile string        `yaml:"password_file"` // empty: ATOGUARD_SMTP_PASSWORD
	From         string        `yaml:"from"`          // e.g. "Shop <no-reply@shop.example.jp>"
	CAFile       string        `yaml:"ca_file"`       // PEM CA certificates to trust besides the system's
	Timeout      time.Duration `yaml:"timeout"`       // per message; default 10s
}

// Enabled reports whether a mail server is configured.
func (c SMTPConfig) Enabled() bool { return c.Host != "" }

// Validate reports every problem of the configuration at once; field
// names are those of the YAML under "smtp".
func (c SMTPConfig) Validate() error {
	var errs []error
	switch c.TLS {
	case "", TLSStartTLS, TLSImplicit, TLSNone:
	default:
		errs = append(errs, fmt.Errorf("smtp.tls: %q is not starttls, tls or none", c.TLS))
	}
	if c.Port < 0 || c.Port > 65535 {
		errs = append(errs, fmt.Errorf("smtp.port: %d is not a port", c.Port))
	}
	if c.Timeout < 0 {
		errs = append(errs, errors.New("smtp.timeout: negative"))
	}
	if c.Host != "" {
		if _, err := mail.ParseAddress(c.From); err != nil {
			errs = append(errs, fmt.Errorf("smtp.from: %q is not an address (needed with smtp.host)", c.From))
		}
	}
	return errors.Join(errs...)
}

// SMTP sends email through one mail server. It is safe for concurrent
// use; each message opens its own connection.
type SMTP struct {
	cfg      SMTPConfig
	password string
	roots    *x509.CertPool // nil: the system's
}

// LogValue implements slog.LogValuer: the server, never the password.
func (s *SMTP) LogValue() slog.Value {
	return slog.GroupValue(slog.String("host", s.cfg.Host), slog.Int("port", s.cfg.Port), slog.String("tls", s.cfg.TLS))
}

// NewSMTP returns a sender for cfg. getenv reads ATOGUARD_SMTP_PASSWORD
// when no password file is set (nil: os.Getenv).
func NewSMTP(cfg SMTPConfig, getenv func(string) string) (*SMTP, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled() {
		return nil, errors.New("smtp: no host")
	}
	if getenv == nil {
		getenv = os.Getenv
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
	s := &SMTP{cfg: cfg, password: getenv(EnvSMTPPassword)}
	if cfg.PasswordFile != "" {
		data, err := os.ReadFile(cfg.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("smtp.password_file: %w", err)
		}
		s.password = strings.TrimRight(string(data), "\r\n")
	}
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
			return nil, fmt.Errorf("smtp.ca_file %s: no PEM certificate", cfg.CAFile)
		}
		s.roots = pool
	}
	return s, nil
}

// SendMail sends a plain-text message to one address.
func (s *SMTP) SendMail(ctx context.Context, to, subject, body string) error {
	msg := gomail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return fmt.Errorf("smtp: from: %w", err)
	}
	if err := msg.To(to); err != nil {
		return fmt.Errorf("smtp: recipient: %w", err)
	}
	msg.Subject(subject)
	msg.SetBodyString(gomail.TypeTextPlain, body)

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
		return fmt.Errorf("smtp %s:%d: %w", s.cfg.Host, s.cfg.Port, err)
	}
	return nil
}
