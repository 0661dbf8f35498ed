package cli_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/journal"
)

type writerFunc func(ctx context.Context, b store.Batch) error

func (f writerFunc) Write(ctx context.Context, b store.Batch) error { return f(ctx, b) }

// refuseOnReplay leaves the records in DATA/journal/rejected as a guard
// does when PostgreSQL is down while they are written and refuses them
// when it is back.
func refuseOnReplay(t *testing.T, data string, records ...store.AuditRecord) {
	t.Helper()
	var down atomic.Bool
	down.Store(true)
	inner := writerFunc(func(context.Context, store.Batch) error {
		if down.Load() {
			return context.DeadlineExceeded
		}
		return errors.New("date/time field value out of range")
	})
	j, err := journal.New(inner, filepath.Join(data, "journal"), journal.Options{Logger: slog.New(slog.DiscardHandler), MinBackoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	if err := j.Write(t.Context(), store.Batch{Audit: records}); err != nil {
		t.Fatal(err)
	}
	down.Store(false)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if err := j.Drain(ctx); err != nil {
		t.Fatal(err)
	}
}

func auditRecord(id string, at time.Time) store.AuditRecord {
	return store.AuditRecord{EventID: id, ReceivedAt: at, OccurredAt: at, Type: "login.failed", Account: "taro", Login: "taro",
		IP: "203.0.113.7", Decision: "allow", Reasons: []string{}}
}

func TestJournalCommand(t *testing.T) {
	data := t.TempDir()
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	refuseOnReplay(t, data, auditRecord("ev-1", at), auditRecord("ev-2", at.Add(time.Minute)))

	code, stdout, stderr := run(t, "journal", "inspect", "--data", data)
	if code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, stderr)
	}
	for _, want := range []string{"2026-11-25T10:00:00Z", "2026-11-25T10:01:00Z", "out of range", "1 refused batch(es), 2 record(s)"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("inspect printed\n%s\nwant %q in it", stdout, want)
		}
	}

	code, stdout, stderr = run(t, "journal", "discard", "--data", data)
	if code == 0 || !strings.Contains(stderr, "--yes") || !strings.Contains(stdout, "2 record(s)") {
		t.Errorf("discard without --yes: exit %d, stdout %q, stderr %q; want a refusal naming --yes and the list", code, stdout, stderr)
	}
	if rs, err := journal.ReadRejected(filepath.Join(data, "journal")); err != nil || len(rs) != 1 {
		t.Fatalf("after discard without --yes: %d batches, %v; want 1 kept", len(rs), err)
	}

	if code, _, stderr := run(t, "journal", "replay", "--data", data, "--records", ""); code == 0 || !strings.Contains(stderr, "postgres://") {
		t.Errorf("replay without records: exit %d, stderr %q; want an error naming postgres://", code, stderr)
	}

	code, stdout, stderr = run(t, "journal", "discard", "--data", data, "--yes")
	if code != 0 || !strings.Contains(stdout, "discarded: 1 batch(es)") {
		t.Errorf("discard --yes: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if code, stdout, _ := run(t, "journal", "inspect", "--data", data); code != 0 || !strings.Contains(stdout, "no refused batches") {
		t.Errorf("inspect after discard: exit %d, %q", code, stdout)
	}
}

func TestJournalReplayToPostgres(t *testing.T) {
	url := recordsPostgres(t)
	data := t.TempDir()
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	refuseOnReplay(t, data, auditRecord("ev-replayed", at))

	code, stdout, stderr := run(t, "journal", "replay", "--data", data, "--records", url)
	if code != 0 || !strings.Contains(stdout, "written: 1 batch(es)") {
		t.Fatalf("replay: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	st := openPostgres(t, url)
	n, err := st.CountAudit(t.Context())
	if err != nil || n != 1 {
		t.Errorf("audit records in PostgreSQL after replay = %d, %v; want 1", n, err)
	}
	if rs, err := journal.ReadRejected(filepath.Join(data, "journal")); err != nil || len(rs) != 0 {
		t.Errorf("after replay: %d batches left, %v; want none", len(rs), err)
	}
}
