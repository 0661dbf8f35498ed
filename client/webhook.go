package client

// Webhook signatures. The guard signs every webhook notification with an
// HMAC-SHA256 over the timestamp and the body, sent in the
// Atoguard-Signature header, so a receiver can tell a genuine, fresh
// delivery from a forged, altered or replayed one:
//
//	Atoguard-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>
//
// A receiver recomputes the HMAC over the raw body it received, compares
// it in constant time with each v1 value (there may be several while a
// secret is rotated), and rejects a timestamp further than its tolerance
// from its own clock. The notification id in the body (and in the
// Atoguard-Notification-Id header) is the same on every retry: a receiver
// that must act once keeps the ids it has handled.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the name of the webhook signature header.
const SignatureHeader = "Atoguard-Signature"

// DefaultSignatureTolerance is what VerifyWebhook's tolerance 0 means.
const DefaultSignatureTolerance = 5 * time.Minute

// Errors VerifyWebhook returns; all mean "reject the request".
var (
	ErrNoSignature        = errors.New("no signature")
	ErrMalformedSignature = errors.New("malformed signature header")
	ErrSignatureMismatch  = errors.New("signature does not match")
	ErrSignatureExpired   = errors.New("signature timestamp outside the tolerance")
)

// SignWebhook returns the Atoguard-Signature value for body sent at t
// under secret, as the guard computes it: for a receiver's tests.
func SignWebhook(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhook checks header, the Atoguard-Signature value received
// with body, at now: one of its v1 signatures must be the HMAC of its
// timestamp and body under secret, and the timestamp within tolerance of
// now either way (0 means DefaultSignatureTolerance). body must be the raw
// bytes received, before any decoding.
func VerifyWebhook(secret []byte, header string, body []byte, now time.Time, tolerance time.Duration) error {
	if len(secret) == 0 {
		return errors.New("verifying signature: empty secret")
	}
	if tolerance <= 0 {
		tolerance = DefaultSignatureTolerance
	}
	if strings.TrimSpace(header) == "" {
		return ErrNoSignature
	}
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrMalformedSignature
		}
		switch k {
		case "t":
			if ts != "" {
				return ErrMalformedSignature
			}
			ts = v
		case "v1":
			sig, err := hex.DecodeString(v)
			if err != nil || len(sig) != sha256.Size {
				return ErrMalformedSignature
			}
			sigs = append(sigs, sig)
		} // other schemes are ignored, as later versions may add some
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrMalformedSignature
	}
	want := mac(secret, ts, body)
	match := false
	for _, sig := range sigs {
		if hmac.Equal(sig, want) {
			match = true
		}
	}
	if !match {
		return ErrSignatureMismatch
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%w: signed at %s, now %s", ErrSignatureExpired,
			time.Unix(sec, 0).UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return nil
}

// VerifyWebhookRequest reads r's body (at most maxBytes) and verifies its
// signature at now; it returns the body only when the signature is good.
func VerifyWebhookRequest(r *http.Request, secret []byte, now time.Time, tolerance time.Duration, maxBytes int64) ([]byte, error) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading webhook body: %w", err)
	}
	if int64(len(body)) > maxBytes {
		return nil, fmt.Errorf("webhook body over %d bytes", maxBytes)
	}
	if err := VerifyWebhook(secret, r.Header.Get(SignatureHeader), body, now, tolerance); err != nil {
		return nil, err
	}
	return body, nil
}
