package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// operator returns an active operator with every other field set.
func operator(name string, created time.Time) store.Operator {
	hash := "$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$" + name
	return store.Operator{Name: name, PasswordHash: hash, TOTPSecret: []byte("sealed-\x00\xff-" + name), CreatedAt: created}
}

func createOperator(t *testing.T, s store.OperatorStore, o store.Operator) {
	t.Helper()
	if err := s.CreateOperator(t.Context(), o); err != nil {
		t.Fatalf("CreateOperator(%q): %v", o.Name, err)
	}
}

func testOperators(t *testing.T, s store.Store) {
	ctx := t.Context()
	if got, err := s.ListOperators(ctx); err != nil || len(got) != 0 {
		t.Errorf("ListOperators on an empty store = %v, %v; want none", got, err)
	}
	bob := operator("bob", at(time.Hour))
	bob.Disabled = true
	bob.TOTPLastStep = 42
	alice := operator("alice", t0())
	noSecret := operator("carol", time.Time{})
	noSecret.TOTPSecret = nil
	for _, o := range []store.Operator{bob, alice, noSecret} {
		createOperator(t, s, o)
	}

	dup := operator("alice", at(2*time.Hour))
	dup.PasswordHash = "other"
	if err := s.CreateOperator(ctx, dup); !errors.Is(err, store.ErrExists) {
		t.Errorf("CreateOperator(taken name) error = %v, want ErrExists", err)
	}
	got, err := s.GetOperator(ctx, "alice")
	if err != nil {
		t.Fatalf("GetOperator: %v", err)
	}
	diff(t, "GetOperator after a duplicate create", got, alice)

	all, err := s.ListOperators(ctx)
	if err != nil {
		t.Fatalf("ListOperators: %v", err)
	}
	diff(t, "ListOperators", all, []store.Operator{alice, bob, noSecret})

	if _, err := s.GetOperator(ctx, "nobody"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetOperator(unknown) error = %v, want ErrNotFound", err)
	}
	if _, err := s.GetOperator(ctx, "Alice"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetOperator(other case) error = %v, want ErrNotFound", err)
	}
}

func testAdvanceOperatorTOTP(t *testing.T, s store.Store) {
	ctx := t.Context()
	createOperator(t, s, operator("alice", t0()))
	createOperator(t, s, operator("bob", t0()))
	steps := totpSteps
	for _, step := range steps {
		got, err := s.AdvanceOperatorTOTP(ctx, "alice", step.step)
		if err != nil {
			t.Fatalf("AdvanceOperatorTOTP(%d): %v", step.step, err)
		}
		if got != step.want {
			t.Errorf("AdvanceOperatorTOTP(%d) = %v, want %v", step.step, got, step.want)
		}
	}
	want := operator("alice", t0())
	want.TOTPLastStep = 59000003
	got, err := s.GetOperator(ctx, "alice")
	if err != nil {
		t.Fatalf("GetOperator: %v", err)
	}
	diff(t, "GetOperator", got, want)
	if got, err := s.GetOperator(ctx, "bob"); err != nil || got.TOTPLastStep != 0 {
		t.Errorf("the other operator: TOTPLastStep %d, %v; want 0", got.TOTPLastStep, err)
	}
	if ok, err := s.AdvanceOperatorTOTP(ctx, "nobody", 1); err != nil || ok {
		t.Errorf("AdvanceOperatorTOTP(unknown) = %v, %v; want false, nil", ok, err)
	}
}

// testConcurrentOperatorTOTP checks that of many concurrent uses of one
// operator TOTP step exactly one succeeds.
func testConcurrentOperatorTOTP(t *testing.T, s store.Store) {
	createOperator(t, s, operator("alice", t0()))
	const n = 16
	if got := accepted(t, n, func() (bool, error) { return s.AdvanceOperatorTOTP(t.Context(), "alice", 7) }); got[0] != 1 {
		t.Errorf("%d concurrent uses of one step: %d accepted, want 1", n, got[0])
	}
}

// testDecisionCounts checks the counts by decision of the audit records
// received since a time, the time itself included.
func testDecisionCounts(t *testing.T, s store.Store) {
	ctx := t.Context()
	rec := func(id, decision string, received time.Time) store.AuditRecord {
		a := audit(id, received)
		a.Decision = decision
		return a
	}
	if err := s.Write(ctx, store.Batch{Audit: []store.AuditRecord{
		rec("e1", "allow", at(-3*time.Hour)),
		rec("e2", "deny", at(-30*time.Minute)),
		rec("e3", "allow", at(-time.Hour)),
		rec("e4", "allow", at(-time.Minute)),
		rec("e5", "challenge", at(0)),
	}}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	tests := []struct {
		name  string
		since time.Time
		want  map[string]int64
	}{
		{"last hour, its start included", at(-time.Hour), map[string]int64{"allow": 2, "deny": 1, "challenge": 1}},
		{"last day", at(-24 * time.Hour), map[string]int64{"allow": 3, "deny": 1, "challenge": 1}},
		{"the last one only", t0().In(time.UTC), map[string]int64{"challenge": 1}},
		{"none since", at(time.Nanosecond), map[string]int64{}},
	}
	for _, tt := range tests {
		got, err := s.DecisionCounts(ctx, tt.since)
		if err != nil {
			t.Fatalf("%s: DecisionCounts: %v", tt.name, err)
		}
		diff(t, "DecisionCounts, "+tt.name, got, tt.want)
	}
}
