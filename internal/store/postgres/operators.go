package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/atoguard/atoguard/internal/store"
)

const operatorColumns = `name, password_hash, totp_secret, totp_last_step, created_at, disabled`

// uniqueViolation is PostgreSQL's SQLSTATE for a duplicate key.
const uniqueViolation = "23505"

// CreateOperator stores a new operator; store.ErrExists when the name is
// taken.
func (s *Store) CreateOperator(ctx context.Context, o store.Operator) error {
	if err := checkTimes(o.CreatedAt); err != nil {
		return fmt.Errorf("creating operator %q: %w", o.Name, err)
	}
	_, err := s.pool.Exec(ctx, `INSERT INTO operators (`+operatorColumns+`) VALUES ($1, $2, $3, $4, $5, $6)`,
		o.Name, o.PasswordHash, nonNil(o.TOTPSecret), o.TOTPLastStep, unixNano(o.CreatedAt), o.Disabled)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation {
		return fmt.Errorf("creating operator %q: %w", o.Name, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("creating operator %q: %w", o.Name, err)
	}
	return nil
}

// GetOperator returns the operator called name or store.ErrNotFound.
func (s *Store) GetOperator(ctx context.Context, name string) (store.Operator, error) {
	row := s.pool.QueryRow(ctx, `SELECT `+operatorColumns+` FROM operators WHERE name = $1`, name)
	o, err := scanOperator(row)
	if err != nil {
		return store.Operator{}, lookupErr("operator", name, err)
	}
	return o, nil
}

// ListOperators returns every operator, by name.
func (s *Store) ListOperators(ctx context.Context) ([]store.Operator, error) {
	return list(ctx, s.pool, "listing operators", scanOperator,
		`SELECT `+operatorColumns+` FROM operators ORDER BY name`)
}

// AdvanceOperatorTOTP records step as the operator's last accepted TOTP
// step if it is greater than the stored one, so that a code is accepted at
// most once; false when it is not, or when there is no such operator. Of
// concurrent calls with the same step, on any number of guard instances,
// one succeeds: PostgreSQL checks the condition again on the row a
// concurrent update left.
func (s *Store) AdvanceOperatorTOTP(ctx context.Context, name string, step int64) (bool, error) {
	tag, err := s.pool.Exec(ctx, `UPDATE operators SET totp_last_step = $2::bigint
		WHERE name = $1 AND totp_last_step < $2::bigint`, name, step)
	if err != nil {
		return false, fmt.Errorf("advancing TOTP step of operator %q: %w", name, err)
	}
	return tag.RowsAffected() == 1, nil
}

func scanOperator(sc scanner) (store.Operator, error) {
	var o store.Operator
	var created int64
	if err := sc.Scan(&o.Name, &o.PasswordHash, &o.TOTPSecret, &o.TOTPLastStep, &created, &o.Disabled); err != nil {
		return store.Operator{}, err
	}
	o.CreatedAt = fromUnixNano(created)
	return o, nil
}
