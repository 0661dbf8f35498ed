package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Step-up methods, as challenges offer them and answers name them.
const (
	MethodWebAuthn     = "webauthn"
	MethodTOTP         = "totp"
	MethodEmailOTP     = "email_otp"
	MethodRecoveryCode = "recovery_code"
)

// Outcomes of a verification (Verification.Status).
const (
	StepUpPassed  = "passed"
	StepUpFailed  = "failed"
	StepUpExpired = "expired"
	StepUpLocked  = "locked"
)

// Problem types of the step-up endpoints that callers branch on
// (ProblemError.Kind).
const (
	ProblemChallengeUsed    = "challenge-used"
	ProblemChallengeLocked  = "challenge-locked"
	ProblemChallengeExpired = "challenge-expired"
	ProblemNotFound         = "not-found"
)

// Kind is the stable suffix of the problem type, e.g. "challenge-used" for
// about:blank#challenge-used.
func (e *ProblemError) Kind() string {
	if i := strings.LastIndexByte(e.Type, '#'); i >= 0 {
		return e.Type[i+1:]
	}
	return e.Type
}

// Answer is the answer to a challenge: a code for totp, email_otp and
// recovery_code, the browser's credential.toJSON() for webauthn. It never
// prints its code.
type Answer struct {
	Method    string          `json:"method"`
	Code      string          `json:"code,omitempty"`
	Assertion json.RawMessage `json:"assertion,omitempty"`
}

// String implements fmt.Stringer: the method only.
func (a Answer) String() string { return "Answer{" + a.Method + "}" }

// Verification is the guard's verdict on an answer.
type Verification struct {
	Status       string `json:"status"`   // passed, failed, expired or locked
	Decision     string `json:"decision"` // allow only when passed
	AttemptsLeft int    `json:"attempts_left"`
}

// ChallengeRequest asks for a step-up before a sensitive action
// (POST /v1/challenges).
type ChallengeRequest struct {
	UserID    string            `json:"user_id"`
	SessionID string            `json:"session_id,omitempty"`
	Purpose   string            `json:"purpose,omitempty"`
	Context   *ChallengeContext `json:"context,omitempty"`
}

// ChallengeContext is the request a shop-made challenge guards: passing it
// makes that device and network familiar.
type ChallengeContext struct {
	IP        string `json:"ip,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	DeviceID  string `json:"device_id,omitempty"`
}

// CreateChallenge asks the guard for a step-up of its own. Methods empty
// means the guard cannot verify this user.
func (c *Client) CreateChallenge(ctx context.Context, req ChallengeRequest) (ChallengeOffer, error) {
	var out ChallengeOffer
	err := c.call(ctx, http.MethodPost, "/v1/challenges", req, &out)
	return out, err
}

// ChallengeStatus is a challenge as GET /v1/challenges/{id} shows it.
type ChallengeStatus struct {
	ID           string    `json:"id"`
	UserID       string    `json:"user_id"`
	Purpose      string    `json:"purpose"`
	Methods      []string  `json:"methods"`
	State        string    `json:"state"` // pending, passed, failed, expired or locked
	AttemptsLeft int       `json:"attempts_left"`
	ExpiresAt    time.Time `json:"expires_at"`
}

// Challenge returns the state of challenge id: a shop checks that the
// challenge guarding a session has passed before it lets the session on.
func (c *Client) Challenge(ctx context.Context, challengeID string) (ChallengeStatus, error) {
	var out ChallengeStatus
	err := c.call(ctx, http.MethodGet, "/v1/challenges/"+url.PathEscape(challengeID), nil, &out)
	return out, err
}

// CodeSent says where an emailed one-time code went.
type CodeSent struct {
	To        string    `json:"to"` // the address, masked: t***@example.jp
	ExpiresAt time.Time `json:"expires_at"`
}

// SendCode emails a one-time code for method (MethodEmailOTP) of
// challenge id to the user's verified address.
func (c *Client) SendCode(ctx context.Context, challengeID, method string) (CodeSent, error) {
	var out CodeSent
	err := c.call(ctx, http.MethodPost, "/v1/challenges/"+url.PathEscape(challengeID)+"/send", map[string]string{"method": method}, &out)
	return out, err
}

// WebAuthnOptions returns the options to hand to navigator.credentials.get
// for challenge id, as the guard encodes them: {"publicKey": {...}}.
func (c *Client) WebAuthnOptions(ctx context.Context, challengeID string) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.call(ctx, http.MethodPost, "/v1/challenges/"+url.PathEscape(challengeID)+"/webauthn/options", nil, &out)
	return out, err
}

// Verify answers challenge id. A used, locked or expired challenge is a
// *ProblemError with status 409 (Kind tells which).
func (c *Client) Verify(ctx context.Context, challengeID string, a Answer) (Verification, error) {
	var out Verification
	err := c.call(ctx, http.MethodPost, "/v1/challenges/"+url.PathEscape(challengeID)+"/verify", a, &out)
	return out, err
}

// Factor is an enrolled second factor, without its secret.
type Factor struct {
	ID           string     `json:"id"`
	Type         string     `json:"type"` // totp, webauthn, email
	Name         string     `json:"name"`
	Confirmed    bool       `json:"confirmed"`
	CreatedAt    time.Time  `json:"created_at"`
	LastUsedAt   *time.Time `json:"last_used_at"`
	CloneWarning bool       `json:"clone_warning,omitempty"`
	Address      string     `json:"address,omitempty"`
}

// Factors is what a user has enrolled.
type Factors struct {
	Factors           []Factor `json:"factors"`
	RecoveryCodesLeft int      `json:"recovery_codes_left"`
}

// Factors lists the factors of user userID.
func (c *Client) Factors(ctx context.Context, userID string) (Factors, error) {
	var out Factors
	err := c.call(ctx, http.MethodGet, userPath(userID, "/factors"), nil, &out)
	return out, err
}

// TOTPEnrolment is a TOTP factor waiting for its first code. Secret and
// QRPNG are secrets: show them once, keep neither.
type TOTPEnrolment struct {
	FactorID   string `json:"factor_id"`
	Secret     string `json:"secret"`
	OTPAuthURI string `json:"otpauth_uri"`
	QRPNG      []byte `json:"qr_png"` // a PNG image of OTPAuthURI
}

// String implements fmt.Stringer without the secret.
func (e TOTPEnrolment) String() string { return "TOTPEnrolment{" + e.FactorID + "}" }

// EnrolTOTP starts a TOTP factor for userID; name labels it (may be
// empty), accountName is what the authenticator app shows (e.g. the email).
func (c *Client) EnrolTOTP(ctx context.Context, userID, name, accountName string) (TOTPEnrolment, error) {
	var out TOTPEnrolment
	err := c.call(ctx, http.MethodPost, userPath(userID, "/factors/totp"),
		map[string]string{"name": name, "account_name": accountName}, &out)
	return out, err
}

// ConfirmTOTP confirms a TOTP factor with the first code the app shows.
func (c *Client) ConfirmTOTP(ctx context.Context, userID, factorID, code string) error {
	return c.confirm(ctx, userID, "totp", factorID, code)
}

// confirm posts a factor's first code to .../factors/{kind}/confirm.
func (c *Client) confirm(ctx context.Context, userID, kind, factorID, code string) error {
	return c.call(ctx, http.MethodPost, userPath(userID, "/factors/"+kind+"/confirm"),
		map[string]string{"factor_id": factorID, "code": code}, &json.RawMessage{})
}

// PasskeyRequest names a passkey being registered; every field may be
// empty.
type PasskeyRequest struct {
	Name        string `json:"name,omitempty"`
	UserName    string `json:"user_name,omitempty"`
	DisplayName string `json:"display_name,omitempty"`
}

// BeginPasskey starts registering a passkey: the creation options to hand
// to navigator.credentials.create, as {"publicKey": {...}}.
func (c *Client) BeginPasskey(ctx context.Context, userID string, req PasskeyRequest) (json.RawMessage, error) {
	var out json.RawMessage
	err := c.call(ctx, http.MethodPost, userPath(userID, "/factors/webauthn/register/begin"), req, &out)
	return out, err
}

// FinishPasskey completes the registration with the browser's
// credential.toJSON().
func (c *Client) FinishPasskey(ctx context.Context, userID string, attestation json.RawMessage) (Factor, error) {
	var out Factor
	err := c.call(ctx, http.MethodPost, userPath(userID, "/factors/webauthn/register/finish"),
		map[string]json.RawMessage{"attestation": attestation}, &out)
	return out, err
}

// EmailEnrolment is an email factor just added: confirmed at once when
// the shop vouched for the address, else waiting for the code Sent to it.
type EmailEnrolment struct {
	FactorID  string `json:"factor_id"`
	Confirmed bool   `json:"confirmed"`
	Sent      bool   `json:"sent"`
}

// EnrolEmail adds address as an email factor of userID. verified true
// says the shop has already verified the address (the factor is confirmed
// at once); otherwise the guard emails a code for ConfirmEmail.
func (c *Client) EnrolEmail(ctx context.Context, userID, address string, verified bool) (EmailEnrolment, error) {
	var out EmailEnrolment
	err := c.call(ctx, http.MethodPost, userPath(userID, "/factors/email"),
		map[string]any{"address": address, "verified": verified}, &out)
	return out, err
}

// ConfirmEmail confirms an email factor with the code emailed to it.
func (c *Client) ConfirmEmail(ctx context.Context, userID, factorID, code string) error {
	return c.confirm(ctx, userID, "email", factorID, code)
}

// RecoveryCodes makes ten new recovery codes for userID, replacing any
// earlier ones. Show them once; keep none.
func (c *Client) RecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	var out struct {
		Codes []string `json:"codes"`
	}
	err := c.call(ctx, http.MethodPost, userPath(userID, "/recovery-codes"), nil, &out)
	return out.Codes, err
}

// DeleteFactor removes a factor of userID.
func (c *Client) DeleteFactor(ctx context.Context, userID, factorID string) error {
	return c.call(ctx, http.MethodDelete, userPath(userID, "/factors/"+url.PathEscape(factorID)), nil, nil)
}

func userPath(userID, rest string) string { return "/v1/users/" + url.PathEscape(userID) + rest }

// call sends in (nil: no body) as JSON and decodes the answer into out.
func (c *Client) call(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return fmt.Errorf("encoding request: %w", err)
		}
	}
	return c.do(ctx, method, path, body, out, 1<<20)
}

// IsChallengeClosed reports whether err says the challenge can no longer
// be answered: used, locked, expired or unknown.
func IsChallengeClosed(err error) bool {
	var p *ProblemError
	if !errors.As(err, &p) {
		return false
	}
	switch p.Kind() {
	case ProblemChallengeUsed, ProblemChallengeLocked, ProblemChallengeExpired, ProblemNotFound:
		return true
	}
	return false
}
