package stepup

import (
	"context"
	"crypto/subtle"
	"fmt"
	"log/slog"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// RecoveryCodes are freshly made recovery codes, shown once. They never
// print through fmt or slog.
type RecoveryCodes []string

// String implements fmt.Stringer.
func (c RecoveryCodes) String() string { return fmt.Sprintf("RecoveryCodes(%d, REDACTED)", len(c)) }

// LogValue implements slog.LogValuer.
func (c RecoveryCodes) LogValue() slog.Value { return slog.StringValue(c.String()) }

// NewRecoveryCodes makes ten recovery codes for userID, replacing any
// earlier ones, and returns them: they are shown once and kept only as
// keyed hashes. Each answers one challenge.
//
// A code carries 80 random bits, so a keyed SHA-256 (HMAC with the
// server's secret key, which is not in the database) is enough: nobody
// can search 2^80 codes per user, and a stolen database without the key
// gives nothing to search with. A slow password hash (argon2id) guards
// secrets people choose; these are not.
func (s *Service) NewRecoveryCodes(ctx context.Context, userID string) (RecoveryCodes, error) {
	if err := checkID("user_id", userID); err != nil {
		return nil, err
	}
	unlock := s.lockUser(userID)
	defer unlock()
	now := s.clock.Now()
	codes := make(RecoveryCodes, recoveryCount)
	stored := make([]store.RecoveryCode, recoveryCount)
	for i := range codes {
		codes[i] = newRecoveryCode()
		norm, _ := parseRecoveryCode(codes[i]) // our own format: always valid
		stored[i] = store.RecoveryCode{UserID: userID, Hash: s.recoveryHash(userID, norm), CreatedAt: now}
	}
	if err := s.store.PutRecoveryCodes(ctx, userID, stored); err != nil {
		return nil, fmt.Errorf("storing recovery codes: %w", err)
	}
	return codes, nil
}

func (s *Service) recoveryHash(userID, normalized string) []byte {
	return s.mac("recovery-code", userID, normalized)
}

// checkRecoveryCode compares a recovery code with every code of the user
// in constant time and uses the matching one atomically.
func (s *Service) checkRecoveryCode(ctx context.Context, ch store.Challenge, code string, now time.Time) (bool, error) {
	norm, err := parseRecoveryCode(code)
	if err != nil {
		return false, err
	}
	h := s.recoveryHash(ch.UserID, norm)
	codes, err := s.store.ListRecoveryCodes(ctx, ch.UserID)
	if err != nil {
		return false, fmt.Errorf("listing recovery codes: %w", err)
	}
	match := 0
	for _, c := range codes {
		eq := subtle.ConstantTimeCompare(c.Hash, h)
		if c.UsedAt.IsZero() && !c.CreatedAt.After(ch.CreatedAt) {
			match |= eq
		}
	}
	if match == 0 {
		return false, nil
	}
	ok, err := s.store.UseRecoveryCode(ctx, ch.UserID, h, now)
	if err != nil {
		return false, fmt.Errorf("using recovery code: %w", err)
	}
	return ok, nil
}
