package stepup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/atoguard/atoguard/internal/ids"
	"github.com/atoguard/atoguard/internal/store"
)

// maxCeremonyBytes bounds a WebAuthn response from the client.
const maxCeremonyBytes = 32 << 10

func newWebAuthn(cfg Config) (*webauthn.WebAuthn, error) {
	w := cfg.WebAuthn
	if w.RPID == "" {
		return nil, errors.New("rp_id is empty")
	}
	if len(w.Origins) == 0 {
		return nil, errors.New("origins is empty")
	}
	for _, o := range w.Origins {
		if !strings.HasPrefix(o, "https://") && !strings.HasPrefix(o, "http://localhost") && !strings.HasPrefix(o, "http://127.0.0.1") {
			return nil, fmt.Errorf("origin %q is not https (plain http only for localhost)", o)
		}
	}
	return webauthn.New(&webauthn.Config{
		RPID:                  w.RPID,
		RPDisplayName:         cfg.Issuer,
		RPOrigins:             w.Origins,
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:      protocol.ResidentKeyRequirementPreferred,
			UserVerification: protocol.UserVerificationRequirement(w.UserVerification),
		},
	})
}

// waUser is a user as go-webauthn sees it.
type waUser struct {
	handle  []byte
	name    string
	display string
	creds   []webauthn.Credential
	factors []store.Factor // parallel to creds
}

func (u *waUser) WebAuthnID() []byte                         { return u.handle }
func (u *waUser) WebAuthnName() string                       { return u.name }
func (u *waUser) WebAuthnDisplayName() string                { return u.display }
func (u *waUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// userHandle is the opaque WebAuthn user handle of userID: a keyed hash,
// so authenticators never hold the shop's user id.
func (s *Service) userHandle(userID string) []byte {
	return s.mac("webauthn-user-handle", userID)[:32]
}

// waUserOf loads userID's WebAuthn credentials that may answer a challenge
// made at before (zero: every confirmed one). A credential whose counter
// went backwards is left out: it may be a clone.
func (s *Service) waUserOf(ctx context.Context, userID, name string, before time.Time) (*waUser, error) {
	u := &waUser{handle: s.userHandle(userID), name: name, display: name}
	fs, err := s.store.ListFactors(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("listing factors: %w", err)
	}
	for _, f := range fs {
		if f.Type != store.FactorWebAuthn || !usable(f, before) || f.CloneWarning {
			continue
		}
		plain, err := s.openSecret(ctx, f)
		if err != nil {
			return nil, err
		}
		var c webauthn.Credential
		if err := json.Unmarshal(plain, &c); err != nil {
			return nil, fmt.Errorf("factor %s: decoding credential: %w", f.ID, err)
		}
		c.Authenticator.SignCount = f.SignCount // the store's counter is the authority
		u.creds = append(u.creds, c)
		u.factors = append(u.factors, f)
	}
	return u, nil
}

func (s *Service) webauthnOn() error {
	if s.wa == nil {
		return fmt.Errorf("WebAuthn is not configured (stepup.webauthn.rp_id): %w", ErrUnavailable)
	}
	return nil
}

// RegistrationRequest starts the registration of a passkey.
type RegistrationRequest struct {
	UserID      string
	Name        string // the factor's name, e.g. "MacBook Touch ID"
	UserName    string // what the authenticator shows, e.g. the login; default the user id
	DisplayName string // default UserName
}

// registration is the server-side state between begin and finish.
type registration struct {
	Session webauthn.SessionData `json:"session"`
	Name    string               `json:"name"`
}

// BeginWebAuthnRegistration returns the PublicKeyCredentialCreationOptions
// for navigator.credentials.create (under "publicKey"). The state stays
// on the server for 15 minutes, for FinishWebAuthnRegistration.
func (s *Service) BeginWebAuthnRegistration(ctx context.Context, req RegistrationRequest) (*protocol.CredentialCreation, error) {
	if err := s.webauthnOn(); err != nil {
		return nil, err
	}
	if err := checkID("user_id", req.UserID); err != nil {
		return nil, err
	}
	name, err := checkName(req.Name, "Passkey")
	if err != nil {
		return nil, err
	}
	if req.UserName == "" {
		req.UserName = req.UserID
	} else if err := checkID("user_name", req.UserName); err != nil {
		return nil, err
	}
	if req.DisplayName == "" {
		req.DisplayName = req.UserName
	} else if err := checkID("display_name", req.DisplayName); err != nil {
		return nil, err
	}
	unlock := s.lockUser(req.UserID)
	defer unlock()
	now := s.clock.Now()
	if err := s.makeRoom(ctx, req.UserID, store.FactorWebAuthn); err != nil {
		return nil, err
	}
	u, err := s.waUserOf(ctx, req.UserID, req.UserName, time.Time{})
	if err != nil {
		return nil, err
	}
	u.display = req.DisplayName
	exclude := make([]protocol.CredentialDescriptor, len(u.creds))
	for i := range u.creds {
		exclude[i] = u.creds[i].Descriptor()
	}
	creation, session, err := s.wa.BeginRegistration(u, webauthn.WithExclusions(exclude))
	if err != nil {
		return nil, fmt.Errorf("beginning WebAuthn registration: %w", err)
	}
	data, err := json.Marshal(registration{Session: *session, Name: name})
	if err != nil {
		return nil, fmt.Errorf("encoding WebAuthn session: %w", err)
	}
	if err := s.store.PutWebAuthnSession(ctx, store.WebAuthnSession{
		Key: "register:" + req.UserID, UserID: req.UserID, Data: data, ExpiresAt: now.Add(enrolTTL),
	}); err != nil {
		return nil, fmt.Errorf("storing WebAuthn session: %w", err)
	}
	return creation, nil
}

// FactorInfo describes an enrolled factor, without its secret.
type FactorInfo struct {
	ID           string
	Type         string
	Name         string
	Confirmed    bool
	CreatedAt    time.Time
	LastUsedAt   time.Time
	CloneWarning bool
	Address      string // email factors: the address, masked
}

// FinishWebAuthnRegistration verifies the attestation the browser returned
// (the PublicKeyCredential of navigator.credentials.create, as JSON) and
// enrols the passkey.
func (s *Service) FinishWebAuthnRegistration(ctx context.Context, userID string, attestation []byte) (FactorInfo, error) {
	if err := s.webauthnOn(); err != nil {
		return FactorInfo{}, err
	}
	if err := checkID("user_id", userID); err != nil {
		return FactorInfo{}, err
	}
	parsed, err := parseAttestation(attestation)
	if err != nil {
		return FactorInfo{}, err
	}
	unlock := s.lockUser(userID)
	defer unlock()
	now := s.clock.Now()
	sess, err := s.store.TakeWebAuthnSession(ctx, "register:"+userID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !now.Before(sess.ExpiresAt) {
		return FactorInfo{}, fmt.Errorf("no WebAuthn registration in progress for user %q (begin one first): %w", userID, ErrConflict)
	}
	if err != nil {
		return FactorInfo{}, fmt.Errorf("loading WebAuthn session: %w", err)
	}
	var reg registration
	if err := json.Unmarshal(sess.Data, &reg); err != nil {
		return FactorInfo{}, fmt.Errorf("decoding WebAuthn session: %w", err)
	}
	u := &waUser{handle: s.userHandle(userID)}
	cred, err := s.wa.CreateCredential(u, reg.Session, parsed)
	if err != nil {
		return FactorInfo{}, fieldError("attestation", "was rejected: "+webauthnReason(err))
	}
	if _, err := s.store.FactorByCredentialID(ctx, cred.ID); err == nil {
		return FactorInfo{}, fmt.Errorf("this passkey is already registered: %w", ErrConflict)
	} else if !errors.Is(err, store.ErrNotFound) {
		return FactorInfo{}, fmt.Errorf("looking up credential: %w", err)
	}
	if err := s.makeRoom(ctx, userID, store.FactorWebAuthn); err != nil {
		return FactorInfo{}, err
	}
	plain, err := json.Marshal(cred)
	if err != nil {
		return FactorInfo{}, fmt.Errorf("encoding credential: %w", err)
	}
	f := store.Factor{
		ID: ids.New("fa", now), UserID: userID, Type: store.FactorWebAuthn, Name: reg.Name,
		Confirmed: true, CreatedAt: now, CredentialID: cred.ID, PublicKey: cred.PublicKey,
		SignCount: cred.Authenticator.SignCount,
	}
	f.Secret = s.keys.Seal(plain, factorAAD(f))
	if err := s.store.PutFactor(ctx, f); err != nil {
		return FactorInfo{}, fmt.Errorf("storing factor: %w", err)
	}
	return infoOf(f, ""), nil
}

// parseAttestation parses a registration response from the client.
func parseAttestation(data []byte) (*protocol.ParsedCredentialCreationData, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fieldError("attestation", "is required")
	}
	if len(data) > maxCeremonyBytes {
		return nil, fieldError("attestation", fmt.Sprintf("is larger than %d bytes", maxCeremonyBytes))
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(data)
	if err != nil {
		return nil, fieldError("attestation", "is not a WebAuthn registration response: "+webauthnReason(err))
	}
	return parsed, nil
}

// parseAssertion parses an authentication response from the client.
func parseAssertion(data []byte) (*protocol.ParsedCredentialAssertionData, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fieldError("assertion", "is required")
	}
	if len(data) > maxCeremonyBytes {
		return nil, fieldError("assertion", fmt.Sprintf("is larger than %d bytes", maxCeremonyBytes))
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(data)
	if err != nil {
		return nil, fieldError("assertion", "is not a WebAuthn assertion: "+webauthnReason(err))
	}
	return parsed, nil
}

// webauthnReason is the client-safe reason of a go-webauthn error.
func webauthnReason(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		return pe.Details
	}
	return "malformed"
}

// WebAuthnOptions returns the PublicKeyCredentialRequestOptions for
// navigator.credentials.get (under "publicKey") to answer challenge id.
// The ceremony's state stays on the server, bound to the challenge, until
// the answer or the challenge's expiry; asking again replaces it.
func (s *Service) WebAuthnOptions(ctx context.Context, id string) (*protocol.CredentialAssertion, error) {
	if err := s.webauthnOn(); err != nil {
		return nil, err
	}
	unlock := s.lockChallenge(id)
	defer unlock()
	now := s.clock.Now()
	ch, err := s.open(ctx, id, now)
	if err != nil {
		return nil, err
	}
	if err := offers(ch, MethodWebAuthn); err != nil {
		return nil, fmt.Errorf("this challenge does not offer webauthn: %w", ErrUnavailable)
	}
	u, err := s.waUserOf(ctx, ch.UserID, ch.UserID, ch.CreatedAt)
	if err != nil {
		return nil, err
	}
	if len(u.creds) == 0 {
		return nil, fmt.Errorf("user has no usable passkey: %w", ErrUnavailable)
	}
	assertion, session, err := s.wa.BeginLogin(u)
	if err != nil {
		return nil, fmt.Errorf("beginning WebAuthn login: %w", err)
	}
	data, err := json.Marshal(session)
	if err != nil {
		return nil, fmt.Errorf("encoding WebAuthn session: %w", err)
	}
	if err := s.store.PutWebAuthnSession(ctx, store.WebAuthnSession{
		Key: "assert:" + ch.ID, UserID: ch.UserID, Data: data, ExpiresAt: ch.ExpiresAt,
	}); err != nil {
		return nil, fmt.Errorf("storing WebAuthn session: %w", err)
	}
	return assertion, nil
}

// checkAssertion verifies a WebAuthn assertion for challenge ch against
// the ceremony state WebAuthnOptions kept (used once). The signature
// counter must advance (or stay at zero for authenticators without one);
// one that goes back is refused and the credential flagged.
func (s *Service) checkAssertion(ctx context.Context, ch store.Challenge, raw []byte, now time.Time) (bool, error) {
	if err := s.webauthnOn(); err != nil {
		return false, err
	}
	parsed, err := parseAssertion(raw)
	if err != nil {
		return false, err
	}
	sess, err := s.store.TakeWebAuthnSession(ctx, "assert:"+ch.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("no WebAuthn options outstanding for this challenge (ask for them first; each answers once): %w", ErrConflict)
	}
	if err != nil {
		return false, fmt.Errorf("loading WebAuthn session: %w", err)
	}
	if sess.UserID != ch.UserID || !now.Before(sess.ExpiresAt) {
		return false, nil
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(sess.Data, &sd); err != nil {
		return false, fmt.Errorf("decoding WebAuthn session: %w", err)
	}
	u, err := s.waUserOf(ctx, ch.UserID, ch.UserID, ch.CreatedAt)
	if err != nil {
		return false, err
	}
	cred, err := s.wa.ValidateLogin(u, sd, parsed)
	if err != nil {
		s.log.Info("WebAuthn assertion rejected", "challenge", ch.ID, "reason", webauthnReason(err))
		return false, nil
	}
	var f *store.Factor
	for i := range u.creds {
		if bytes.Equal(u.creds[i].ID, cred.ID) {
			f = &u.factors[i]
		}
	}
	if f == nil {
		return false, nil
	}
	count := parsed.Response.AuthenticatorData.Counter
	ok, err := s.store.AdvanceSignCount(ctx, f.ID, count, now)
	if err != nil {
		return false, fmt.Errorf("recording signature counter: %w", err)
	}
	if !ok {
		s.log.Warn("WebAuthn signature counter did not advance: the authenticator may be cloned; credential disabled",
			"factor", f.ID, "user", ch.UserID, "stored", f.SignCount, "got", count)
	}
	return ok, nil
}
