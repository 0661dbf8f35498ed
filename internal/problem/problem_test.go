package problem

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestWrite(t *testing.T) {
	withField := New(http.StatusBadRequest, "invalid-field", `user: over 256 bytes <"x">`)
	withField.Field = "user"
	limited := New(http.StatusTooManyRequests, "rate-limited", "slow down")
	limited.RetryAfter = 15
	tests := []struct {
		name       string
		p          *Problem
		status     int
		retryAfter string
		body       string
	}{
		{"plain", New(http.StatusNotFound, "not-found", "no such thing"), 404, "",
			`{"type":"about:blank#not-found","title":"Not Found","status":404,"detail":"no such thing"}` + "\n"},
		{"field, HTML escaped", withField, 400, "",
			`{"type":"about:blank#invalid-field","title":"Bad Request","status":400,"detail":"user: over 256 bytes \u003c\"x\"\u003e","field":"user"}` + "\n"},
		{"retry after", limited, 429, "15",
			`{"type":"about:blank#rate-limited","title":"Too Many Requests","status":429,"detail":"slow down"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Write(rec, tt.p)
			if got := rec.Code; got != tt.status {
				t.Errorf("status = %d, want %d", got, tt.status)
			}
			if got, want := rec.Header().Get("Content-Type"), "application/problem+json"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			if got := rec.Body.String(); got != tt.body {
				t.Errorf("body = %s, want %s", got, tt.body)
			}
		})
	}
}

func TestFrom(t *testing.T) {
	notFound := New(http.StatusNotFound, "not-found", "gone")
	boom := errors.New("disk on fire")
	tests := []struct {
		name      string
		err       error
		wantType  string
		wantCause error
		same      bool
	}{
		{"problem", notFound, "about:blank#not-found", nil, true},
		{"wrapped problem", fmt.Errorf("reading: %w", notFound), "about:blank#not-found", nil, true},
		{"other error", boom, "about:blank#internal", boom, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := From(tt.err)
			if p.Type != tt.wantType {
				t.Errorf("type = %q, want %q", p.Type, tt.wantType)
			}
			if tt.same && p != notFound {
				t.Errorf("From returned a new problem, want the one wrapped")
			}
			if !tt.same && (p.Status != 500 || p.Detail != "internal error" || !errors.Is(p, tt.wantCause)) {
				t.Errorf("From(%v) = %+v, want a 500 internal error caused by it", tt.err, p)
			}
		})
	}
}
