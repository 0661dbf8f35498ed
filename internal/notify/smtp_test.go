package notify_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/notify/smtptest"
)

func TestSendMail(t *testing.T) {
	tests := []struct {
		name string
		sink smtptest.Options
		cfg  func(s *smtptest.Sink) notify.SMTPConfig
	}{
		{
			name: "plain relay",
			sink: smtptest.Options{TLS: "none"},
			cfg: func(s *smtptest.Sink) notify.SMTPConfig {
				return notify.SMTPConfig{Host: s.Host, Port: s.Port, TLS: notify.TLSNone}
			},
		},
		{
			name: "STARTTLS with a password",
			sink: smtptest.Options{TLS: "starttls", Username: "guard", Password: "s3cret pass"},
			cfg: func(s *smtptest.Sink) notify.SMTPConfig {
				return notify.SMTPConfig{Host: s.Host, Port: s.Port, TLS: notify.TLSStartTLS, Username: "guard", CAFile: s.CAFile}
			},
		},
		{
			name: "implicit TLS with a password",
			sink: smtptest.Options{TLS: "tls", Username: "guard", Password: "s3cret pass"},
			cfg: func(s *smtptest.Sink) notify.SMTPConfig {
				return notify.SMTPConfig{Host: s.Host, Port: s.Port, TLS: notify.TLSImplicit, Username: "guard", CAFile: s.CAFile}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := smtptest.Start(t, tt.sink)
			cfg := tt.cfg(sink)
			cfg.From = "Shop <no-reply@shop.example.jp>"
			cfg.Timeout = 5 * time.Second
			m, err := notify.NewSMTP(cfg, func(k string) string {
				if k == notify.EnvSMTPPassword {
					return "s3cret pass"
				}
				return ""
			})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.SendMail(context.Background(), "taro@example.jp", "Your code", "Your code is 123456\r\n"); err != nil {
				t.Fatalf("SendMail: %v", err)
			}
			got := sink.Wait(t, 1)
			if got.From != "no-reply@shop.example.jp" || len(got.To) != 1 || got.To[0] != "taro@example.jp" {
				t.Errorf("envelope from %q to %v", got.From, got.To)
			}
			if got.Subject() != "Your code" || !strings.Contains(got.Body(), "Your code is 123456") {
				t.Errorf("subject %q body %q", got.Subject(), got.Body())
			}
		})
	}
}

func TestSendMailRefusesWhatIsUnsafe(t *testing.T) {
	// A server that offers no STARTTLS is refused in starttls mode: the
	// code must not cross the network in clear.
	plain := smtptest.Start(t, smtptest.Options{TLS: "none"})
	m, err := notify.NewSMTP(notify.SMTPConfig{Host: plain.Host, Port: plain.Port, From: "a@example.jp", Timeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SendMail(context.Background(), "taro@example.jp", "s", "b"); err == nil {
		t.Error("SendMail over a server without STARTTLS succeeded in starttls mode")
	}
	// A certificate nobody vouched for is refused.
	tlsSink := smtptest.Start(t, smtptest.Options{TLS: "tls"})
	m, err = notify.NewSMTP(notify.SMTPConfig{Host: tlsSink.Host, Port: tlsSink.Port, TLS: notify.TLSImplicit, From: "a@example.jp", Timeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SendMail(context.Background(), "taro@example.jp", "s", "b"); err == nil {
		t.Error("SendMail to an untrusted certificate succeeded")
	}
	// A wrong password is refused by the server, and reported.
	authSink := smtptest.Start(t, smtptest.Options{TLS: "starttls", Username: "guard", Password: "right"})
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err = notify.NewSMTP(notify.SMTPConfig{Host: authSink.Host, Port: authSink.Port, Username: "guard", PasswordFile: pw,
		CAFile: authSink.CAFile, From: "a@example.jp", Timeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SendMail(context.Background(), "taro@example.jp", "s", "b"); err == nil {
		t.Error("SendMail with a wrong password succeeded")
	}
	if n := len(authSink.Messages()) + len(plain.Messages()) + len(tlsSink.Messages()); n != 0 {
		t.Errorf("%d messages were delivered, want none", n)
	}
}

func TestValidate(t *testing.T) {
	err := notify.SMTPConfig{Host: "mail", TLS: "ssl", Port: 70000, From: "not an address", Timeout: -1}.Validate()
	if err == nil {
		t.Fatal("Validate accepted a bad config")
	}
	for _, want := range []string{"smtp.tls", "smtp.port", "smtp.timeout", "smtp.from"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %q does not mention %s", err, want)
		}
	}
	if err := (notify.SMTPConfig{}).Validate(); err != nil {
		t.Errorf("zero config: %v", err)
	}
}
