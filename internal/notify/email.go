package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/wneessen/go-mail"

	"github.com/atoguard/atoguard/internal/store"
)

// emailSender mails notifications through one SMTP server, one session
// per message.
type emailSender struct {
	host     string
	port     int
	mode     string // starttls, tls or none
	tls      *tls.Config
	username string
	password secret
	from     string
	timeout  time.Duration
}

func newEmailSender(cfg SMTPConfig, timeout time.Duration, getenv func(string) string) (*emailSender, error) {
	e := &emailSender{
		host: cfg.Host, port: cfg.Port, mode: cfg.TLS, username: cfg.Username, from: cfg.From, timeout: timeout,
		tls: &tls.Config{ServerName: cfg.Host, MinVersion: tls.VersionTLS12},
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("notify.smtp.ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("notify.smtp.ca_file: no PEM certificate in %s", cfg.CAFile)
		}
		e.tls.RootCAs = pool
	}
	if cfg.Username != "" {
		pw, err := loadSecret("notify.smtp", cfg.PasswordFile, cfg.PasswordEnv, getenv)
		if err != nil {
			return nil, err
		}
		e.password = pw
	}
	return e, nil
}

// send mails n's payload to n.Recipient. A recipient the server refuses
// for good (a 5xx answer to RCPT TO) or an address that cannot be parsed
// is a permanent failure; anything else is tried again later.
func (e *emailSender) send(ctx context.Context, n store.Notification, now time.Time) error {
	var p Payload
	if err := json.Unmarshal(n.Payload, &p); err != nil {
		return permanent(fmt.Errorf("decoding payload: %w", err))
	}
	m := mail.NewMsg(mail.WithCharset(mail.CharsetUTF8), mail.WithEncoding(mail.EncodingQP))
	if err := m.From(e.from); err != nil {
		return permanent(fmt.Errorf("from address: %w", err))
	}
	if err := m.To(n.Recipient); err != nil {
		return permanent(fmt.Errorf("recipient address: %w", err))
	}
	m.Subject(p.Subject)
	m.SetBodyString(mail.TypeTextPlain, p.Text)
	// The id is the same on every retry, so a receiving system can drop a
	// copy delivered twice.
	m.SetMessageIDWithValue(n.ID + "@atoguard")
	m.SetDateWithValue(now)
	m.SetGenHeader(mail.HeaderXMailer, "atoguard")
	m.SetGenHeader("Auto-Submitted", "auto-generated")

	opts := []mail.Option{mail.WithPort(e.port), mail.WithTimeout(e.timeout), mail.WithTLSConfig(e.tls)}
	switch e.mode {
	case "tls":
		opts = append(opts, mail.WithSSL())
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if e.username != "" {
		// Over TLS only (configuration refuses credentials with none).
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(e.username), mail.WithPassword(string(e.password.b)))
	}
	c, err := mail.NewClient(e.host, opts...)
	if err != nil {
		return fmt.Errorf("smtp client: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		var se *mail.SendError
		if errors.As(err, &se) && se.Reason == mail.ErrSMTPRcptTo && !se.IsTemp() {
			return permanent(fmt.Errorf("smtp: %w", err))
		}
		return fmt.Errorf("smtp: %w", err)
	}
	return nil
}
