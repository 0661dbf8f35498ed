package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

const (
	factorColumns = `id, user_id, type, name, secret, confirmed, created_at, last_used_at,
		totp_last_step, credential_id, public_key, sign_count, clone_warning`
	// The upsert never moves a counter or the last use back, and never
	// clears a clone warning (store.FactorStore.PutFactor).
	putFactorSQL = `INSERT INTO factors AS f (` + factorColumns + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, type = excluded.type,
			name = excluded.name, secret = excluded.secret, confirmed = excluded.confirmed,
			created_at = excluded.created_at,
			last_used_at = greatest(f.last_used_at, excluded.last_used_at),
			totp_last_step = greatest(f.totp_last_step, excluded.totp_last_step),
			credential_id = excluded.credential_id, public_key = excluded.public_key,
			sign_count = greatest(f.sign_count, excluded.sign_count),
			clone_warning = f.clone_warning OR excluded.clone_warning`
)

// PutFactor stores f; see store.FactorStore for what it never undoes.
func (s *Store) PutFactor(ctx context.Context, f store.Factor) error {
	if err := checkTimes(f.CreatedAt, f.LastUsedAt); err != nil {
		return fmt.Errorf("putting factor %q: %w", f.ID, err)
	}
	var cred []byte // NULL unless set, so that the unique index ignores it
	if len(f.CredentialID) > 0 {
		cred = f.CredentialID
	}
	if _, err := s.pool.Exec(ctx, putFactorSQL, f.ID, f.UserID, f.Type, f.Name, nonNil(f.Secret),
		f.Confirmed, unixNano(f.CreatedAt), unixNano(f.LastUsedAt), f.TOTPLastStep, cred,
		nonNil(f.PublicKey), int64(f.SignCount), f.CloneWarning); err != nil {
		return fmt.Errorf("putting factor %q: %w", f.ID, err)
	}
	return nil
}

// GetFactor returns the factor with id or store.ErrNotFound.
func (s *Store) GetFactor(ctx context.Context, id string) (store.Factor, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+factorColumns+` FROM factors WHERE id = $1`, id)
	f, err := scanFactor(row)
	if err != nil {
		return store.Factor{}, lookupErr("factor", id, err)
	}
	return f, nil
}

// ListFactors returns the factors of userID ordered by CreatedAt then ID.
func (s *Store) ListFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	return list(ctx, s.pool, "listing factors", scanFactor,
		`SELECT `+factorColumns+` FROM factors WHERE user_id = $1 ORDER BY created_at, id`, userID)
}

// FactorByCredentialID returns the factor with that WebAuthn credential id
// or store.ErrNotFound.
func (s *Store) FactorByCredentialID(ctx context.Context, credentialID []byte) (store.Factor, error) {
	if len(credentialID) == 0 {
		return store.Factor{}, fmt.Errorf("factor by credential id: %w", store.ErrNotFound)
	}
	row := s.pool.QueryRow(ctx, `SELECT `+factorColumns+` FROM factors WHERE credential_id = $1`, credentialID)
	f, err := scanFactor(row)
	if err != nil {
		return store.Factor{}, lookupErr("factor by credential id", "", err)
	}
	return f, nil
}

// ScanFactors returns up to limit factors with an ID after after, by ID;
// every one for a limit <= 0.
func (s *Store) ScanFactors(ctx context.Context, after string, limit int) ([]store.Factor, error) {
	var lim any // NULL: no limit
	if limit > 0 {
		lim = int64(limit)
	}
	return list(ctx, s.pool, "scanning factors", scanFactor,
		`SELECT `+factorColumns+` FROM factors WHERE id > $1 ORDER BY id LIMIT $2::bigint`, after, lim)
}

// DeleteFactor deletes factor id of userID or returns store.ErrNotFound.
func (s *Store) DeleteFactor(ctx context.Context, userID, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM factors WHERE id = $1 AND user_id = $2`, id, userID)
	if err != nil {
		return fmt.Errorf("deleting factor %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("factor %q of user %q: %w", id, userID, store.ErrNotFound)
	}
	return nil
}

// AdvanceTOTPStep moves the factor's last TOTP step forward to step. Of
// concurrent calls with the same step one succeeds: PostgreSQL checks the
// condition again on the row a concurrent update left.
func (s *Store) AdvanceTOTPStep(ctx context.Context, id string, step int64, at time.Time) (bool, error) {
	if err := checkTimes(at); err != nil {
		return false, fmt.Errorf("advancing TOTP step of %q: %w", id, err)
	}
	return s.advance(ctx, id, "advancing TOTP step", `UPDATE factors SET totp_last_step = $1::bigint,
		last_used_at = greatest(last_used_at, $2::bigint) WHERE id = $3 AND totp_last_step < $1::bigint`,
		step, unixNano(at), id)
}

// AdvanceSignCount moves the factor's WebAuthn counter forward to count,
// or flags it when the counter did not advance.
func (s *Store) AdvanceSignCount(ctx context.Context, id string, count uint32, at time.Time) (bool, error) {
	if err := checkTimes(at); err != nil {
		return false, fmt.Errorf("advancing sign count of %q: %w", id, err)
	}
	ok, err := s.advance(ctx, id, "advancing sign count", `UPDATE factors SET sign_count = $1::bigint,
		last_used_at = greatest(last_used_at, $2::bigint)
		WHERE id = $3 AND (sign_count < $1::bigint OR (sign_count = 0 AND $1::bigint = 0))`,
		int64(count), unixNano(at), id)
	if err != nil || ok {
		return ok, err
	}
	if _, err := s.pool.Exec(ctx, `UPDATE factors SET clone_warning = true WHERE id = $1`, id); err != nil {
		return false, fmt.Errorf("flagging factor %q: %w", id, err)
	}
	return false, nil
}

// advance runs a conditional update of factor id: true when it changed
// the row, false when the condition did not hold, ErrNotFound when there
// is no such factor.
func (s *Store) advance(ctx context.Context, id, what, query string, args ...any) (bool, error) {
	tag, err := s.pool.Exec(ctx, query, args...)
	if err != nil {
		return false, fmt.Errorf("%s of %q: %w", what, id, err)
	}
	if tag.RowsAffected() > 0 {
		return true, nil
	}
	var one int32
	if err := s.pool.QueryRow(ctx, `SELECT 1 FROM factors WHERE id = $1`, id).Scan(&one); err != nil {
		return false, lookupErr("factor", id, err)
	}
	return false, nil
}

// PutRecoveryCodes replaces the recovery codes of userID. Concurrent
// replacements for one user take turns (a transaction advisory lock), so
// one whole set wins.
func (s *Store) PutRecoveryCodes(ctx context.Context, userID string, codes []store.RecoveryCode) error {
	for _, c := range codes {
		if err := checkTimes(c.CreatedAt, c.UsedAt); err != nil {
			return fmt.Errorf("putting recovery codes of %q: %w", userID, err)
		}
	}
	// One implicit transaction (see runBatch); the advisory lock lasts
	// until it ends.
	var q queued
	q.add("locking", `SELECT pg_advisory_xact_lock($1, hashtext($2))`, int32(recoveryLockClass), userID)
	q.add("deleting", `DELETE FROM recovery_codes WHERE user_id = $1`, userID)
	for i, c := range codes {
		q.add(fmt.Sprintf("code %d", i), `INSERT INTO recovery_codes (user_id, seq, hash, created_at, used_at)
			VALUES ($1, $2, $3, $4, $5)`, userID, int64(i), nonNil(c.Hash), unixNano(c.CreatedAt), unixNano(c.UsedAt))
	}
	err := s.runBatch(ctx, &q)
	if err != nil {
		return fmt.Errorf("putting recovery codes of %q: %w", userID, err)
	}
	return nil
}

// ListRecoveryCodes returns the recovery codes of userID in the order put.
func (s *Store) ListRecoveryCodes(ctx context.Context, userID string) ([]store.RecoveryCode, error) {
	return list(ctx, s.pool, "listing recovery codes", func(sc scanner) (store.RecoveryCode, error) {
		var c store.RecoveryCode
		var created, used int64
		if err := sc.Scan(&c.UserID, &c.Hash, &created, &used); err != nil {
			return store.RecoveryCode{}, err
		}
		c.CreatedAt, c.UsedAt = fromUnixNano(created), fromUnixNano(used)
		return c, nil
	}, `SELECT user_id, hash, created_at, used_at FROM recovery_codes WHERE user_id = $1 ORDER BY seq`, userID)
}

// UseRecoveryCode marks the unused code with hash as used. The outer
// used_at = 0 is checked again on a row a concurrent use changed, so one
// use of a code wins.
func (s *Store) UseRecoveryCode(ctx context.Context, userID string, hash []byte, at time.Time) (bool, error) {
	if at.IsZero() {
		return false, errors.New("using recovery code: the time of use is zero")
	}
	if err := checkTimes(at); err != nil {
		return false, fmt.Errorf("using recovery code: %w", err)
	}
	// One row at most: the lowest seq among equal unused hashes.
	tag, err := s.pool.Exec(ctx, `UPDATE recovery_codes SET used_at = $1
		WHERE user_id = $2 AND used_at = 0 AND seq = (SELECT min(seq) FROM recovery_codes
			WHERE user_id = $2 AND hash = $3 AND used_at = 0)`, unixNano(at), userID, nonNil(hash))
	if err != nil {
		return false, fmt.Errorf("using recovery code: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}

// PutEmailOTP stores o, replacing the code with the same key.
func (s *Store) PutEmailOTP(ctx context.Context, o store.EmailOTP) error {
	if err := checkTimes(o.SentAt, o.ExpiresAt); err != nil {
		return fmt.Errorf("putting email code %q: %w", o.Key, err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO email_otps (otp_key, user_id, hash, sent_at,
		expires_at, sends, attempts) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (otp_key) DO UPDATE SET user_id = excluded.user_id, hash = excluded.hash,
			sent_at = excluded.sent_at, expires_at = excluded.expires_at, sends = excluded.sends,
			attempts = excluded.attempts`,
		o.Key, o.UserID, nonNil(o.Hash), unixNano(o.SentAt), unixNano(o.ExpiresAt),
		int64(o.Sends), int64(o.Attempts)); err != nil {
		return fmt.Errorf("putting email code %q: %w", o.Key, err)
	}
	return nil
}

// GetEmailOTP returns the code stored under key or store.ErrNotFound.
func (s *Store) GetEmailOTP(ctx context.Context, key string) (store.EmailOTP, error) {
	var o store.EmailOTP
	var sent, expires, sends, attempts int64
	err := s.pool.QueryRow(ctx, `SELECT otp_key, user_id, hash, sent_at, expires_at, sends, attempts
		FROM email_otps WHERE otp_key = $1`, key).Scan(&o.Key, &o.UserID, &o.Hash, &sent, &expires, &sends, &attempts)
	if err != nil {
		return store.EmailOTP{}, lookupErr("email code", key, err)
	}
	o.SentAt, o.ExpiresAt = fromUnixNano(sent), fromUnixNano(expires)
	o.Sends, o.Attempts = int(sends), int(attempts)
	return o, nil
}

// PutWebAuthnSession stores ws, replacing the session with the same key.
func (s *Store) PutWebAuthnSession(ctx context.Context, ws store.WebAuthnSession) error {
	if err := checkTimes(ws.ExpiresAt); err != nil {
		return fmt.Errorf("putting webauthn session %q: %w", ws.Key, err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO webauthn_sessions (session_key, user_id, data, expires_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT (session_key) DO UPDATE SET user_id = excluded.user_id,
			data = excluded.data, expires_at = excluded.expires_at`,
		ws.Key, ws.UserID, nonNil(ws.Data), unixNano(ws.ExpiresAt)); err != nil {
		return fmt.Errorf("putting webauthn session %q: %w", ws.Key, err)
	}
	return nil
}

// TakeWebAuthnSession returns and deletes the session with key, in one
// statement: of concurrent takes, one gets it.
func (s *Store) TakeWebAuthnSession(ctx context.Context, key string) (store.WebAuthnSession, error) {
	var ws store.WebAuthnSession
	var expires int64
	err := s.pool.QueryRow(ctx, `DELETE FROM webauthn_sessions WHERE session_key = $1
		RETURNING session_key, user_id, data, expires_at`, key).Scan(&ws.Key, &ws.UserID, &ws.Data, &expires)
	if err != nil {
		return store.WebAuthnSession{}, lookupErr("webauthn session", key, err)
	}
	ws.ExpiresAt = fromUnixNano(expires)
	return ws, nil
}

func scanFactor(sc scanner) (store.Factor, error) {
	var f store.Factor
	var created, used, signCount int64
	if err := sc.Scan(&f.ID, &f.UserID, &f.Type, &f.Name, &f.Secret, &f.Confirmed, &created, &used,
		&f.TOTPLastStep, &f.CredentialID, &f.PublicKey, &signCount, &f.CloneWarning); err != nil {
		return store.Factor{}, err
	}
	f.CreatedAt, f.LastUsedAt = fromUnixNano(created), fromUnixNano(used)
	f.SignCount = uint32(signCount)
	return f, nil
}
