package memory

import (
	"bytes"
	"cmp"
	"context"
	"fmt"

	"github.com/atoguard/atoguard/internal/store"
)

// copyOperator copies o in or out of the store.
func copyOperator(o store.Operator) store.Operator {
	o.TOTPSecret, o.CreatedAt = bytes.Clone(o.TOTPSecret), utc(o.CreatedAt)
	return o
}

// CreateOperator stores a new operator; store.ErrExists when the name is
// taken.
func (s *Store) CreateOperator(ctx context.Context, o store.Operator) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.operators[o.Name]; ok {
		return fmt.Errorf("creating operator %q: %w", o.Name, store.ErrExists)
	}
	s.operators[o.Name] = copyOperator(o)
	return nil
}

// GetOperator returns the operator called name or store.ErrNotFound.
func (s *Store) GetOperator(ctx context.Context, name string) (store.Operator, error) {
	return lookup(s, s.operators, "operator", name, copyOperator)
}

// ListOperators returns every operator, by name.
func (s *Store) ListOperators(ctx context.Context) ([]store.Operator, error) {
	return sortedValues(s, s.operators, copyOperator, func(a, b store.Operator) int {
		return cmp.Compare(a.Name, b.Name)
	}), nil
}

// AdvanceOperatorTOTP records step as the operator's last accepted TOTP
// step if it is greater than the stored one.
func (s *Store) AdvanceOperatorTOTP(ctx context.Context, name string, step int64) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.operators[name]
	if !ok || step <= o.TOTPLastStep {
		return false, nil
	}
	o.TOTPLastStep = step
	s.operators[name] = o
	return true, nil
}
