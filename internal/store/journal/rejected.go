package journal

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// Rejected is one batch the database refused on replay, kept in the
// rejected file of a journal directory until an operator retries or
// discards it (atoguard journal).
type Rejected struct {
	RejectedAt time.Time // when it was refused; zero if an older version refused it
	Err        string    // the database's error
	Bytes      int       // the batch's size as journaled
	Batch      store.Batch
}

// rejectedRecord is a record of the rejected file. Older versions wrote
// the bare batch; Batch is then empty and the whole record is the batch.
type rejectedRecord struct {
	RejectedAt time.Time       `json:"rejected_at"`
	Err        string          `json:"error"`
	Batch      json.RawMessage `json:"batch"`
}

const (
	rejectedTmp  = "rejected.tmp"
	rejectedLock = "rejected.lock"
)

// addRejected appends batch p (its journaled JSON), refused at now with
// cause, to the rejected file of dir.
func addRejected(dir string, p []byte, cause error, now time.Time) error {
	rec, err := json.Marshal(rejectedRecord{RejectedAt: now.UTC(), Err: cause.Error(), Batch: p})
	if err != nil {
		return err
	}
	unlock, err := lockRejected(dir)
	if err != nil {
		return err
	}
	defer unlock()
	return appendFile(filepath.Join(dir, rejectedName), rec)
}

// ReadRejected returns the batches in the rejected file of the journal
// directory dir, oldest first; none when there is no such file.
func ReadRejected(dir string) ([]Rejected, error) {
	unlock, err := lockRejected(dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	rs, _, err := readRejected(dir)
	return rs, err
}

// readRejected reads the rejected file; the caller holds its lock. It
// also returns the file's size.
func readRejected(dir string) ([]Rejected, int64, error) {
	f, err := os.Open(filepath.Join(dir, rejectedName))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("reading rejected batches: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("reading rejected batches: %w", err)
	}
	var rs []Rejected
	for off := int64(0); off < fi.Size(); {
		p, next, err := readRecord(f, off, fi.Size())
		if err != nil {
			return rs, fi.Size(), fmt.Errorf("reading rejected batch %d at byte %d: %w", len(rs)+1, off, err)
		}
		r, err := decodeRejected(p)
		if err != nil {
			return rs, fi.Size(), fmt.Errorf("decoding rejected batch %d: %w", len(rs)+1, err)
		}
		rs = append(rs, r)
		off = next
	}
	return rs, fi.Size(), nil
}

func decodeRejected(p []byte) (Rejected, error) {
	var rec rejectedRecord
	if err := json.Unmarshal(p, &rec); err != nil {
		return Rejected{}, err
	}
	r := Rejected{RejectedAt: rec.RejectedAt, Err: rec.Err}
	raw := []byte(rec.Batch)
	if len(raw) == 0 { // an older version's bare batch
		raw, r.RejectedAt, r.Err = p, time.Time{}, ""
	}
	r.Bytes = len(raw)
	if err := json.Unmarshal(raw, &r.Batch); err != nil {
		return Rejected{}, err
	}
	return r, nil
}

// RetryRejected writes every batch of the rejected file of dir to w,
// oldest first, and keeps in the file only those w refuses again (with
// their new error). It stops at the first error that means w is
// unavailable, keeping the rest. It returns how many batches were
// written, and an error when any is still kept.
func RetryRejected(ctx context.Context, dir string, w Writer) (int, error) {
	written := 0
	err := editRejected(dir, func(rs []Rejected) ([]Rejected, error) {
		kept, n, err := retry(ctx, rs, w)
		written = n
		if len(kept) > 0 {
			err = fmt.Errorf("%d batch(es) still refused, kept in %s: %w", len(kept), filepath.Join(dir, rejectedName), err)
		}
		return kept, err
	})
	return written, err
}

// retry writes rs to w and returns those w refused, how many it took,
// and the last error.
func retry(ctx context.Context, rs []Rejected, w Writer) ([]Rejected, int, error) {
	var kept []Rejected
	var last error
	written := 0
	for i, r := range rs {
		if last != nil && Unavailable(last) {
			kept = append(kept, rs[i:]...)
			break
		}
		if err := w.Write(ctx, r.Batch); err != nil && !errors.Is(err, store.ErrBatchApplied) {
			last = err
			r.Err = err.Error()
			kept = append(kept, r)
			continue
		}
		written++
	}
	return kept, written, last
}

// DiscardRejected deletes the rejected file of dir and returns how many
// batches it held.
func DiscardRejected(dir string) (int, error) {
	n := 0
	err := editRejected(dir, func(rs []Rejected) ([]Rejected, error) {
		n = len(rs)
		return nil, nil
	})
	return n, err
}

// editRejected replaces the batches of the rejected file of dir with
// what edit keeps of them, under the file's lock. The file is rewritten
// even when edit returns an error.
func editRejected(dir string, edit func([]Rejected) ([]Rejected, error)) error {
	unlock, err := lockRejected(dir)
	if err != nil {
		return err
	}
	defer unlock()
	rs, _, err := readRejected(dir)
	if err != nil {
		return err
	}
	kept, err := edit(rs)
	if werr := rewriteRejected(dir, kept); werr != nil {
		return werr
	}
	return err
}

// rewriteRejected replaces the rejected file of dir with rs (removes it
// when rs is empty); the caller holds its lock.
func rewriteRejected(dir string, rs []Rejected) error {
	name := filepath.Join(dir, rejectedName)
	if len(rs) == 0 {
		if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("removing rejected batches: %w", err)
		}
		return syncDir(dir)
	}
	var data []byte
	for _, r := range rs {
		b, err := json.Marshal(r.Batch)
		if err != nil {
			return err
		}
		p, err := json.Marshal(rejectedRecord{RejectedAt: r.RejectedAt, Err: r.Err, Batch: b})
		if err != nil {
			return err
		}
		var h [headerSize]byte
		binary.BigEndian.PutUint32(h[:4], uint32(len(p)))
		binary.BigEndian.PutUint32(h[4:], crc32.Checksum(p, castagnoli))
		data = append(append(data, h[:]...), p...)
	}
	tmp := filepath.Join(dir, rejectedTmp)
	if err := writeSynced(tmp, data); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("rewriting rejected batches: %w", err)
	}
	if err := os.Rename(tmp, name); err != nil {
		return fmt.Errorf("rewriting rejected batches: %w", err)
	}
	return syncDir(dir)
}

func writeSynced(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	return syncClose(f, err)
}

// rejectedCount returns how many batches the rejected file of dir holds,
// rescanning it only when its size changed since the last call (cached in
// *size and *count); the caller holds j.mu.
func rejectedCount(dir string, size *int64, count *int) int {
	fi, err := os.Stat(filepath.Join(dir, rejectedName))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		*size, *count = 0, 0
		return 0
	case err != nil || fi.Size() == *size:
		return *count
	}
	unlock, err := lockRejected(dir)
	if err != nil {
		return *count
	}
	defer unlock()
	rs, n, err := readRejected(dir)
	if err != nil && len(rs) == 0 {
		*size, *count = n, max(*count, 1) // unreadable: still something to look at
		return *count
	}
	*size, *count = n, len(rs)
	return *count
}
