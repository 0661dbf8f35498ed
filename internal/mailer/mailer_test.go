package mailer_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/mailer"
	"github.com/atoguard/atoguard/internal/mailer/mailtest"
)

func TestSendMail(t *testing.T) {
	tests := []struct {
		name string
		sink mailtest.Options
		cfg  func(s *mailtest.Sink) mailer.Config
	}{
		{
			name: "plain relay",
			sink: mailtest.Options{TLS: "none"},
			cfg: func(s *mailtest.Sink) mailer.Config {
				return mailer.Config{Server: mailer.Server{Host: s.Host, Port: s.Port, TLS: mailer.TLSNone}}
			},
		},
		{
			name: "STARTTLS with a password",
			sink: mailtest.Options{TLS: "starttls", Username: "guard", Password: "s3cret pass"},
			cfg: func(s *mailtest.Sink) mailer.Config {
				return mailer.Config{Server: mailer.Server{Host: s.Host, Port: s.Port, TLS: mailer.TLSStartTLS, Username: "guard", CAFile: s.CAFile}}
			},
		},
		{
			name: "implicit TLS with a password",
			sink: mailtest.Options{TLS: "tls", Username: "guard", Password: "s3cret pass"},
			cfg: func(s *mailtest.Sink) mailer.Config {
				return mailer.Config{Server: mailer.Server{Host: s.Host, Port: s.Port, TLS: mailer.TLSImplicit, Username: "guard", CAFile: s.CAFile}}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := mailtest.Start(t, tt.sink)
			cfg := tt.cfg(sink)
			cfg.From = "Shop <no-reply@shop.example.jp>"
			cfg.Timeout = 5 * time.Second
			m, err := mailer.New(cfg, func(k string) string {
				if k == mailer.EnvPassword {
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
	plain := mailtest.Start(t, mailtest.Options{TLS: "none"})
	m, err := mailer.New(mailer.Config{Server: mailer.Server{Host: plain.Host, Port: plain.Port, From: "a@example.jp"}, Timeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SendMail(context.Background(), "taro@example.jp", "s", "b"); err == nil {
		t.Error("SendMail over a server without STARTTLS succeeded in starttls mode")
	}
	// A certificate nobody vouched for is refused.
	tlsSink := mailtest.Start(t, mailtest.Options{TLS: "tls"})
	m, err = mailer.New(mailer.Config{Server: mailer.Server{Host: tlsSink.Host, Port: tlsSink.Port, TLS: mailer.TLSImplicit, From: "a@example.jp"}, Timeout: 5 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SendMail(context.Background(), "taro@example.jp", "s", "b"); err == nil {
		t.Error("SendMail to an untrusted certificate succeeded")
	}
	// A wrong password is refused by the server, and reported.
	authSink := mailtest.Start(t, mailtest.Options{TLS: "starttls", Username: "guard", Password: "right"})
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err = mailer.New(mailer.Config{Server: mailer.Server{Host: authSink.Host, Port: authSink.Port, Username: "guard", PasswordFile: pw,
		CAFile: authSink.CAFile, From: "a@example.jp"}, Timeout: 5 * time.Second}, nil)
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
	err := mailer.Config{Server: mailer.Server{Host: "mail", TLS: "ssl", Port: 70000, From: "not an address"}, Timeout: -1}.Validate("smtp")
	if err == nil {
		t.Fatal("Validate accepted a bad config")
	}
	for _, want := range []string{"smtp.tls", "smtp.port", "smtp.timeout", "smtp.from"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Validate error %q does not mention %s", err, want)
		}
	}
	if err := (mailer.Config{}).Validate("smtp"); err != nil {
		t.Errorf("zero config: %v", err)
	}
}

func TestSend(t *testing.T) {
	sent := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	tests := []struct {
		name         string
		msg          mailer.Message
		wantErr      bool
		wantRejected bool
		wantHeaders  map[string]string
	}{
		{
			name: "automated with a fixed id and date",
			msg:  mailer.Message{To: "taro@example.jp", Subject: "s", Body: "b", ID: "ntf_1@atoguard", Date: sent, Automated: true},
			wantHeaders: map[string]string{"Message-Id": "<ntf_1@atoguard>", "Date": sent.Format(time.RFC1123Z),
				"Auto-Submitted": "auto-generated", "X-Mailer": "atoguard"},
		},
		{
			name:        "plain",
			msg:         mailer.Message{To: "taro@example.jp", Subject: "s", Body: "b"},
			wantHeaders: map[string]string{"Auto-Submitted": ""},
		},
		{
			name:    "recipient refused for good",
			msg:     mailer.Message{To: "gone@example.jp", Subject: "s", Body: "b"},
			wantErr: true, wantRejected: true,
		},
		{
			name:    "address that does not parse",
			msg:     mailer.Message{To: "not an address", Subject: "s", Body: "b"},
			wantErr: true, wantRejected: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := mailtest.Start(t, mailtest.Options{TLS: "none", Reject: "gone@example.jp"})
			m, err := mailer.NewWithPassword(mailer.Config{Server: mailer.Server{Host: sink.Host, Port: sink.Port, TLS: mailer.TLSNone,
				From: "a@example.jp"}, Timeout: 5 * time.Second}, "")
			if err != nil {
				t.Fatal(err)
			}
			err = m.Send(context.Background(), tt.msg)
			if got := err != nil; got != tt.wantErr {
				t.Fatalf("Send: %v, want error %v", err, tt.wantErr)
			}
			if got := errors.Is(err, mailer.ErrRejected); got != tt.wantRejected {
				t.Errorf("Send: %v, is ErrRejected %v, want %v", err, got, tt.wantRejected)
			}
			if tt.wantErr {
				return
			}
			got := sink.Wait(t, 1)
			for k, want := range tt.wantHeaders {
				if h := got.Header(k); h != want {
					t.Errorf("%s: got %q, want %q", k, h, want)
				}
			}
		})
	}
}
