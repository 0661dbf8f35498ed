package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/atoguard/atoguard/internal/mailer"
	"github.com/atoguard/atoguard/internal/store"
)

// emailSender mails notifications through one SMTP server, one session
// per message.
type emailSender struct {
	smtp *mailer.SMTP
}

func newEmailSender(cfg SMTPConfig, timeout time.Duration, getenv func(string) string) (*emailSender, error) {
	var pw secret
	if cfg.Username != "" {
		var err error
		if pw, err = loadSecret("notify.smtp", cfg.PasswordFile, cfg.PasswordEnv, getenv); err != nil {
			return nil, err
		}
	}
	m, err := mailer.NewWithPassword(mailer.Config{Server: cfg, Timeout: timeout}, string(pw.b))
	if err != nil {
		return nil, fmt.Errorf("notify.%w", err)
	}
	return &emailSender{smtp: m}, nil
}

// send mails n's payload to n.Recipient. A recipient the server refuses
// for good (a 5xx answer to RCPT TO) or an address that cannot be parsed
// is a permanent failure; anything else is tried again later.
func (e *emailSender) send(ctx context.Context, n store.Notification, now time.Time) error {
	var p Payload
	if err := json.Unmarshal(n.Payload, &p); err != nil {
		return permanent(fmt.Errorf("decoding payload: %w", err))
	}
	// The id is the same on every retry, so a receiving system can drop a
	// copy delivered twice.
	err := e.smtp.Send(ctx, mailer.Message{To: n.Recipient, Subject: p.Subject, Body: p.Text,
		ID: n.ID + "@atoguard", Date: now, Automated: true})
	if errors.Is(err, mailer.ErrRejected) {
		return permanent(err)
	}
	return err
}
