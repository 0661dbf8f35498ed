package passkeyjs

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"github.com/atoguard/atoguard/client"
)

// Registrar registers passkeys with the guard; a *client.Client is one.
type Registrar interface {
	BeginPasskey(ctx context.Context, userID string, req client.PasskeyRequest) (json.RawMessage, error)
	FinishPasskey(ctx context.Context, userID string, attestation json.RawMessage) (client.Factor, error)
}

var _ Registrar = (*client.Client)(nil)

// WriteJSON answers the script. Bodies are small and never cached.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Error answers the script with a message it shows: {"error": msg}.
func Error(w http.ResponseWriter, status int, msg string) {
	WriteJSON(w, status, map[string]string{"error": msg})
}

// Responder answers the script's requests for one site. A failure of the
// guard (not the browser's fault) is logged on Log at Level.
type Responder struct {
	Log   *slog.Logger
	Level slog.Level
}

// GuardError answers the script for a failed call to the guard: the
// guard's 400 says what was wrong with the browser's part and goes back to
// it; anything else is the guard out of reach, logged as what.
func (a Responder) GuardError(ctx context.Context, w http.ResponseWriter, what string, err error) {
	var p *client.ProblemError
	if errors.As(err, &p) && p.Status == http.StatusBadRequest {
		Error(w, http.StatusBadRequest, p.Detail)
		return
	}
	a.Log.Log(ctx, a.Level, what, "err", err)
	Error(w, http.StatusServiceUnavailable, "the guard could not be reached; try again")
}

// Begin starts a passkey registration for userID and hands the script the
// guard's creation options.
func (a Responder) Begin(ctx context.Context, w http.ResponseWriter, reg Registrar, userID string, req client.PasskeyRequest) {
	opts, err := reg.BeginPasskey(ctx, userID, req)
	if err != nil {
		a.GuardError(ctx, w, "starting a passkey registration", err)
		return
	}
	WriteJSON(w, http.StatusOK, opts)
}

// Finish ends userID's passkey registration with the browser's
// attestation (credential.toJSON()) and answers the new factor's id and
// name.
func (a Responder) Finish(ctx context.Context, w http.ResponseWriter, reg Registrar, userID, attestation string) {
	if !json.Valid([]byte(attestation)) {
		Error(w, http.StatusBadRequest, "the browser's answer is not JSON")
		return
	}
	f, err := reg.FinishPasskey(ctx, userID, json.RawMessage(attestation))
	if err != nil {
		a.GuardError(ctx, w, "finishing a passkey registration", err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]string{"factor_id": f.ID, "name": f.Name})
}
