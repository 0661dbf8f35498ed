package journal_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/journal"
)

var errDown = &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}

var errRefused = &pgconn.PgError{Code: "23505", Message: "duplicate key"}

// fakeWriter is an inner writer that fails with err while err is set and
// records the batches it accepts.
type fakeWriter struct {
	mu    sync.Mutex
	err   error
	fail  map[string]error // per audit event id, taking precedence
	calls int
	got   []string // audit event ids of the accepted batches
}

func (f *fakeWriter) Write(ctx context.Context, b store.Batch) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	for _, a := range b.Audit { // a merged batch fails as its first failing one
		if err := f.fail[a.EventID]; err != nil {
			return err
		}
	}
	if f.err != nil {
		return f.err
	}
	for _, a := range b.Audit {
		f.got = append(f.got, a.EventID)
	}
	return nil
}

func (f *fakeWriter) waitCalls(t *testing.T, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		f.mu.Lock()
		calls := f.calls
		f.mu.Unlock()
		if calls >= n {
			return
		}
	}
	t.Fatalf("inner writer not called %d times", n)
}

func (f *fakeWriter) set(err error) {
	f.mu.Lock()
	f.err = err
	f.mu.Unlock()
}

func (f *fakeWriter) accepted() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.got...)
}

func id(b store.Batch) string {
	if len(b.Audit) == 0 {
		return ""
	}
	return b.Audit[0].EventID
}

func batch(id string) store.Batch {
	return store.Batch{Audit: []store.AuditRecord{{EventID: id, ReceivedAt: time.Unix(1, 0).UTC(), Reasons: []string{"r"}}}}
}

func ids(prefix string, n int) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s%d", prefix, i))
	}
	return out
}

var quiet = slog.New(slog.DiscardHandler)

func open(t *testing.T, inner journal.Writer, dir string, opts journal.Options) *journal.Journal {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = quiet
	}
	if opts.MinBackoff == 0 {
		opts.MinBackoff = time.Millisecond
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 10 * time.Millisecond
	}
	j, err := journal.New(inner, dir, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { j.Close() })
	return j
}

func drain(t *testing.T, j *journal.Journal) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := j.Drain(ctx); err != nil {
		t.Fatalf("Drain: %v (state %+v)", err, j.State())
	}
}

func writeAll(t *testing.T, j *journal.Journal, names []string) {
	t.Helper()
	for _, n := range names {
		if err := j.Write(context.Background(), batch(n)); err != nil {
			t.Fatalf("Write(%s): %v", n, err)
		}
	}
}

func fileSize(t *testing.T, dir string) int64 {
	t.Helper()
	fi, err := os.Stat(filepath.Join(dir, "journal"))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestWrite(t *testing.T) {
	tests := []struct {
		name        string
		innerErr    error
		wantErr     error // nil: acknowledged
		wantPending int
		wantInner   []string // accepted by the inner writer before any replay
	}{
		{name: "inner works", wantInner: []string{"a"}},
		{name: "refused is returned", innerErr: errRefused, wantErr: errRefused},
		{name: "unreachable is journaled", innerErr: errDown, wantPending: 1},
		{name: "eof is journaled", innerErr: fmt.Errorf("writing batch: %w", io.ErrUnexpectedEOF), wantPending: 1},
		{name: "plain error is returned", innerErr: errors.New("bad value"), wantErr: errors.New("bad value")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inner := &fakeWriter{err: tt.innerErr}
			j := open(t, inner, t.TempDir(), journal.Options{MinBackoff: time.Hour, MaxBackoff: time.Hour})
			err := j.Write(context.Background(), batch("a"))
			if (err == nil) != (tt.wantErr == nil) || (err != nil && err.Error() != tt.wantErr.Error()) {
				t.Fatalf("Write: got %v, want %v", err, tt.wantErr)
			}
			st := j.State()
			if st.Pending != tt.wantPending || st.Degraded != (tt.wantPending > 0) {
				t.Errorf("State: got %+v, want %d pending", st, tt.wantPending)
			}
			if diff := cmp.Diff(tt.wantInner, inner.accepted()); diff != "" {
				t.Errorf("inner (-want +got):\n%s", diff)
			}
		})
	}
}

func TestReplayKeepsOrder(t *testing.T) {
	inner := &fakeWriter{err: errDown}
	dir := t.TempDir()
	j := open(t, inner, dir, journal.Options{})
	writeAll(t, j, ids("a", 50))
	if st := j.State(); st.Pending == 0 || !st.Degraded {
		t.Fatalf("State after writes to a down database: %+v", st)
	}

	// Writes concurrent with the replay still land after it.
	inner.set(nil)
	writeAll(t, j, ids("b", 50))
	drain(t, j)

	want := append(ids("a", 50), ids("b", 50)...)
	if diff := cmp.Diff(want, inner.accepted()); diff != "" {
		t.Errorf("order of writes (-want +got):\n%s", diff)
	}
	if st := j.State(); st != (journal.State{MaxBytes: 1 << 30}) {
		t.Errorf("State after drain: got %+v, want zero", st)
	}
	if got := fileSize(t, dir); got != 0 {
		t.Errorf("journal size after drain: %d, want 0", got)
	}
	// Back to writing through.
	writeAll(t, j, []string{"c"})
	if got := inner.accepted(); got[len(got)-1] != "c" || j.State().Pending != 0 {
		t.Errorf("write after drain not written through: %v, %+v", got, j.State())
	}
}

func TestJournalNonEmptyTakesWrites(t *testing.T) {
	inner := &fakeWriter{err: errDown}
	dir := t.TempDir()
	j := open(t, inner, dir, journal.Options{MinBackoff: time.Hour, MaxBackoff: time.Hour})
	writeAll(t, j, []string{"a0"})
	inner.waitCalls(t, 2) // the write, then the first replay attempt
	inner.set(nil)        // up again, but the replay waits an hour
	writeAll(t, j, []string{"a1", "a2"})
	if got := inner.accepted(); len(got) != 0 {
		t.Fatalf("inner got %v while the journal held batches", got)
	}
	if st := j.State(); st.Pending != 3 {
		t.Fatalf("State: %+v, want 3 pending", st)
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := j.Write(context.Background(), batch("late")); !errors.Is(err, journal.ErrClosed) {
		t.Errorf("Write after Close: got %v, want ErrClosed", err)
	}

	// Recovery: a new Journal on the directory replays them in order.
	j2 := open(t, inner, dir, journal.Options{})
	drain(t, j2)
	if diff := cmp.Diff([]string{"a0", "a1", "a2"}, inner.accepted()); diff != "" {
		t.Errorf("replayed after restart (-want +got):\n%s", diff)
	}
}

// blockingWriter blocks every write until its ctx ends.
type blockingWriter struct{ started chan struct{} }

func (w *blockingWriter) Write(ctx context.Context, b store.Batch) error {
	select {
	case w.started <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

func TestInnerTimeoutIsJournaled(t *testing.T) {
	inner := &blockingWriter{started: make(chan struct{}, 1)}
	j := open(t, inner, t.TempDir(), journal.Options{InnerTimeout: 20 * time.Millisecond})
	if err := j.Write(context.Background(), batch("a")); err != nil {
		t.Fatalf("Write: %v", err)
	}
	if st := j.State(); st.Pending != 1 {
		t.Errorf("State: %+v, want 1 pending", st)
	}

	// A caller that gives up is told so, not acknowledged.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	j2 := open(t, inner, t.TempDir(), journal.Options{})
	if err := j2.Write(ctx, batch("b")); !errors.Is(err, context.Canceled) {
		t.Errorf("Write with a canceled ctx: got %v, want context.Canceled", err)
	}
}

func TestCloseWaitsForReplay(t *testing.T) {
	dir := t.TempDir()
	down := &fakeWriter{err: errDown}
	j := open(t, down, dir, journal.Options{MinBackoff: time.Hour, MaxBackoff: time.Hour})
	writeAll(t, j, []string{"a"})
	j.Close()

	inner := &blockingWriter{started: make(chan struct{}, 1)}
	j = open(t, inner, dir, journal.Options{InnerTimeout: time.Hour})
	<-inner.started // the replay is inside the inner writer
	done := make(chan error)
	go func() { done <- j.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return")
	}
	// The abandoned replay left the batch journaled.
	up := &fakeWriter{}
	j = open(t, up, dir, journal.Options{})
	drain(t, j)
	if diff := cmp.Diff([]string{"a"}, up.accepted()); diff != "" {
		t.Errorf("replayed (-want +got):\n%s", diff)
	}
}

func TestRecoveryCutsBadTail(t *testing.T) {
	tests := []struct {
		name      string
		damage    func(t *testing.T, path string, sizes []int64)
		wantIDs   []string
		wantAside bool
		wantLog   string
	}{
		{
			name:    "intact",
			damage:  func(*testing.T, string, []int64) {},
			wantIDs: []string{"a0", "a1", "a2"},
		},
		{
			name: "torn header",
			damage: func(t *testing.T, path string, _ []int64) {
				appendBytes(t, path, []byte{0, 0, 0})
			},
			wantIDs: []string{"a0", "a1", "a2"},
			wantLog: "torn record",
		},
		{
			name: "torn payload",
			damage: func(t *testing.T, path string, _ []int64) {
				rec := make([]byte, 8+10)
				binary.BigEndian.PutUint32(rec, 100) // declares 100 bytes, has 10
				appendBytes(t, path, rec)
			},
			wantIDs: []string{"a0", "a1", "a2"},
			wantLog: "torn record",
		},
		{
			name: "last record cut short",
			damage: func(t *testing.T, path string, sizes []int64) {
				if err := os.Truncate(path, sizes[2]-5); err != nil {
					t.Fatal(err)
				}
			},
			wantIDs: []string{"a0", "a1"},
			wantLog: "torn record",
		},
		{
			name: "corrupt middle record",
			damage: func(t *testing.T, path string, sizes []int64) {
				f, err := os.OpenFile(path, os.O_RDWR, 0)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				if _, err := f.WriteAt([]byte{'X'}, sizes[0]+12); err != nil {
					t.Fatal(err)
				}
			},
			wantIDs:   []string{"a0"},
			wantAside: true,
			wantLog:   "corrupt record",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "journal")
			j := open(t, &fakeWriter{err: errDown}, dir, journal.Options{MinBackoff: time.Hour, MaxBackoff: time.Hour})
			var sizes []int64 // file size after each write
			for _, n := range []string{"a0", "a1", "a2"} {
				writeAll(t, j, []string{n})
				sizes = append(sizes, fileSize(t, dir))
			}
			j.Close()
			tt.damage(t, path, sizes)

			var logs bytes.Buffer
			inner := &fakeWriter{}
			j = open(t, inner, dir, journal.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			drain(t, j)
			if diff := cmp.Diff(tt.wantIDs, inner.accepted()); diff != "" {
				t.Errorf("recovered (-want +got):\n%s", diff)
			}
			aside, _ := filepath.Glob(filepath.Join(dir, "journal.corrupt-*"))
			if got := len(aside) > 0; got != tt.wantAside {
				t.Errorf("corrupt copy kept: %v, want %v", got, tt.wantAside)
			}
			if tt.wantLog != "" && !strings.Contains(logs.String(), tt.wantLog) {
				t.Errorf("log %q lacks %q", logs.String(), tt.wantLog)
			}
		})
	}
}

func appendBytes(t *testing.T, path string, p []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(p); err != nil {
		t.Fatal(err)
	}
}

func TestMaxBytes(t *testing.T) {
	inner := &fakeWriter{err: errDown}
	dir := t.TempDir()
	j := open(t, inner, dir, journal.Options{MaxBytes: 1000, MinBackoff: time.Hour, MaxBackoff: time.Hour})
	var acked []string
	var err error
	for i := 0; i < 100; i++ {
		n := fmt.Sprintf("a%d", i)
		if err = j.Write(context.Background(), batch(n)); err != nil {
			break
		}
		acked = append(acked, n)
	}
	if !errors.Is(err, journal.ErrFull) {
		t.Fatalf("Write past MaxBytes: got %v, want ErrFull", err)
	}
	if len(acked) == 0 {
		t.Fatal("no write fit in 1000 bytes")
	}
	st := j.State()
	if st.Pending != len(acked) || st.PendingBytes > 1000 || fileSize(t, dir) != st.PendingBytes || st.Refused != 1 {
		t.Errorf("State: %+v, want %d pending in at most 1000 bytes (file %d), 1 refused", st, len(acked), fileSize(t, dir))
	}
	j.Close()
	inner.set(nil)
	j = open(t, inner, dir, journal.Options{MaxBytes: 1000})
	drain(t, j)
	if diff := cmp.Diff(acked, inner.accepted()); diff != "" {
		t.Errorf("every acknowledged batch written (-want +got):\n%s", diff)
	}
}

func TestRejectedOnReplay(t *testing.T) {
	inner := &fakeWriter{err: errDown, fail: map[string]error{"a1": errRefused}}
	dir := t.TempDir()
	logFile, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	j := open(t, inner, dir, journal.Options{Logger: slog.New(slog.NewTextHandler(logFile, nil))})
	writeAll(t, j, []string{"a0", "a1", "a2"})
	inner.set(nil)
	drain(t, j)
	if diff := cmp.Diff([]string{"a0", "a2"}, inner.accepted()); diff != "" {
		t.Errorf("written (-want +got):\n%s", diff)
	}
	// Acknowledged records the database refused are an alert: the journal
	// stays degraded until an operator deals with them.
	if st := j.State(); st.Rejected != 1 || !st.Degraded {
		t.Errorf("State: %+v, want 1 rejected, degraded", st)
	}
	logged, _ := os.ReadFile(logFile.Name())
	if got := string(logged); !strings.Contains(got, "level=ERROR") || !strings.Contains(got, "atoguard journal inspect") {
		t.Errorf("log %q: want an error naming atoguard journal inspect", got)
	}
	rs, err := journal.ReadRejected(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || id(rs[0].Batch) != "a1" || !strings.Contains(rs[0].Err, "duplicate key") || rs[0].RejectedAt.IsZero() {
		t.Errorf("ReadRejected = %+v, want batch a1 with its error and time", rs)
	}
	// A restart still sees them.
	j.Close()
	j2 := open(t, inner, dir, journal.Options{})
	if st := j2.State(); st.Rejected != 1 || !st.Degraded {
		t.Errorf("State after a restart: %+v, want 1 rejected, degraded", st)
	}
}

func TestRetryAndDiscardRejected(t *testing.T) {
	inner := &fakeWriter{err: errDown, fail: map[string]error{"a1": errRefused, "a2": errRefused}}
	dir := t.TempDir()
	j := open(t, inner, dir, journal.Options{})
	writeAll(t, j, []string{"a0", "a1", "a2"})
	inner.set(nil)
	drain(t, j)
	if st := j.State(); st.Rejected != 2 {
		t.Fatalf("State: %+v, want 2 rejected", st)
	}

	// The database takes a1 now, and still refuses a2, which stays.
	db := &fakeWriter{fail: map[string]error{"a2": errRefused}}
	written, err := journal.RetryRejected(t.Context(), dir, db)
	if written != 1 || err == nil || !strings.Contains(err.Error(), "1 batch") {
		t.Errorf("RetryRejected = %d, %v; want 1 and an error about the 1 batch still refused", written, err)
	}
	if diff := cmp.Diff([]string{"a1"}, db.accepted()); diff != "" {
		t.Errorf("retried (-want +got):\n%s", diff)
	}
	rs, err := journal.ReadRejected(dir)
	if err != nil || len(rs) != 1 || id(rs[0].Batch) != "a2" {
		t.Fatalf("ReadRejected after retry = %+v, %v; want a2 alone", rs, err)
	}
	if st := j.State(); st.Rejected != 1 || !st.Degraded {
		t.Errorf("State after retry: %+v, want 1 rejected, degraded", st)
	}

	n, err := journal.DiscardRejected(dir)
	if n != 1 || err != nil {
		t.Errorf("DiscardRejected = %d, %v; want 1, nil", n, err)
	}
	if rs, err := journal.ReadRejected(dir); err != nil || len(rs) != 0 {
		t.Errorf("ReadRejected after discard = %+v, %v; want none", rs, err)
	}
	if st := j.State(); st.Rejected != 0 || st.Degraded {
		t.Errorf("State after discard: %+v, want nothing rejected, not degraded", st)
	}
}

func TestConcurrentWrites(t *testing.T) {
	inner := &fakeWriter{}
	j := open(t, inner, t.TempDir(), journal.Options{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 50 {
				if i == 10*w {
					inner.set(errDown)
				}
				if i == 10*w+5 {
					inner.set(nil)
				}
				if err := j.Write(context.Background(), batch(fmt.Sprintf("w%d-%d", w, i))); err != nil {
					t.Errorf("Write: %v", err)
				}
			}
		})
	}
	wg.Wait()
	inner.set(nil)
	drain(t, j)
	got := inner.accepted()
	if len(got) != 200 {
		t.Fatalf("written %d batches, want 200", len(got))
	}
	// Each writer's batches keep their order.
	last := map[string]int{}
	for _, g := range got {
		var w, i int
		fmt.Sscanf(g, "w%d-%d", &w, &i)
		k := fmt.Sprint(w)
		if prev, ok := last[k]; ok && i <= prev {
			t.Errorf("writer %d: batch %d after %d", w, i, prev)
		}
		last[k] = i
	}
}

func TestUnavailable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errDown, true},
		{fmt.Errorf("writing batch: %w", syscall.ECONNRESET), true},
		{io.EOF, true},
		{fmt.Errorf("x: %w", io.ErrUnexpectedEOF), true},
		{context.DeadlineExceeded, true},
		{context.Canceled, false},
		{fmt.Errorf("writing batch: %w", pgconn.ErrConnClosed), true},
		{&pgconn.ConnectError{}, true},
		{&pgconn.PgError{Code: "57P01"}, true},  // admin shutdown
		{&pgconn.PgError{Code: "57P03"}, true},  // cannot connect now
		{&pgconn.PgError{Code: "08006"}, true},  // connection failure
		{&pgconn.PgError{Code: "53300"}, true},  // too many connections
		{&pgconn.PgError{Code: "23505"}, false}, // unique violation
		{&pgconn.PgError{Code: "22007"}, false}, // invalid datetime
		{fmt.Errorf("writing batch: %w", &pgconn.PgError{Code: "23503"}), false},
		{errors.New("audit \"x\": time out of range"), false},
	}
	for _, tt := range tests {
		if got := journal.Unavailable(tt.err); got != tt.want {
			t.Errorf("Unavailable(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

// TestBatchRoundTrip checks that every field of every record type in a
// Batch survives journaling: a batch with every field set is written to a
// down database, recovered and replayed, and compared.
func TestBatchRoundTrip(t *testing.T) {
	var want store.Batch
	fill(reflect.ValueOf(&want).Elem(), 1)

	dir := t.TempDir()
	j := open(t, &fakeWriter{err: errDown}, dir, journal.Options{MinBackoff: time.Hour, MaxBackoff: time.Hour})
	if err := j.Write(context.Background(), want); err != nil {
		t.Fatal(err)
	}
	j.Close()

	var got store.Batch
	capture := writerFunc(func(_ context.Context, b store.Batch) error { got = b; return nil })
	// AppliedAt is not journaled: it is when the batch is written.
	j = open(t, capture, dir, journal.Options{Now: func() time.Time { return want.AppliedAt }})
	drain(t, j)
	j.Close()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("batch after journaling (-want +got):\n%s", diff)
	}
}

type writerFunc func(context.Context, store.Batch) error

func (f writerFunc) Write(ctx context.Context, b store.Batch) error { return f(ctx, b) }

// fill sets every field reachable from v to a non-zero value derived from
// seed, failing on a kind it does not know so that a new field type is
// not silently left out.
func fill(v reflect.Value, seed int) {
	switch v.Kind() {
	case reflect.Struct:
		if v.Type() == reflect.TypeFor[time.Time]() {
			v.Set(reflect.ValueOf(time.Date(2026, 11, 25, 21, 0, seed, 123456789+seed, time.UTC)))
			return
		}
		for i := range v.NumField() {
			fill(v.Field(i), seed*31+i+1)
		}
	case reflect.Slice:
		n := 2
		s := reflect.MakeSlice(v.Type(), n, n)
		for i := range n {
			fill(s.Index(i), seed*7+i+1)
		}
		v.Set(s)
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d-\u00e9\x00\"", seed))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(seed)*1_000_003 + 1)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(seed%200) + 1)
	default:
		panic(fmt.Sprintf("fill: unhandled kind %s of %s", v.Kind(), v.Type()))
	}
}

// TestCompaction checks that batches written through before the database
// failed again are cut from the file, so a restart does not replay them.
func TestCompaction(t *testing.T) {
	dir := t.TempDir()
	j := open(t, &fakeWriter{err: errDown}, dir, journal.Options{MinBackoff: time.Hour, MaxBackoff: time.Hour})
	writeAll(t, j, ids("a", 5))
	full := fileSize(t, dir)
	j.Close()

	var mu sync.Mutex
	var got []string
	flaky := writerFunc(func(_ context.Context, b store.Batch) error {
		mu.Lock()
		defer mu.Unlock()
		if len(got) == 2 {
			return errDown
		}
		got = append(got, id(b))
		return nil
	})
	j = open(t, flaky, dir, journal.Options{ChunkBytes: 1}) // one batch a write
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if st := j.State(); st.Pending == 3 && fileSize(t, dir) == st.PendingBytes {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not compacted: state %+v, file %d of %d bytes", j.State(), fileSize(t, dir), full)
		}
	}
	j.Close()

	inner := &fakeWriter{}
	j = open(t, inner, dir, journal.Options{})
	drain(t, j)
	if diff := cmp.Diff(ids("a", 5), append(got, inner.accepted()...)); diff != "" {
		t.Errorf("written (-want +got):\n%s", diff)
	}
}
