package client_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/atoguard/client"
)

var (
	secret = []byte("whsec_test_0123456789")
	body   = []byte(`{"id":"ntf_1","kind":"operator.incident_opened","text":"🚨 attack"}`)
	sentAt = time.Date(2026, time.November, 25, 10, 0, 0, 0, time.UTC)
)

func TestSignKnownAnswer(t *testing.T) {
	// Computed independently:
	//   printf '1700000000.{}' | openssl dgst -sha256 -hmac key
	got := client.SignWebhook([]byte("key"), time.Unix(1700000000, 0), []byte("{}"))
	want := "t=1700000000,v1=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
	if got != want {
		t.Errorf("Sign = %q, want %q", got, want)
	}
}

func TestVerify(t *testing.T) {
	header := client.SignWebhook(secret, sentAt, body)
	v1 := header[strings.Index(header, "v1="):]
	other := client.SignWebhook([]byte("old-secret"), sentAt, body)
	otherV1 := other[strings.Index(other, "v1="):]
	tampered := []byte(strings.Replace(string(body), "attack", "all clear", 1))

	tests := []struct {
		name      string
		secret    []byte
		header    string
		body      []byte
		now       time.Time
		tolerance time.Duration
		want      error // nil: valid
	}{
		{name: "valid", header: header, now: sentAt},
		{name: "valid a little later", header: header, now: sentAt.Add(4 * time.Minute)},
		{name: "valid at the tolerance", header: header, now: sentAt.Add(5 * time.Minute)},
		{name: "receiver clock behind", header: header, now: sentAt.Add(-4 * time.Minute)},
		{name: "with spaces", header: "t=" + header[2:strings.Index(header, ",")] + ", " + v1, now: sentAt},
		{name: "rotation: old and new signatures", header: header + "," + otherV1, now: sentAt},
		{name: "rotation: new listed second", header: "t=" + header[2:strings.Index(header, ",")] + "," + otherV1 + "," + v1, now: sentAt},
		{name: "unknown scheme ignored", header: header + ",v0=abc", now: sentAt},
		{name: "custom tolerance", header: header, now: sentAt.Add(time.Hour), tolerance: 2 * time.Hour},

		{name: "tampered body", header: header, body: tampered, now: sentAt, want: client.ErrSignatureMismatch},
		{name: "body with a trailing new line", header: header, body: append(append([]byte{}, body...), '\n'), now: sentAt, want: client.ErrSignatureMismatch},
		{name: "wrong secret", secret: []byte("another"), header: header, now: sentAt, want: client.ErrSignatureMismatch},
		{name: "timestamp changed", header: strings.Replace(header, "t=", "t=1", 1), now: sentAt, want: client.ErrSignatureMismatch},
		{name: "only the other secret's signature", header: other, now: sentAt, want: client.ErrSignatureMismatch},
		{name: "replayed later", header: header, now: sentAt.Add(5*time.Minute + time.Second), want: client.ErrSignatureExpired},
		{name: "replayed a day later", header: header, now: sentAt.Add(24 * time.Hour), want: client.ErrSignatureExpired},
		{name: "from the future", header: header, now: sentAt.Add(-6 * time.Minute), want: client.ErrSignatureExpired},
		{name: "replayed outside a custom tolerance", header: header, now: sentAt.Add(time.Minute + time.Second), tolerance: time.Minute, want: client.ErrSignatureExpired},

		{name: "empty", header: "", now: sentAt, want: client.ErrNoSignature},
		{name: "blank", header: "  ", now: sentAt, want: client.ErrNoSignature},
		{name: "no timestamp", header: v1, now: sentAt, want: client.ErrMalformedSignature},
		{name: "no signature", header: "t=1764064800", now: sentAt, want: client.ErrMalformedSignature},
		{name: "two timestamps", header: header + ",t=1764064800", now: sentAt, want: client.ErrMalformedSignature},
		{name: "timestamp not a number", header: "t=soon," + v1, now: sentAt, want: client.ErrMalformedSignature},
		{name: "signature not hex", header: "t=1764064800,v1=zz", now: sentAt, want: client.ErrMalformedSignature},
		{name: "signature too short", header: "t=1764064800,v1=abcd", now: sentAt, want: client.ErrMalformedSignature},
		{name: "no equals sign", header: "t=1764064800,v1", now: sentAt, want: client.ErrMalformedSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, b := tt.secret, tt.body
			if s == nil {
				s = secret
			}
			if b == nil {
				b = body
			}
			err := client.VerifyWebhook(s, tt.header, b, tt.now, tt.tolerance)
			if tt.want == nil && err != nil {
				t.Fatalf("Verify = %v, want nil", err)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyEmptySecret(t *testing.T) {
	header := client.SignWebhook(nil, sentAt, body) // an HMAC with an empty key is still an HMAC
	if err := client.VerifyWebhook(nil, header, body, sentAt, 0); err == nil {
		t.Fatal("Verify with an empty secret accepted a request")
	}
}

func TestVerifyRequest(t *testing.T) {
	req := func(b []byte, header string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1/hook", bytes.NewReader(b))
		if header != "" {
			r.Header.Set(client.SignatureHeader, header)
		}
		return r
	}
	got, err := client.VerifyWebhookRequest(req(body, client.SignWebhook(secret, sentAt, body)), secret, sentAt, 0, 1<<20)
	if err != nil || !bytes.Equal(got, body) {
		t.Fatalf("VerifyRequest = %q, %v; want the body", got, err)
	}
	if _, err := client.VerifyWebhookRequest(req(body, ""), secret, sentAt, 0, 1<<20); !errors.Is(err, client.ErrNoSignature) {
		t.Errorf("unsigned request: %v, want ErrMissing", err)
	}
	if _, err := client.VerifyWebhookRequest(req(body, client.SignWebhook(secret, sentAt, body)), secret, sentAt, 0, 10); err == nil {
		t.Error("a body over the limit was accepted")
	}
}

// FuzzVerifyWebhook feeds arbitrary headers and bodies: Verify never panics,
// and accepts a header only when it carries the signature of the body at
// its own timestamp, within the tolerance.
func FuzzVerifyWebhook(f *testing.F) {
	f.Add(client.SignWebhook(secret, sentAt, body), body)
	f.Add(client.SignWebhook(secret, sentAt.Add(-time.Minute), body)+",v1="+strings.Repeat("0", 64), body)
	f.Add("t=1764064800,v1=00", []byte("{}"))
	f.Add("t=,v1=,v1=", []byte(""))
	f.Add("t=99999999999999999999,v1="+strings.Repeat("a", 64), []byte("x"))
	f.Add(",,,=,t=1", []byte(nil))
	f.Fuzz(func(t *testing.T, header string, b []byte) {
		if client.VerifyWebhook(secret, header, b, sentAt, 0) != nil {
			return
		}
		for d := -client.DefaultSignatureTolerance; d <= client.DefaultSignatureTolerance; d += time.Second {
			want := client.SignWebhook(secret, sentAt.Add(d), b)
			ts, v1, _ := strings.Cut(want, ",")
			if strings.Contains(header, ts) && strings.Contains(strings.ToLower(header), v1) { // hex in either case
				return
			}
		}
		t.Fatalf("accepted header %q without a valid signature of the body", header)
	})
}
