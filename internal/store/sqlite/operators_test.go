package sqlite_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/sqlite"
)

func TestOperators(t *testing.T) {
	ctx := context.Background()
	st := open(t, t.TempDir(), sqlite.Options{})
	t.Cleanup(func() { _ = st.Close() })
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	op := store.Operator{Name: "alice", PasswordHash: "$argon2id$x", TOTPSecret: []byte{1, 2, 3}, CreatedAt: at}
	if err := st.CreateOperator(ctx, op); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateOperator(ctx, op); !errors.Is(err, store.ErrExists) {
		t.Errorf("second create: %v, want ErrExists", err)
	}
	got, err := st.GetOperator(ctx, "alice")
	if err != nil || got.Name != "alice" || got.PasswordHash != op.PasswordHash || string(got.TOTPSecret) != "\x01\x02\x03" || !got.CreatedAt.Equal(at) {
		t.Errorf("GetOperator = %+v, %v", got, err)
	}
	if _, err := st.GetOperator(ctx, "bob"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown operator: %v, want ErrNotFound", err)
	}
	for _, step := range []struct {
		step int64
		want bool
	}{{100, true}, {100, false}, {99, false}, {101, true}} {
		if ok, err := st.AdvanceOperatorTOTP(ctx, "alice", step.step); err != nil || ok != step.want {
			t.Errorf("AdvanceOperatorTOTP(%d) = %v, %v; want %v", step.step, ok, err, step.want)
		}
	}
	if ops, err := st.ListOperators(ctx); err != nil || len(ops) != 1 || ops[0].TOTPLastStep != 101 {
		t.Errorf("ListOperators = %+v, %v", ops, err)
	}
}

func TestDecisionCounts(t *testing.T) {
	ctx := context.Background()
	st := open(t, t.TempDir(), sqlite.Options{})
	t.Cleanup(func() { _ = st.Close() })
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	rec := func(id, decision string, ago time.Duration) store.AuditRecord {
		return store.AuditRecord{EventID: id, ReceivedAt: now.Add(-ago), OccurredAt: now.Add(-ago), Type: "login.failed", Decision: decision}
	}
	if err := st.Write(ctx, store.Batch{Audit: []store.AuditRecord{
		rec("e1", "allow", time.Minute), rec("e2", "allow", 2*time.Minute), rec("e3", "deny", 30*time.Minute), rec("e4", "deny", 3*time.Hour),
	}}); err != nil {
		t.Fatal(err)
	}
	got, err := st.DecisionCounts(ctx, now.Add(-time.Hour))
	if err != nil || len(got) != 2 || got["allow"] != 2 || got["deny"] != 1 {
		t.Errorf("DecisionCounts = %v, %v", got, err)
	}
}
