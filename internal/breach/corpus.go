package breach

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Config says which breached passwords the guard knows. The zero value
// uses the built-in list and DATA/passwords.
type Config struct {
	// Dir holds the index `atoguard passwords import` writes; empty means
	// DATA/passwords.
	Dir string `yaml:"dir"`
	// DisableBuiltin leaves the built-in list of common passwords out;
	// by default it is used alone when nothing was imported and merged
	// with the imported index otherwise.
	DisableBuiltin bool `yaml:"disable_builtin"`
}

// DirOf returns the index directory of cfg under the data directory.
func (c Config) DirOf(data string) string {
	if c.Dir != "" {
		return c.Dir
	}
	return filepath.Join(data, "passwords")
}

// Corpus is what the guard checks passwords against: the imported index
// (when there is one) merged with the built-in list (unless disabled). A
// digest in both counts the larger count. It is safe for concurrent use.
type Corpus struct {
	builtin *List // nil when disabled
	path    string

	mu     sync.RWMutex
	ix     *Index // nil when nothing was imported
	stamp  stamp
	closed bool
}

type stamp struct {
	size int64
	mod  time.Time
	info fs.FileInfo
}

// OpenCorpus opens the index in dir, if any, with the built-in list unless
// builtin is false.
func OpenCorpus(dir string, builtin bool) (*Corpus, error) {
	c := &Corpus{path: filepath.Join(dir, IndexFile)}
	if builtin {
		c.builtin = Builtin()
	}
	if _, err := c.Refresh(); err != nil {
		return nil, err
	}
	return c, nil
}

// Refresh reopens the index if an import replaced it since it was opened,
// and reports whether it did.
func (c *Corpus) Refresh() (bool, error) {
	st, err := os.Stat(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("breached-password index: %w", err)
	}
	c.mu.RLock()
	same := c.closed || c.stamp.info != nil && os.SameFile(c.stamp.info, st) && c.stamp.size == st.Size() && c.stamp.mod.Equal(st.ModTime())
	c.mu.RUnlock()
	if same {
		return false, nil
	}
	ix, err := Open(c.path)
	if err != nil {
		return false, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		ix.Close()
		return false, nil
	}
	old := c.ix
	c.ix, c.stamp = ix, stamp{size: st.Size(), mod: st.ModTime(), info: st}
	c.mu.Unlock()
	if old != nil {
		old.Close()
	}
	return true, nil
}

// Close closes the index.
func (c *Corpus) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if c.ix == nil {
		return nil
	}
	err := c.ix.Close()
	c.ix = nil
	return err
}

// Info describes the corpus for logs and the CLI.
type Info struct {
	Imported int64  // entries of the imported index; 0 when none
	IndexID  string // "" when none
	Builtin  int    // entries of the built-in list; 0 when disabled
}

// Info describes what the corpus holds.
func (c *Corpus) Info() Info {
	c.mu.RLock()
	defer c.mu.RUnlock()
	var in Info
	if c.ix != nil {
		in.Imported, in.IndexID = c.ix.Len(), c.ix.ID()
	}
	if c.builtin != nil {
		in.Builtin = c.builtin.Len()
	}
	return in
}

// Count returns how often sha1 was seen, the larger count of the imported
// index and the built-in list.
func (c *Corpus) Count(sha1 [20]byte) (int64, bool, error) {
	var n int64
	var found bool
	if c.builtin != nil {
		n, found, _ = c.builtin.Count(sha1)
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.ix != nil {
		m, ok, err := c.ix.Count(sha1)
		if err != nil {
			return 0, false, err
		}
		if ok {
			n, found = max(n, m), true
		}
	}
	return n, found, nil
}

// Range returns the entries under prefix p of the imported index and the
// built-in list, merged and sorted by digest.
func (c *Corpus) Range(p Prefix) ([]Entry, error) {
	var a, b []Entry
	if c.builtin != nil {
		a, _ = c.builtin.Range(p)
	}
	c.mu.RLock()
	if c.ix != nil {
		var err error
		if b, err = c.ix.Range(p); err != nil {
			c.mu.RUnlock()
			return nil, err
		}
	}
	c.mu.RUnlock()
	return mergeEntries(a, b), nil
}

// mergeEntries merges two sorted lists; a digest in both keeps the larger
// count.
func mergeEntries(a, b []Entry) []Entry {
	if len(a) == 0 {
		return b
	}
	if len(b) == 0 {
		return a
	}
	out := make([]Entry, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		switch c := compareSHA1(&a[0].SHA1, &b[0].SHA1); {
		case c < 0:
			out, a = append(out, a[0]), a[1:]
		case c > 0:
			out, b = append(out, b[0]), b[1:]
		default:
			e := a[0]
			e.Count = max(e.Count, b[0].Count)
			out, a, b = append(out, e), a[1:], b[1:]
		}
	}
	out = append(out, a...)
	return append(out, b...)
}
