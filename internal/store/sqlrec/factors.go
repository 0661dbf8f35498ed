package sqlrec

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// PutFactor stores f; see store.FactorStore for what it never undoes.
func (r Records) PutFactor(ctx context.Context, f store.Factor) error {
	if err := CheckTimes(f.CreatedAt, f.LastUsedAt); err != nil {
		return fmt.Errorf("putting factor %q: %w", f.ID, err)
	}
	var cred []byte // NULL unless set, so that the unique index ignores it
	if len(f.CredentialID) > 0 {
		cred = f.CredentialID
	}
	greatest := r.d.Greatest
	// The upsert never moves a counter or the last use back, and never
	// clears a clone warning.
	if _, err := r.w.Exec(ctx, `INSERT INTO factors AS f (`+FactorColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, type = excluded.type,
			name = excluded.name, secret = excluded.secret, confirmed = excluded.confirmed,
			created_at = excluded.created_at,
			last_used_at = `+greatest+`(f.last_used_at, excluded.last_used_at),
			totp_last_step = `+greatest+`(f.totp_last_step, excluded.totp_last_step),
			credential_id = excluded.credential_id, public_key = excluded.public_key,
			sign_count = `+greatest+`(f.sign_count, excluded.sign_count),
			clone_warning = f.clone_warning OR excluded.clone_warning`,
		f.ID, f.UserID, f.Type, f.Name, NonNil(f.Secret), f.Confirmed, UnixNano(f.CreatedAt),
		UnixNano(f.LastUsedAt), f.TOTPLastStep, cred, NonNil(f.PublicKey), int64(f.SignCount),
		f.CloneWarning); err != nil {
		return fmt.Errorf("putting factor %q: %w", f.ID, err)
	}
	return nil
}

// GetFactor returns the factor with id or store.ErrNotFound.
func (r Records) GetFactor(ctx context.Context, id string) (store.Factor, error) {
	return get(ctx, r, "factor", id, ScanFactor, `SELECT `+FactorColumns+` FROM factors WHERE id = ?`, id)
}

// ListFactors returns the factors of userID ordered by CreatedAt then ID.
func (r Records) ListFactors(ctx context.Context, userID string) ([]store.Factor, error) {
	return List(ctx, r.r, "listing factors", ScanFactor,
		`SELECT `+FactorColumns+` FROM factors WHERE user_id = ? ORDER BY created_at, id`, userID)
}

// FactorByCredentialID returns the factor with that WebAuthn credential id
// or store.ErrNotFound.
func (r Records) FactorByCredentialID(ctx context.Context, credentialID []byte) (store.Factor, error) {
	if len(credentialID) == 0 {
		return store.Factor{}, fmt.Errorf("factor by credential id: %w", store.ErrNotFound)
	}
	return get(ctx, r, "factor by credential id", "", ScanFactor,
		`SELECT `+FactorColumns+` FROM factors WHERE credential_id = ?`, credentialID)
}

// DeleteFactor deletes factor id of userID or returns store.ErrNotFound.
func (r Records) DeleteFactor(ctx context.Context, userID, id string) error {
	n, err := r.w.Exec(ctx, `DELETE FROM factors WHERE id = ? AND user_id = ?`, id, userID)
	if err != nil {
		return fmt.Errorf("deleting factor %q: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("factor %q of user %q: %w", id, userID, store.ErrNotFound)
	}
	return nil
}

// AdvanceTOTPStep moves the factor's last TOTP step forward to step. Of
// concurrent calls with the same step one succeeds: the condition is part
// of the update.
func (r Records) AdvanceTOTPStep(ctx context.Context, id string, step int64, at time.Time) (bool, error) {
	if err := CheckTimes(at); err != nil {
		return false, fmt.Errorf("advancing TOTP step of %q: %w", id, err)
	}
	return r.advanceFactor(ctx, id, "advancing TOTP step", `UPDATE factors SET totp_last_step = ?,
		last_used_at = `+r.d.Greatest+`(last_used_at, ?) WHERE id = ? AND totp_last_step < ?`,
		step, UnixNano(at), id, step)
}

// AdvanceSignCount moves the factor's WebAuthn counter forward to count,
// or flags it when the counter did not advance.
func (r Records) AdvanceSignCount(ctx context.Context, id string, count uint32, at time.Time) (bool, error) {
	if err := CheckTimes(at); err != nil {
		return false, fmt.Errorf("advancing sign count of %q: %w", id, err)
	}
	c := int64(count)
	ok, err := r.advanceFactor(ctx, id, "advancing sign count", `UPDATE factors SET sign_count = ?,
		last_used_at = `+r.d.Greatest+`(last_used_at, ?)
		WHERE id = ? AND (sign_count < ? OR (sign_count = 0 AND CAST(? AS bigint) = 0))`,
		c, UnixNano(at), id, c, c)
	if err != nil || ok {
		return ok, err
	}
	if _, err := r.w.Exec(ctx, `UPDATE factors SET clone_warning = TRUE WHERE id = ?`, id); err != nil {
		return false, fmt.Errorf("flagging factor %q: %w", id, err)
	}
	return false, nil
}

// advanceFactor runs a conditional update of factor id: true when it
// changed the row, false when the condition did not hold, ErrNotFound
// when there is no such factor.
func (r Records) advanceFactor(ctx context.Context, id, what, query string, args ...any) (bool, error) {
	n, err := r.w.Exec(ctx, query, args...)
	if err != nil {
		return false, fmt.Errorf("%s of %q: %w", what, id, err)
	}
	if n > 0 {
		return true, nil
	}
	return false, r.exists(ctx, "factor", id, `SELECT 1 FROM factors WHERE id = ?`, id)
}

// ListRecoveryCodes returns the recovery codes of userID in the order put.
func (r Records) ListRecoveryCodes(ctx context.Context, userID string) ([]store.RecoveryCode, error) {
	return List(ctx, r.r, "listing recovery codes", ScanRecoveryCode,
		`SELECT `+RecoveryCodeColumns+` FROM recovery_codes WHERE user_id = ? ORDER BY seq`, userID)
}

// UseRecoveryCode marks the unused code with hash as used. The outer
// used_at = 0 is checked again on a row a concurrent use changed, so one
// use of a code wins.
func (r Records) UseRecoveryCode(ctx context.Context, userID string, hash []byte, at time.Time) (bool, error) {
	if at.IsZero() {
		return false, errors.New("using recovery code: the time of use is zero")
	}
	if err := CheckTimes(at); err != nil {
		return false, fmt.Errorf("using recovery code: %w", err)
	}
	// One row at most: the lowest seq among equal unused hashes.
	n, err := r.w.Exec(ctx, `UPDATE recovery_codes SET used_at = ?
		WHERE user_id = ? AND used_at = 0 AND seq = (SELECT min(seq) FROM recovery_codes
			WHERE user_id = ? AND hash = ? AND used_at = 0)`, UnixNano(at), userID, userID, NonNil(hash))
	if err != nil {
		return false, fmt.Errorf("using recovery code: %w", err)
	}
	return n > 0, nil
}

// PutEmailOTP stores o, replacing the code with the same key.
func (r Records) PutEmailOTP(ctx context.Context, o store.EmailOTP) error {
	if err := CheckTimes(o.SentAt, o.ExpiresAt); err != nil {
		return fmt.Errorf("putting email code %q: %w", o.Key, err)
	}
	if _, err := r.w.Exec(ctx, `INSERT INTO email_otps (`+EmailOTPColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (otp_key) DO UPDATE SET user_id = excluded.user_id, hash = excluded.hash,
			sent_at = excluded.sent_at, expires_at = excluded.expires_at, sends = excluded.sends,
			attempts = excluded.attempts`,
		o.Key, o.UserID, NonNil(o.Hash), UnixNano(o.SentAt), UnixNano(o.ExpiresAt),
		int64(o.Sends), int64(o.Attempts)); err != nil {
		return fmt.Errorf("putting email code %q: %w", o.Key, err)
	}
	return nil
}

// GetEmailOTP returns the code stored under key or store.ErrNotFound.
func (r Records) GetEmailOTP(ctx context.Context, key string) (store.EmailOTP, error) {
	return get(ctx, r, "email code", key, ScanEmailOTP,
		`SELECT `+EmailOTPColumns+` FROM email_otps WHERE otp_key = ?`, key)
}

// PutWebAuthnSession stores ws, replacing the session with the same key.
func (r Records) PutWebAuthnSession(ctx context.Context, ws store.WebAuthnSession) error {
	if err := CheckTimes(ws.ExpiresAt); err != nil {
		return fmt.Errorf("putting webauthn session %q: %w", ws.Key, err)
	}
	if _, err := r.w.Exec(ctx, `INSERT INTO webauthn_sessions (session_key, user_id, data, expires_at)
		VALUES (?, ?, ?, ?) ON CONFLICT (session_key) DO UPDATE SET user_id = excluded.user_id,
			data = excluded.data, expires_at = excluded.expires_at`,
		ws.Key, ws.UserID, NonNil(ws.Data), UnixNano(ws.ExpiresAt)); err != nil {
		return fmt.Errorf("putting webauthn session %q: %w", ws.Key, err)
	}
	return nil
}

// TakeWebAuthnSession returns and deletes the session with key, in one
// statement: of concurrent takes, one gets it.
func (r Records) TakeWebAuthnSession(ctx context.Context, key string) (store.WebAuthnSession, error) {
	ws, err := ScanWebAuthnSession(r.w.QueryRow(ctx, `DELETE FROM webauthn_sessions WHERE session_key = ?
		RETURNING session_key, user_id, data, expires_at`, key))
	if err != nil {
		return store.WebAuthnSession{}, r.lookupErr("webauthn session", key, err)
	}
	return ws, nil
}

// CreateOperator stores a new operator; store.ErrExists when the name is
// taken.
func (r Records) CreateOperator(ctx context.Context, o store.Operator) error {
	if err := CheckTimes(o.CreatedAt); err != nil {
		return fmt.Errorf("creating operator %q: %w", o.Name, err)
	}
	_, err := r.w.Exec(ctx, `INSERT INTO operators (`+OperatorColumns+`) VALUES (?, ?, ?, ?, ?, ?)`,
		o.Name, o.PasswordHash, NonNil(o.TOTPSecret), o.TOTPLastStep, UnixNano(o.CreatedAt), o.Disabled)
	if err != nil && r.d.IsUnique(err) {
		return fmt.Errorf("creating operator %q: %w", o.Name, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("creating operator %q: %w", o.Name, err)
	}
	return nil
}

// GetOperator returns the operator called name or store.ErrNotFound.
func (r Records) GetOperator(ctx context.Context, name string) (store.Operator, error) {
	return get(ctx, r, "operator", name, ScanOperator, `SELECT `+OperatorColumns+` FROM operators WHERE name = ?`, name)
}

// ListOperators returns every operator, by name.
func (r Records) ListOperators(ctx context.Context) ([]store.Operator, error) {
	return List(ctx, r.r, "listing operators", ScanOperator, `SELECT `+OperatorColumns+` FROM operators ORDER BY name`)
}

// AdvanceOperatorTOTP records step as the operator's last accepted TOTP
// step if it is greater than the stored one, so that a code is accepted at
// most once; false when it is not, or when there is no such operator. Of
// concurrent calls with the same step one succeeds: the condition is part
// of the update.
func (r Records) AdvanceOperatorTOTP(ctx context.Context, name string, step int64) (bool, error) {
	n, err := r.w.Exec(ctx, `UPDATE operators SET totp_last_step = ? WHERE name = ? AND totp_last_step < ?`, step, name, step)
	if err != nil {
		return false, fmt.Errorf("advancing TOTP step of operator %q: %w", name, err)
	}
	return n == 1, nil
}
