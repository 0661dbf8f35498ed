package sqlite

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// CreateOperator stores a new operator; store.ErrExists when the name is
// taken.
func (s *Store) CreateOperator(ctx context.Context, o store.Operator) error {
	if err := checkTimes(o.CreatedAt); err != nil {
		return fmt.Errorf("creating operator %q: %w", o.Name, err)
	}
	secret := o.TOTPSecret
	if secret == nil {
		secret = []byte{}
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO operators (name, password_hash, totp_secret, totp_last_step, created_at, disabled)
		VALUES (?, ?, ?, ?, ?, ?)`, o.Name, o.PasswordHash, secret, o.TOTPLastStep, unixNano(o.CreatedAt), o.Disabled)
	if err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed") {
		return fmt.Errorf("creating operator %q: %w", o.Name, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("creating operator %q: %w", o.Name, err)
	}
	return nil
}

// GetOperator returns the operator called name or store.ErrNotFound.
func (s *Store) GetOperator(ctx context.Context, name string) (store.Operator, error) {
	var o store.Operator
	var created int64
	err := s.r.QueryRowContext(ctx, `SELECT name, password_hash, totp_secret, totp_last_step, created_at, disabled
		FROM operators WHERE name = ?`, name).Scan(&o.Name, &o.PasswordHash, &o.TOTPSecret, &o.TOTPLastStep, &created, &o.Disabled)
	if err != nil {
		return store.Operator{}, lookupErr("operator", name, err)
	}
	o.CreatedAt = fromUnixNano(created)
	return o, nil
}

// ListOperators returns every operator, by name.
func (s *Store) ListOperators(ctx context.Context) ([]store.Operator, error) {
	return list(ctx, s.r, "listing operators", func(sc scanner) (store.Operator, error) {
		var o store.Operator
		var created int64
		err := sc.Scan(&o.Name, &o.PasswordHash, &o.TOTPSecret, &o.TOTPLastStep, &created, &o.Disabled)
		o.CreatedAt = fromUnixNano(created)
		return o, err
	}, `SELECT name, password_hash, totp_secret, totp_last_step, created_at, disabled FROM operators ORDER BY name`)
}

// AdvanceOperatorTOTP records step as the operator's last accepted TOTP
// step if it is greater than the stored one, so that a code is accepted at
// most once; false when it is not.
func (s *Store) AdvanceOperatorTOTP(ctx context.Context, name string, step int64) (bool, error) {
	res, err := s.w.ExecContext(ctx, `UPDATE operators SET totp_last_step = ? WHERE name = ? AND totp_last_step < ?`, step, name, step)
	if err != nil {
		return false, fmt.Errorf("advancing TOTP step of operator %q: %w", name, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("advancing TOTP step of operator %q: %w", name, err)
	}
	return n == 1, nil
}

// DecisionCounts returns how many events received since since got each
// decision, for the dashboard.
func (s *Store) DecisionCounts(ctx context.Context, since time.Time) (map[string]int64, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT decision, count(*) FROM audit WHERE received_at >= ? GROUP BY decision`, unixNano(since))
	if err != nil {
		return nil, fmt.Errorf("counting decisions: %w", err)
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var d string
		var n int64
		if err := rows.Scan(&d, &n); err != nil {
			return nil, fmt.Errorf("counting decisions: %w", err)
		}
		out[d] = n
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("counting decisions: %w", err)
	}
	return out, nil
}
