package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/stepup"
	"github.com/atoguard/atoguard/internal/store"
)

// serveStepUp serves the step-up challenge and factor enrolment endpoints
// of docs/api.md through svc (Deps.StepUp).
func (s *Server) serveStepUp(svc *stepup.Service) {
	s.stepup = svc
	h := func(scope string, f handlerFunc) http.Handler { return adapt(s.log, s.requireScope(scope, f)) }
	c, f := store.ScopeChallenges, store.ScopeFactors
	s.mux.Handle("POST /v1/challenges", h(c, s.postChallenge))
	s.mux.Handle("GET /v1/challenges/{id}", h(c, s.getChallenge))
	s.mux.Handle("POST /v1/challenges/{id}/send", h(c, s.sendCode))
	s.mux.Handle("POST /v1/challenges/{id}/webauthn/options", h(c, s.webauthnOptions))
	s.mux.Handle("POST /v1/challenges/{id}/verify", h(c, s.verifyChallenge))
	s.mux.Handle("GET /v1/users/{id}/factors", h(f, s.listFactors))
	s.mux.Handle("POST /v1/users/{id}/factors/totp", h(f, s.enrolTOTP))
	s.mux.Handle("POST /v1/users/{id}/factors/totp/confirm", h(f, s.confirmTOTP))
	s.mux.Handle("POST /v1/users/{id}/factors/webauthn/register/begin", h(f, s.beginRegistration))
	s.mux.Handle("POST /v1/users/{id}/factors/webauthn/register/finish", h(f, s.finishRegistration))
	s.mux.Handle("POST /v1/users/{id}/factors/email", h(f, s.enrolEmail))
	s.mux.Handle("POST /v1/users/{id}/factors/email/confirm", h(f, s.confirmEmail))
	s.mux.Handle("POST /v1/users/{id}/recovery-codes", h(f, s.newRecoveryCodes))
	s.mux.Handle("DELETE /v1/users/{id}/factors/{factor_id}", h(f, s.deleteFactor))
}

// decodeStrict decodes one JSON object into v: unknown fields, wrong types,
// trailing data and a body that is not an object are 400s naming the field.
// An empty body decodes as {} when emptyOK.
func decodeStrict(data []byte, v any, emptyOK bool) error {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 && emptyOK {
		return nil
	}
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return problem(http.StatusBadRequest, "invalid-json", "body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te) && te.Field != "":
			p := problem(http.StatusBadRequest, "invalid-field", fmt.Sprintf("%s must be a JSON %s", te.Field, jsonKind(te.Type.Kind().String())))
			p.Field = te.Field
			return p
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			p := problem(http.StatusBadRequest, "invalid-field", fmt.Sprintf("%s is not a known field", name))
			p.Field = name
			return p
		}
		return problem(http.StatusBadRequest, "invalid-json", "body is not valid JSON: "+err.Error())
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return problem(http.StatusBadRequest, "invalid-json", "body has data after the JSON object")
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "struct", "map":
		return "object"
	case "slice":
		return "array"
	}
	return "number"
}

// readOptional reads a body that may be empty; when present it must be
// JSON.
func (s *Server) readOptional(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return nil, nil
	}
	return s.readBody(w, r)
}

// stepupErr turns an error of package stepup into a problem.
func stepupErr(err error) error {
	var fe *stepup.FieldError
	if errors.As(err, &fe) {
		p := problem(http.StatusBadRequest, "invalid-field", fe.Detail)
		p.Field = fe.Field
		return p
	}
	for _, m := range []struct {
		err    error
		status int
		kind   string
	}{
		{stepup.ErrNotFound, http.StatusNotFound, "not-found"},
		{stepup.ErrUsed, http.StatusConflict, "challenge-used"},
		{stepup.ErrLocked, http.StatusConflict, "challenge-locked"},
		{stepup.ErrExpired, http.StatusConflict, "challenge-expired"},
		{stepup.ErrUnavailable, http.StatusConflict, "method-unavailable"},
		{stepup.ErrSendLimit, http.StatusConflict, "send-limit"},
		{stepup.ErrConflict, http.StatusConflict, "conflict"},
	} {
		if errors.Is(err, m.err) {
			return problem(m.status, m.kind, err.Error())
		}
	}
	if errors.Is(err, stepup.ErrMail) {
		p := problem(http.StatusServiceUnavailable, "mail-unavailable", "the email could not be sent; retry")
		p.RetryAfter = 5
		p.Cause = err
		return p
	}
	p := problem(http.StatusServiceUnavailable, "not-ready", "the step-up could not be recorded; retry")
	p.RetryAfter = 1
	p.Cause = err
	return p
}

// challengeOut is the challenge object of docs/api.md.
type challengeOut struct {
	ID        string    `json:"id"`
	Methods   []string  `json:"methods"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) postChallenge(w http.ResponseWriter, r *http.Request) error {
	data, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var in struct {
		UserID    string `json:"user_id"`
		SessionID string `json:"session_id"`
		Purpose   string `json:"purpose"`
		Context   *struct {
			IP        string `json:"ip"`
			UserAgent string `json:"user_agent"`
			DeviceID  string `json:"device_id"`
		} `json:"context"`
	}
	if err := decodeStrict(data, &in, false); err != nil {
		return err
	}
	req := stepup.ChallengeRequest{UserID: in.UserID, SessionID: in.SessionID, Purpose: in.Purpose}
	if in.Context != nil {
		req.IP, req.UserAgent, req.DeviceID = in.Context.IP, in.Context.UserAgent, in.Context.DeviceID
	}
	ch, err := s.stepup.CreateChallenge(r.Context(), req)
	if err != nil {
		return stepupErr(err)
	}
	return writeJSON(w, http.StatusOK, challengeOut{ID: ch.ID, Methods: ch.Methods, ExpiresAt: ch.ExpiresAt})
}

func (s *Server) getChallenge(w http.ResponseWriter, r *http.Request) error {
	st, err := s.stepup.Challenge(r.Context(), r.PathValue("id"))
	if err != nil {
		return stepupErr(err)
	}
	ch := st.Challenge
	return writeJSON(w, http.StatusOK, map[string]any{
		"id": ch.ID, "user_id": ch.UserID, "purpose": ch.Purpose, "methods": ch.Methods, "state": st.State,
		"attempts_left": st.AttemptsLeft, "expires_at": ch.ExpiresAt,
	})
}

func (s *Server) sendCode(w http.ResponseWriter, r *http.Request) error {
	data, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var in struct {
		Method string `json:"method"`
	}
	if err := decodeStrict(data, &in, false); err != nil {
		return err
	}
	sent, err := s.stepup.Send(r.Context(), r.PathValue("id"), in.Method)
	if err != nil {
		return stepupErr(err)
	}
	return writeJSON(w, http.StatusOK, map[string]any{"sent": true, "to": sent.To, "expires_at": sent.ExpiresAt})
}

func (s *Server) webauthnOptions(w http.ResponseWriter, r *http.Request) error {
	data, err := s.readOptional(w, r)
	if err != nil {
		return err
	}
	var in struct{}
	if err := decodeStrict(data, &in, true); err != nil {
		return err
	}
	opts, err := s.stepup.WebAuthnOptions(r.Context(), r.PathValue("id"))
	if err != nil {
		return stepupErr(err)
	}
	return writeJSON(w, http.StatusOK, opts)
}

// verifyIn is the body of POST /v1/challenges/{id}/verify.
type verifyIn struct {
	Method    string          `json:"method"`
	Code      string          `json:"code"`
	Assertion json.RawMessage `json:"assertion"`
}

func (s *Server) verifyChallenge(w http.ResponseWriter, r *http.Request) error {
	data, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var in verifyIn
	if err := decodeStrict(data, &in, false); err != nil {
		return err
	}
	if in.Method == "" {
		p := problem(http.StatusBadRequest, "invalid-field", "method is required: webauthn, totp, email_otp or recovery_code")
		p.Field = "method"
		return p
	}
	if in.Method == stepup.MethodWebAuthn && in.Code != "" || in.Method != stepup.MethodWebAuthn && len(in.Assertion) > 0 {
		field := "code"
		if in.Method != stepup.MethodWebAuthn {
			field = "assertion"
		}
		p := problem(http.StatusBadRequest, "invalid-field", fmt.Sprintf("%s does not go with method %s", field, in.Method))
		p.Field = field
		return p
	}
	out, err := s.stepup.Verify(r.Context(), r.PathValue("id"), stepup.Answer{Method: in.Method, Code: in.Code, Assertion: in.Assertion})
	if err != nil {
		return stepupErr(err)
	}
	return writeJSON(w, http.StatusOK, map[string]any{
		"status": out.Status, "decision": out.Decision(), "attempts_left": out.AttemptsLeft,
	})
}
