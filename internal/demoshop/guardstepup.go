package demoshop

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/passkeyjs"
)

// ErrChallengeClosed is what a StepUp returns when the challenge can no
// longer be answered: already used, locked after too many wrong answers,
// or expired. The login (or order) it guarded is over.
var ErrChallengeClosed = errors.New("the challenge can no longer be answered")

// GuardStepUp is the StepUp of a shop whose guard runs the step-up: it
// verifies answers (POST /v1/challenges/{id}/verify), hands out passkey
// options and, through the embedded client, enrols factors. The guard
// records every answer itself (mfa.succeeded / mfa.failed), so a shop using
// it does not report its own.
type GuardStepUp struct {
	*client.Client
}

var (
	_ StepUp         = GuardStepUp{}
	_ FactorEnroller = GuardStepUp{}
	_ passkeyOptions = GuardStepUp{}
)

// Verify implements StepUp. For webauthn, code is the browser's
// credential.toJSON(). A malformed answer (the guard's 400) fails without
// costing an attempt.
func (g GuardStepUp) Verify(ctx context.Context, challengeID, method, code string) (bool, error) {
	a := client.Answer{Method: method, Code: code}
	if method == client.MethodWebAuthn {
		if !json.Valid([]byte(code)) {
			return false, nil
		}
		a.Code, a.Assertion = "", json.RawMessage(code)
	}
	v, err := g.Client.Verify(ctx, challengeID, a)
	var p *client.ProblemError
	switch {
	case client.IsChallengeClosed(err):
		return false, ErrChallengeClosed
	case errors.As(err, &p) && p.Status == http.StatusBadRequest:
		return false, nil
	case err != nil:
		return false, err
	}
	switch v.Status {
	case client.StepUpPassed:
		return true, nil
	case client.StepUpLocked, client.StepUpExpired:
		return false, ErrChallengeClosed
	}
	return false, nil
}

// RecordsOutcome reports that the guard records the outcome of every
// answer: the shop must not report mfa events of its own for them.
func (GuardStepUp) RecordsOutcome() bool { return true }

// passkeyOptions is a StepUp that can answer with a passkey.
type passkeyOptions interface {
	WebAuthnOptions(ctx context.Context, challengeID string) (json.RawMessage, error)
}

// FactorEnroller enrols and removes the second factors of the shop's
// accounts; *client.Client (and so GuardStepUp) is one. A shop whose
// StepUp is not one has no security settings page.
type FactorEnroller interface {
	Factors(ctx context.Context, userID string) (client.Factors, error)
	EnrolTOTP(ctx context.Context, userID, name, accountName string) (client.TOTPEnrolment, error)
	ConfirmTOTP(ctx context.Context, userID, factorID, code string) error
	passkeyjs.Registrar
	RecoveryCodes(ctx context.Context, userID string) ([]string, error)
	DeleteFactor(ctx context.Context, userID, factorID string) error
}

// recordsOutcome reports whether the shop's StepUp records answers itself.
func (s *Shop) recordsOutcome() bool {
	r, ok := s.stepUp.(interface{ RecordsOutcome() bool })
	return ok && r.RecordsOutcome()
}
