package memory

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// PutFactor stores f; see store.FactorStore for what it never undoes.
func (s *Store) PutFactor(ctx context.Context, f store.Factor) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f = copyFactor(f)
	s.mu.Lock()
	defer s.mu.Unlock()
	cred := string(f.CredentialID)
	if len(f.CredentialID) > 0 {
		if id, ok := s.factorByCred[cred]; ok && id != f.ID {
			return fmt.Errorf("putting factor %q: credential id already used by another factor", f.ID)
		}
	}
	if old, ok := s.factors[f.ID]; ok {
		if old.LastUsedAt.After(f.LastUsedAt) {
			f.LastUsedAt = old.LastUsedAt
		}
		f.TOTPLastStep = max(f.TOTPLastStep, old.TOTPLastStep)
		f.SignCount = max(f.SignCount, old.SignCount)
		f.CloneWarning = f.CloneWarning || old.CloneWarning
		if len(old.CredentialID) > 0 {
			delete(s.factorByCred, string(old.CredentialID))
		}
	}
	s.factors[f.ID] = f
	if len(f.CredentialID) > 0 {
		s.factorByCred[cred] = f.ID
	}
	return nil
}

// GetFactor returns the factor with id or store.ErrNotFound.
func (s *Store) GetFactor(ctx context.Context, id string) (store.Factor, error) {
	return lookup(s, s.factors, "factor", id, copyFactor)
}

// ListFactors returns the factors of userID ordered by CreatedAt then ID.
func (s *Store) ListFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	s.mu.RLock()
	var out []store.Factor
	for _, f := range s.factors {
		if f.UserID == userID {
			out = append(out, copyFactor(f))
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b store.Factor) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// FactorByCredentialID returns the factor with that WebAuthn credential id
// or store.ErrNotFound.
func (s *Store) FactorByCredentialID(ctx context.Context, credentialID []byte) (store.Factor, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.factorByCred[string(credentialID)]
	if !ok || len(credentialID) == 0 {
		return store.Factor{}, fmt.Errorf("factor by credential id: %w", store.ErrNotFound)
	}
	return copyFactor(s.factors[id]), nil
}

// ScanFactors returns up to limit factors with an ID after after, by ID.
func (s *Store) ScanFactors(ctx context.Context, after string, limit int) ([]store.Factor, error) {
	s.mu.RLock()
	var out []store.Factor
	for id, f := range s.factors {
		if id > after {
			out = append(out, copyFactor(f))
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b store.Factor) int { return cmp.Compare(a.ID, b.ID) })
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// DeleteFactor deletes factor id of userID or returns store.ErrNotFound.
func (s *Store) DeleteFactor(ctx context.Context, userID, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.factors[id]
	if !ok || f.UserID != userID {
		return fmt.Errorf("factor %q of user %q: %w", id, userID, store.ErrNotFound)
	}
	if len(f.CredentialID) > 0 {
		delete(s.factorByCred, string(f.CredentialID))
	}
	delete(s.factors, id)
	return nil
}

// AdvanceTOTPStep moves the factor's last TOTP step forward to step.
func (s *Store) AdvanceTOTPStep(ctx context.Context, id string, step int64, at time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.factors[id]
	if !ok {
		return false, fmt.Errorf("factor %q: %w", id, store.ErrNotFound)
	}
	if step <= f.TOTPLastStep {
		return false, nil
	}
	f.TOTPLastStep = step
	f.LastUsedAt = utc(at)
	s.factors[id] = f
	return true, nil
}

// AdvanceSignCount moves the factor's WebAuthn counter forward to count,
// or flags it when the counter did not advance.
func (s *Store) AdvanceSignCount(ctx context.Context, id string, count uint32, at time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.factors[id]
	if !ok {
		return false, fmt.Errorf("factor %q: %w", id, store.ErrNotFound)
	}
	if count <= f.SignCount && (count != 0 || f.SignCount != 0) {
		f.CloneWarning = true
		s.factors[id] = f
		return false, nil
	}
	f.SignCount = count
	f.LastUsedAt = utc(at)
	s.factors[id] = f
	return true, nil
}

// PutRecoveryCodes replaces the recovery codes of userID.
func (s *Store) PutRecoveryCodes(ctx context.Context, userID string, codes []store.RecoveryCode) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cp := make([]store.RecoveryCode, len(codes))
	for i, c := range codes {
		c.UserID = userID
		cp[i] = copyRecoveryCode(c)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(cp) == 0 {
		delete(s.recovery, userID)
		return nil
	}
	s.recovery[userID] = cp
	return nil
}

// ListRecoveryCodes returns the recovery codes of userID in the order put.
func (s *Store) ListRecoveryCodes(ctx context.Context, userID string) ([]store.RecoveryCode, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []store.RecoveryCode
	for _, c := range s.recovery[userID] {
		out = append(out, copyRecoveryCode(c))
	}
	return out, nil
}

// UseRecoveryCode marks the unused code with hash as used.
func (s *Store) UseRecoveryCode(ctx context.Context, userID string, hash []byte, at time.Time) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	if at.IsZero() {
		return false, errors.New("using recovery code: the time of use is zero")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	codes := s.recovery[userID]
	for i := range codes {
		if codes[i].UsedAt.IsZero() && bytes.Equal(codes[i].Hash, hash) {
			codes[i].UsedAt = utc(at)
			return true, nil
		}
	}
	return false, nil
}

// PutEmailOTP stores o, replacing the code with the same key.
func (s *Store) PutEmailOTP(ctx context.Context, o store.EmailOTP) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	o = copyEmailOTP(o)
	s.mu.Lock()
	s.emailOTPs[o.Key] = o
	s.mu.Unlock()
	return nil
}

// GetEmailOTP returns the code stored under key or store.ErrNotFound.
func (s *Store) GetEmailOTP(ctx context.Context, key string) (store.EmailOTP, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	o, ok := s.emailOTPs[key]
	if !ok {
		return store.EmailOTP{}, fmt.Errorf("email code %q: %w", key, store.ErrNotFound)
	}
	return copyEmailOTP(o), nil
}

// PutWebAuthnSession stores ws, replacing the session with the same key.
func (s *Store) PutWebAuthnSession(ctx context.Context, ws store.WebAuthnSession) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ws = copyWebAuthnSession(ws)
	s.mu.Lock()
	s.waSessions[ws.Key] = ws
	s.mu.Unlock()
	return nil
}

// TakeWebAuthnSession returns and deletes the session with key.
func (s *Store) TakeWebAuthnSession(ctx context.Context, key string) (store.WebAuthnSession, error) {
	if err := ctx.Err(); err != nil {
		return store.WebAuthnSession{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ws, ok := s.waSessions[key]
	if !ok {
		return store.WebAuthnSession{}, fmt.Errorf("webauthn session %q: %w", key, store.ErrNotFound)
	}
	delete(s.waSessions, key)
	return ws, nil // the stored copy is not shared
}

func copyFactor(f store.Factor) store.Factor {
	f.Secret = bytes.Clone(f.Secret)
	f.CredentialID = bytes.Clone(f.CredentialID)
	f.PublicKey = bytes.Clone(f.PublicKey)
	f.CreatedAt = utc(f.CreatedAt)
	f.LastUsedAt = utc(f.LastUsedAt)
	return f
}

func copyRecoveryCode(c store.RecoveryCode) store.RecoveryCode {
	c.Hash = bytes.Clone(c.Hash)
	c.CreatedAt = utc(c.CreatedAt)
	c.UsedAt = utc(c.UsedAt)
	return c
}

func copyEmailOTP(o store.EmailOTP) store.EmailOTP {
	o.Hash = bytes.Clone(o.Hash)
	o.SentAt = utc(o.SentAt)
	o.ExpiresAt = utc(o.ExpiresAt)
	return o
}

func copyWebAuthnSession(ws store.WebAuthnSession) store.WebAuthnSession {
	ws.Data = bytes.Clone(ws.Data)
	ws.ExpiresAt = utc(ws.ExpiresAt)
	return ws
}
