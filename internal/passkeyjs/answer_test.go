package passkeyjs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/atoguard/atoguard/client"
)

// fakeRegistrar answers as the guard would, or fails with err.
type fakeRegistrar struct {
	err      error
	gotUser  string
	gotReq   client.PasskeyRequest
	gotAtt   string
	finished client.Factor
}

func (f *fakeRegistrar) BeginPasskey(_ context.Context, userID string, req client.PasskeyRequest) (json.RawMessage, error) {
	f.gotUser, f.gotReq = userID, req
	if f.err != nil {
		return nil, f.err
	}
	return json.RawMessage(`{"publicKey":{"challenge":"abc"}}`), nil
}

func (f *fakeRegistrar) FinishPasskey(_ context.Context, userID string, att json.RawMessage) (client.Factor, error) {
	f.gotUser, f.gotAtt = userID, string(att)
	if f.err != nil {
		return client.Factor{}, f.err
	}
	return f.finished, nil
}

var _ Registrar = (*fakeRegistrar)(nil)

func TestResponder(t *testing.T) {
	refused := &client.ProblemError{Status: http.StatusBadRequest, Detail: "attestation: bad signature"}
	down := errors.New("dial tcp: connection refused")
	tests := []struct {
		name       string
		finish     bool
		att        string
		err        error
		wantStatus int
		wantBody   string
		wantLog    bool
	}{
		{"begin", false, "", nil, 200, `{"publicKey":{"challenge":"abc"}}`, false},
		{"begin, guard down", false, "", down, 503, `{"error":"the guard could not be reached; try again"}`, true},
		{"finish", true, `{"id":"x"}`, nil, 200, `{"factor_id":"f-1","name":"Laptop"}`, false},
		{"finish, not JSON", true, `{`, nil, 400, `{"error":"the browser's answer is not JSON"}`, false},
		{"finish, refused by the guard", true, `{"id":"x"}`, refused, 400, `{"error":"attestation: bad signature"}`, false},
		{"finish, guard down", true, `{"id":"x"}`, down, 503, `{"error":"the guard could not be reached; try again"}`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var logs bytes.Buffer
			a := Responder{Log: slog.New(slog.NewTextHandler(&logs, nil)), Level: slog.LevelWarn}
			reg := &fakeRegistrar{err: tt.err, finished: client.Factor{ID: "f-1", Name: "Laptop"}}
			rec := httptest.NewRecorder()
			if tt.finish {
				a.Finish(context.Background(), rec, reg, "u-1", tt.att)
			} else {
				a.Begin(context.Background(), rec, reg, "u-1", client.PasskeyRequest{Name: "Passkey", UserName: "u-1"})
			}
			if rec.Code != tt.wantStatus {
				t.Errorf("status = %d, want %d", rec.Code, tt.wantStatus)
			}
			if got := strings.TrimSpace(rec.Body.String()); got != tt.wantBody {
				t.Errorf("body = %s, want %s", got, tt.wantBody)
			}
			if got, want := rec.Header().Get("Cache-Control"), "no-store"; got != want {
				t.Errorf("Cache-Control = %q, want %q", got, want)
			}
			if got, want := rec.Header().Get("Content-Type"), "application/json"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			if got := strings.Contains(logs.String(), "level=WARN"); got != tt.wantLog {
				t.Errorf("logged a warning = %v, want %v: %s", got, tt.wantLog, logs.String())
			}
			if tt.wantStatus != 400 || !tt.finish || tt.err != nil {
				if reg.gotUser != "u-1" {
					t.Errorf("guard asked for user %q, want u-1", reg.gotUser)
				}
			}
		})
	}
}
