// Package journal keeps store writes in a local append-only file while
// the database is unreachable and replays them, in order, once it
// answers again, so that no acknowledged write is lost.
package journal

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// Writer is what a Journal writes through; store.Store and
// groupcommit.Writer are ones.
type Writer interface {
	Write(ctx context.Context, b store.Batch) error
}

var _ Writer = (*Journal)(nil)

// Errors callers branch on.
var (
	// ErrFull is returned by Write when journaling the batch would take
	// the journal past Options.MaxBytes; the batch is not acknowledged.
	ErrFull = errors.New("journal full")
	// ErrClosed is returned by Write after Close.
	ErrClosed = errors.New("journal closed")
)

// File names in the journal directory.
const (
	fileName     = "journal"
	rejectedName = "rejected" // batches the inner writer refused on replay (rejected.go)
	tmpName      = "journal.tmp"
)

// headerSize is a record's header: payload length and CRC-32C of the
// payload, both big endian.
const headerSize = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Defaults for the zero values of Options.
const (
	defaultMaxBytes     = 1 << 30
	defaultMinBackoff   = 100 * time.Millisecond
	defaultMaxBackoff   = 5 * time.Second
	defaultInnerTimeout = 10 * time.Second
	defaultKeepBatchIDs = 24 * time.Hour
	defaultChunkBytes   = 4 << 20
	defaultDrainWait    = time.Second
	defaultPruneEvery   = time.Hour
)

// Options tunes a Journal. The zero value is valid.
type Options struct {
	// Unavailable reports whether an error of the inner writer means the
	// database could not be reached (the batch is then journaled) rather
	// than that it refused the batch (the error is returned). nil means
	// the package's Unavailable.
	Unavailable func(error) bool
	// MaxBytes caps the journal file; 0 means 1 GiB. A write that would
	// take it past the cap fails with ErrFull.
	MaxBytes int64
	// MinBackoff and MaxBackoff bound the wait between replay attempts
	// while the inner writer is unavailable; 0 means 100ms and 5s.
	MinBackoff, MaxBackoff time.Duration
	// InnerTimeout bounds each call of the inner writer; when it ends the
	// call first, the database counts as unavailable. 0 means 10s.
	InnerTimeout time.Duration
	// Logger receives recovery and replay events; nil means slog.Default().
	Logger *slog.Logger
	// KeepBatchIDs is how long the database keeps the id of a batch
	// written (store.Batch.IDs), within which writing it again writes
	// nothing; 0 means 24 hours. Every PruneEvery (0: an hour) the
	// journal has the inner writer forget older ids, if it keeps any
	// (store.BatchIDPruner).
	KeepBatchIDs, PruneEvery time.Duration
	// DrainWait is how long a write waits while the replay writes the
	// last journaled batches, to go straight to the inner writer once
	// they are written, before it is journaled behind them after all; 0
	// means 1 s.
	DrainWait time.Duration
	// ChunkBytes caps the journaled batches the replay merges into one
	// write (at least one); 0 means 4 MiB.
	ChunkBytes int64
	// Now is the time batch ids are applied at; nil means time.Now.
	Now func() time.Time
}

// State is a Journal's condition, for readiness checks.
type State struct {
	Pending      int   `json:"pending"`       // batches journaled and not yet written through
	PendingBytes int64 `json:"pending_bytes"` // their size in the journal file
	// Degraded is true while the journal holds batches, the inner
	// writer last failed as unavailable, or the rejected file holds
	// batches (acknowledged records the database refused: an operator
	// must retry or discard them with `atoguard journal`).
	Degraded bool `json:"degraded"`
	// Rejected counts the batches the inner writer refused on replay,
	// kept in the rejected file (by this run or an earlier one).
	Rejected int   `json:"rejected"`
	Refused  int   `json:"refused"`   // writes refused with ErrFull since New (not acknowledged)
	MaxBytes int64 `json:"max_bytes"` // the cap on the journal file (Options.MaxBytes)
}

// Journal is a Writer that writes through to an inner Writer and, while
// that one is unavailable, appends batches to a file in its directory
// instead, acknowledging them once they are fsynced. A goroutine replays
// the file into the inner writer, oldest first, as soon as it works
// again; while the file holds batches, new ones are appended behind them
// so that the order of writes is kept. The replay merges as many batches
// as fit Options.ChunkBytes into each write (one at a time for a chunk the
// inner writer refuses, so that only the batch refused is set aside), and
// while it writes the last of them new writes wait for it (up to
// Options.DrainWait) and then go straight through: writes that keep
// coming cannot keep the journal from emptying.
//
// Every batch gets an id (store.Batch.IDs) before its first write. A
// batch may reach the inner writer twice (after a crash mid-replay, or a
// timed-out write that did commit); an inner writer that keeps batch ids
// then refuses it with store.ErrBatchApplied, which the journal takes as
// written, so that nothing is written twice. With one that keeps none,
// replay is at least once and the inner writer's writes must be
// idempotent.
type Journal struct {
	inner  Writer
	dir    string
	opts   Options
	log    *slog.Logger
	wake   chan struct{} // buffered: a write appended to an empty journal
	stop   chan struct{} // closed by Close
	cancel context.CancelFunc
	done   chan struct{} // closed when replay returns

	mu        sync.Mutex
	f         *os.File // the journal file, nil after Close
	readOff   int64    // offset of the oldest record not yet written through
	endOff    int64    // end of the last complete record
	pending   int
	innerDown bool
	rejSize   int64 // size of the rejected file when rejCount was counted
	rejCount  int
	refused   int           // writes refused with ErrFull
	door      chan struct{} // non-nil: writes wait for it to close (shutDoor)
	closed    bool
	writers   sync.WaitGroup // Writes in flight, for Close
}

// New returns a Journal writing through to inner, keeping its file in
// dir (created if missing). Batches a previous Journal left in dir are
// replayed first. A torn record at the end of the file, from a crash
// mid-append, is cut off (it was never acknowledged). Call Close to stop
// the replay goroutine.
func New(inner Writer, dir string, opts Options) (*Journal, error) {
	if opts.Unavailable == nil {
		opts.Unavailable = Unavailable
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = defaultMaxBytes
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = defaultMinBackoff
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = defaultMaxBackoff
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = opts.MinBackoff
	}
	if opts.InnerTimeout <= 0 {
		opts.InnerTimeout = defaultInnerTimeout
	}
	if opts.KeepBatchIDs <= 0 {
		opts.KeepBatchIDs = defaultKeepBatchIDs
	}
	if opts.PruneEvery <= 0 {
		opts.PruneEvery = defaultPruneEvery
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.DrainWait <= 0 {
		opts.DrainWait = defaultDrainWait
	}
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = defaultChunkBytes
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("opening journal: %w", err)
	}
	_ = os.Remove(filepath.Join(dir, tmpName)) // a compaction that did not finish
	f, err := os.OpenFile(filepath.Join(dir, fileName), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening journal: %w", err)
	}
	if err := syncDir(dir); err != nil {
		f.Close()
		return nil, fmt.Errorf("opening journal: %w", err)
	}
	j := &Journal{
		inner: inner, dir: dir, opts: opts, log: log, f: f,
		wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	if err := j.recover(); err != nil {
		f.Close()
		return nil, fmt.Errorf("opening journal: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	j.cancel = cancel
	go j.replay(ctx)
	return j, nil
}

// recover scans the journal file, counts its records and cuts off a torn
// or corrupt tail.
func (j *Journal) recover() error {
	fi, err := j.f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	var off int64
	n := 0
	for off < size {
		_, next, err := readRecord(j.f, off, size)
		if err != nil {
			break
		}
		off = next
		n++
	}
	if off < size {
		if err := j.cutTail(off, size); err != nil {
			return err
		}
	}
	j.endOff, j.pending = off, n
	if n > 0 {
		j.log.Info("journal: replaying batches left by a previous run", "dir", j.dir, "batches", n, "bytes", off)
	}
	return nil
}

// cutTail truncates the file at off, where an invalid record starts. A
// record whose declared end lies past the end of the file is a torn
// append and is cut silently but for a log line; anything else is
// corruption, so the whole file is first copied aside for inspection.
func (j *Journal) cutTail(off, size int64) error {
	var h [headerSize]byte
	torn := true
	if size-off >= headerSize {
		if _, err := j.f.ReadAt(h[:], off); err != nil {
			return err
		}
		torn = off+headerSize+int64(binary.BigEndian.Uint32(h[:4])) > size
	}
	if torn {
		j.log.Warn("journal: cutting off a torn record at the end (never acknowledged)",
			"dir", j.dir, "offset", off, "bytes", size-off)
	} else {
		aside := filepath.Join(j.dir, fmt.Sprintf("journal.corrupt-%d", time.Now().UnixNano()))
		if err := copyFile(j.f, aside); err != nil {
			return fmt.Errorf("saving corrupt journal: %w", err)
		}
		j.log.Error("journal: corrupt record, keeping the records before it; the whole file was copied aside",
			"dir", j.dir, "offset", off, "bytes_dropped", size-off, "copy", aside)
	}
	if err := j.f.Truncate(off); err != nil {
		return err
	}
	return j.f.Sync()
}

// readRecord reads the record at off of a file of size bytes and returns
// its payload and the offset after it.
func readRecord(r io.ReaderAt, off, size int64) ([]byte, int64, error) {
	if size-off < headerSize {
		return nil, 0, io.ErrUnexpectedEOF
	}
	var h [headerSize]byte
	if _, err := r.ReadAt(h[:], off); err != nil {
		return nil, 0, err
	}
	n := int64(binary.BigEndian.Uint32(h[:4]))
	if off+headerSize+n > size {
		return nil, 0, io.ErrUnexpectedEOF
	}
	p := make([]byte, n)
	if _, err := r.ReadAt(p, off+headerSize); err != nil {
		return nil, 0, err
	}
	if crc32.Checksum(p, castagnoli) != binary.BigEndian.Uint32(h[4:]) {
		return nil, 0, errors.New("checksum mismatch")
	}
	return p, off + headerSize + n, nil
}

// Write writes b through to the inner writer while the journal is empty.
// If the inner writer fails as unavailable, or the journal already holds
// batches, b is appended to the journal instead and Write returns nil once
// it is on disk. Any other error of the inner writer is returned, as is
// ErrFull when the journal has no room for b.
func (j *Journal) Write(ctx context.Context, b store.Batch) error {
	if b.Empty() {
		return nil
	}
	if len(b.IDs) == 0 {
		b.IDs = []string{newBatchID()}
	}
	j.mu.Lock()
	if !j.closed && j.pending > 0 && j.door != nil {
		// The replay is writing the last journaled batches: wait for it
		// to empty the journal, up to DrainWait, and go behind it then.
		door := j.door
		j.mu.Unlock()
		t := time.NewTimer(j.opts.DrainWait)
		select {
		case <-door:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for the journal to drain: %w", ctx.Err())
		}
		t.Stop()
		j.mu.Lock()
	}
	if j.closed {
		j.mu.Unlock()
		return ErrClosed
	}
	j.writers.Add(1)
	defer j.writers.Done()
	if j.pending > 0 {
		err := j.appendLocked(b)
		j.mu.Unlock()
		return err
	}
	j.mu.Unlock()

	err := j.writeInner(ctx, b)
	if err == nil {
		j.setInnerDown(false)
		return nil
	}
	if ctx.Err() != nil || !j.opts.Unavailable(err) {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if aerr := j.appendLocked(b); aerr != nil {
		return fmt.Errorf("%w (after the database failed: %w)", aerr, err)
	}
	if !j.innerDown {
		j.log.Warn("journal: database unavailable, journaling writes", "err", err)
	}
	j.innerDown = true
	return nil
}

// writeInner calls the inner writer with the inner timeout. A batch of
// one id that the inner writer applied before counts as written.
func (j *Journal) writeInner(ctx context.Context, b store.Batch) error {
	ctx, cancel := context.WithTimeout(ctx, j.opts.InnerTimeout)
	defer cancel()
	b.AppliedAt = j.opts.Now()
	err := j.inner.Write(ctx, b)
	if len(b.IDs) == 1 && errors.Is(err, store.ErrBatchApplied) {
		j.log.Info("journal: batch written before, skipped", "id", b.IDs[0])
		return nil
	}
	return err
}

// newBatchID returns a random batch id.
func newBatchID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

func (j *Journal) setInnerDown(down bool) {
	j.mu.Lock()
	j.innerDown = down
	j.mu.Unlock()
}

// appendLocked appends b to the journal file and fsyncs it.
func (j *Journal) appendLocked(b store.Batch) error {
	if j.closed {
		return ErrClosed
	}
	p, err := json.Marshal(b)
	if err != nil {
		return fmt.Errorf("journaling batch: %w", err)
	}
	n := headerSize + int64(len(p))
	if len(p) > 1<<32-1 || j.endOff+n > j.opts.MaxBytes {
		j.refused++
		return fmt.Errorf("journaling batch of %d bytes: %w (%d of %d bytes used)", n, ErrFull, j.endOff, j.opts.MaxBytes)
	}
	rec := make([]byte, n)
	binary.BigEndian.PutUint32(rec[:4], uint32(len(p)))
	binary.BigEndian.PutUint32(rec[4:8], crc32.Checksum(p, castagnoli))
	copy(rec[headerSize:], p)
	if _, err := j.f.WriteAt(rec, j.endOff); err != nil {
		_ = j.f.Truncate(j.endOff) // drop what part of it was written
		return fmt.Errorf("journaling batch: %w", err)
	}
	if err := j.f.Sync(); err != nil {
		// After a failed fsync the page cache state is unknown; the
		// batch is not acknowledged, and a later append overwrites it.
		return fmt.Errorf("journaling batch: %w", err)
	}
	j.endOff += n
	j.pending++
	if j.pending == 1 {
		select {
		case j.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// replay writes journaled batches through to the inner writer until ctx
// ends.
func (j *Journal) replay(ctx context.Context) {
	defer close(j.done)
	var pruneC <-chan time.Time
	pruner, _ := j.inner.(store.BatchIDPruner)
	if pruner != nil {
		t := time.NewTicker(j.opts.PruneEvery)
		defer t.Stop()
		pruneC = t.C
	}
	backoff, chunkBytes := j.opts.MinBackoff, j.opts.ChunkBytes
	singles := 0 // batches to write one at a time, after their chunk failed
	for {
		j.mu.Lock()
		f, off, end, pending := j.f, j.readOff, j.endOff, j.pending
		j.mu.Unlock()
		if pending == 0 {
			select {
			case <-ctx.Done():
				return
			case <-j.wake:
			case <-pruneC:
				j.prune(ctx, pruner)
			}
			continue
		}
		maxN := -1 // any number
		if singles > 0 {
			maxN = 1
		}
		c, err := readChunk(f, off, end, chunkBytes, maxN)
		if err != nil { // cannot happen: the records were checked when written or recovered
			j.log.Error("journal: reading journaled batch", "offset", off, "err", err)
			if !j.sleep(ctx, &backoff) {
				return
			}
			continue
		}
		if c.bad != nil {
			singles = max(singles-1, 0)
			if !j.reject(c.p, c.next, c.bad) && !j.sleep(ctx, &backoff) {
				return
			}
			continue
		}
		j.shutDoor(c.next)
		err = j.writeInner(ctx, c.b)
		switch {
		case err == nil:
			j.applied(c.next, c.n)
			singles = max(singles-c.n, 0)
			backoff, chunkBytes = j.opts.MinBackoff, j.opts.ChunkBytes
		case ctx.Err() != nil: // closing: the batches stay journaled
			j.openDoor()
			return
		case j.opts.Unavailable(err):
			j.mu.Lock()
			j.openDoorLocked()
			j.innerDown = true
			j.compactLocked()
			j.mu.Unlock()
			chunkBytes /= 2 // a chunk too large for the inner timeout is halved until it fits
			if !j.sleep(ctx, &backoff) {
				return
			}
		case c.n > 1:
			// Refused (or some of it written before): write its batches
			// one at a time, so that only the one refused is set aside
			// and those written before are skipped.
			j.openDoor()
			singles = c.n
		default:
			singles = max(singles-1, 0)
			if !j.reject(c.p, c.next, err) && !j.sleep(ctx, &backoff) {
				return
			}
		}
	}
}

// chunk is journaled batches merged into one write.
type chunk struct {
	p    []byte      // the first batch as journaled
	b    store.Batch // the batches merged
	n    int         // how many
	next int64       // the offset after the last
	bad  error       // why the first batch does not decode; it is alone
}

// readChunk reads the records from off of a file of end bytes and merges
// as many as fit maxBytes (at least one; at most maxN, unless maxN < 0). A
// record that does not decode is alone in its chunk.
func readChunk(f io.ReaderAt, off, end, maxBytes int64, maxN int) (chunk, error) {
	p, next, err := readRecord(f, off, end)
	if err != nil {
		return chunk{}, err
	}
	c := chunk{p: p, n: 1, next: next}
	if err := json.Unmarshal(p, &c.b); err != nil {
		c.bad = err
		return c, nil
	}
	for (maxN < 0 || c.n < maxN) && c.next < end {
		p, next, err := readRecord(f, c.next, end)
		if err != nil || next-off > maxBytes {
			break
		}
		var b store.Batch
		if err := json.Unmarshal(p, &b); err != nil {
			break
		}
		c.b.Append(b)
		c.n++
		c.next = next
	}
	return c, nil
}

// shutDoor makes new writes wait while the replay writes the chunk that
// ends at next, if that chunk holds every journaled batch: once it is
// written the journal is empty and they go straight to the inner writer,
// so that writes that keep coming cannot keep the journal from emptying.
// openDoor lets them in again.
func (j *Journal) shutDoor(next int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if next == j.endOff && j.door == nil {
		j.door = make(chan struct{})
	}
}

func (j *Journal) openDoor() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.openDoorLocked()
}

func (j *Journal) openDoorLocked() {
	if j.door != nil {
		close(j.door)
		j.door = nil
	}
}

// prune has the inner writer forget the batch ids applied longer than
// KeepBatchIDs ago.
func (j *Journal) prune(ctx context.Context, p store.BatchIDPruner) {
	ctx, cancel := context.WithTimeout(ctx, j.opts.InnerTimeout)
	defer cancel()
	n, err := p.PruneBatchIDs(ctx, j.opts.Now().Add(-j.opts.KeepBatchIDs))
	switch {
	case err != nil:
		j.log.Warn("journal: pruning batch ids", "err", err)
	case n > 0:
		j.log.Debug("journal: pruned batch ids", "ids", n)
	}
}

// sleep waits for the backoff, doubling it up to the maximum; false when
// ctx ended first.
func (j *Journal) sleep(ctx context.Context, backoff *time.Duration) bool {
	t := time.NewTimer(*backoff)
	defer t.Stop()
	*backoff = min(*backoff*2, j.opts.MaxBackoff)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// applied records that the n oldest records, ending at next, were
// written through, and empties the file once every record was. Only the
// replay goroutine moves readOff or replaces the file.
func (j *Journal) applied(next int64, n int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	defer j.openDoorLocked()
	j.readOff = next
	j.pending -= n
	j.innerDown = false
	if j.pending > 0 {
		return
	}
	if err := j.f.Truncate(0); err != nil {
		j.log.Error("journal: emptying journal", "err", err)
		return // the records are replayed again on the next New
	}
	if err := j.f.Sync(); err != nil {
		j.log.Error("journal: emptying journal", "err", err)
	}
	j.readOff, j.endOff = 0, 0
	j.log.Info("journal: every journaled batch written through")
}

// reject moves a batch the inner writer refused (or that cannot be
// decoded) to the rejected file, so that it blocks no later batch and is
// not lost either. It reports whether it could; if not, the batch stays
// journaled and is tried again.
func (j *Journal) reject(p []byte, next int64, cause error) bool {
	j.log.Error("journal: the database refused acknowledged records; moved to the rejected file, "+
		"list, retry or discard them with `atoguard journal inspect|replay|discard`",
		"err", cause, "file", filepath.Join(j.dir, rejectedName), "bytes", len(p))
	if err := addRejected(j.dir, p, cause, time.Now()); err != nil {
		j.log.Error("journal: saving rejected batch; it stays journaled", "err", err)
		return false
	}
	j.applied(next, 1)
	return true
}

// compactLocked rewrites the journal without the records already written
// through, so that a restart does not replay them again and they count no
// more against MaxBytes. It writes a new file and renames it over the old
// one.
func (j *Journal) compactLocked() {
	if j.readOff == 0 || j.closed {
		return
	}
	tmp := filepath.Join(j.dir, tmpName)
	nf, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		j.log.Error("journal: compacting", "err", err)
		return
	}
	_, err = io.Copy(nf, io.NewSectionReader(j.f, j.readOff, j.endOff-j.readOff))
	if err == nil {
		err = nf.Sync()
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(j.dir, fileName))
	}
	if err == nil {
		err = syncDir(j.dir)
	}
	if err != nil {
		nf.Close()
		_ = os.Remove(tmp)
		j.log.Error("journal: compacting", "err", err)
		return
	}
	j.f.Close()
	j.f = nf
	j.endOff -= j.readOff
	j.readOff = 0
}

// State returns the journal's condition.
func (j *Journal) State() State {
	j.mu.Lock()
	defer j.mu.Unlock()
	rejected := rejectedCount(j.dir, &j.rejSize, &j.rejCount)
	return State{
		Pending:      j.pending,
		PendingBytes: j.endOff - j.readOff,
		Degraded:     j.pending > 0 || j.innerDown || rejected > 0,
		Rejected:     rejected,
		Refused:      j.refused,
		MaxBytes:     j.opts.MaxBytes,
	}
}

// Drain waits until every journaled batch was written through or ctx
// ends.
func (j *Journal) Drain(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for {
		if j.State().Pending == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("draining journal: %w", context.Cause(ctx))
		case <-t.C:
		}
	}
}

// Close stops the replay goroutine (abandoning a replay in progress; its
// batch stays journaled), waits for it and for Writes in flight (a Write
// inside the inner writer for at most Options.InnerTimeout), and
// closes the file. Batches still journaled are replayed by the next New on
// the same directory. It does not close the inner writer.
func (j *Journal) Close() error {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	j.closed = true
	j.mu.Unlock()
	j.cancel()
	<-j.done
	j.writers.Wait()
	j.mu.Lock()
	defer j.mu.Unlock()
	err := j.f.Close()
	if err != nil {
		return fmt.Errorf("closing journal: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// appendFile appends p to the file name as one record and fsyncs it.
func appendFile(name string, p []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	rec := make([]byte, headerSize+len(p))
	binary.BigEndian.PutUint32(rec[:4], uint32(len(p)))
	binary.BigEndian.PutUint32(rec[4:8], crc32.Checksum(p, castagnoli))
	copy(rec[headerSize:], p)
	_, err = f.Write(rec)
	return syncClose(f, err)
}

// syncClose fsyncs and closes f after a write that returned err, and
// returns the first error.
func syncClose(f *os.File, err error) error {
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// copyFile copies the whole of f to a new file name.
func copyFile(f *os.File, name string) error {
	out, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, io.NewSectionReader(f, 0, 1<<62))
	return syncClose(out, err)
}
