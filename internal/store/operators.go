package store

import (
	"context"
	"errors"
	"time"
)

// ErrExists is returned when creating a record whose unique name is taken.
var ErrExists = errors.New("already exists")

// Operator is a person who signs in to the dashboard (package dashboard)
// with a password and a TOTP code. Neither secret is stored in clear:
// PasswordHash is an argon2id hash and TOTPSecret is sealed (encrypted and
// authenticated) by the step-up keyring.
type Operator struct {
	Name         string
	PasswordHash string // encoded argon2id hash ($argon2id$v=19$m=...,t=...,p=...$salt$hash)
	TOTPSecret   []byte // sealed base32 TOTP secret
	TOTPLastStep int64  // last accepted TOTP time step, 0: none
	CreatedAt    time.Time
	Disabled     bool
}

// OperatorStore keeps the dashboard's operators.
type OperatorStore interface {
	// CreateOperator stores a new operator; ErrExists when the name is
	// taken.
	CreateOperator(ctx context.Context, o Operator) error
	// GetOperator returns the operator called name (names are compared
	// byte by byte) or ErrNotFound.
	GetOperator(ctx context.Context, name string) (Operator, error)
	// ListOperators returns every operator, ordered by name.
	ListOperators(ctx context.Context) ([]Operator, error)
	// AdvanceOperatorTOTP sets the operator's TOTPLastStep to step if step
	// is greater than the stored step, atomically, so that a TOTP code is
	// accepted at most once; false when it is not, or when there is no
	// such operator.
	AdvanceOperatorTOTP(ctx context.Context, name string, step int64) (bool, error)
}

// DecisionCounter counts the decisions of the audit log (the dashboard's
// overview).
type DecisionCounter interface {
	// DecisionCounts returns how many audit records received at or after
	// since got each decision; a decision none got is absent.
	DecisionCounts(ctx context.Context, since time.Time) (map[string]int64, error)
}
