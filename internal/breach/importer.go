package breach

import (
	"bufio"
	"bytes"
	"container/heap"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Files under an index directory (DATA/passwords by default).
const (
	IndexFile  = "index.agpw" // the live index
	importDir  = "import"     // work directory of an import in progress
	lockFile   = "lock"
	journalFn  = "journal.json"
	mergedFile = "index.tmp"
)

// ImportOptions tune Import. The zero value imports with the defaults.
type ImportOptions struct {
	// MinCount skips entries seen fewer times (default 1). A Pwned
	// Passwords line carries its count; a password of a plain list counts
	// the times it appears in its file.
	MinCount int64
	// Format is auto (default: decided per file by its first non-empty
	// line), hibp or plain.
	Format string
	// Restart discards an interrupted import instead of resuming it.
	Restart bool
	// RunSize is the number of entries sorted in memory at once (default
	// 4M, 24 bytes each).
	RunSize int
	// Progress, when set, is called as the import advances (at most every
	// 100ms, and at the end of each phase).
	Progress func(Progress)
	// Log, when set, receives one-line notes (resuming, discarding).
	Log func(msg string)
}

// Progress is the state of an import phase.
type Progress struct {
	Phase string // "reading" (Done and Total in bytes) or "merging" (in entries)
	Done  int64
	Total int64
}

// ImportResult summarizes an import.
type ImportResult struct {
	Files   int
	Lines   int64 // lines read (all imports of an interrupted one included)
	Skipped int64 // lines skipped: empty, too long, or under MinCount
	Resumed bool  // an interrupted import was continued
	Added   int64 // digests new to the index
	Entries int64 // digests in the new index
	Bytes   int64 // size of the new index file
	ID      string
}

type journal struct {
	Version  int            `json:"version"`
	Base     string         `json:"base"` // id of the live index merged into; "" when none
	MinCount int64          `json:"min_count"`
	Format   string         `json:"format"`
	Inputs   []journalInput `json:"inputs"`
	Runs     []journalRun   `json:"runs"`
	Output   string         `json:"output,omitempty"` // id of the merged index, once written
}

type journalInput struct {
	Path    string `json:"path"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mod_time"` // Unix nanoseconds
	Format  string `json:"format,omitempty"`
	Offset  int64  `json:"offset"` // bytes read into runs
	Done    bool   `json:"done"`
	Lines   int64  `json:"lines"`
	Skipped int64  `json:"skipped"`
}

type journalRun struct {
	Name    string `json:"name"`
	Input   int    `json:"input"`
	Entries int64  `json:"entries"`
}

// sameInputs reports whether j was started for the same import.
func (j *journal) sameAs(o *journal) bool {
	if j.Version != o.Version || j.Base != o.Base || j.MinCount != o.MinCount || j.Format != o.Format || len(j.Inputs) != len(o.Inputs) {
		return false
	}
	for i := range j.Inputs {
		a, b := j.Inputs[i], o.Inputs[i]
		if a.Path != b.Path || a.Size != b.Size || a.ModTime != b.ModTime {
			return false
		}
	}
	return true
}

type importer struct {
	dir, work string
	opt       ImportOptions
	j         journal
	base      *Index
	lastProg  time.Time
}

// Import merges the given files into the index in dir, creating it when
// there is none. Within one file a digest listed twice counts the sum;
// across files and the existing index the largest count wins, so importing
// the same file twice, or a newer Pwned Passwords release over an older
// one, never inflates a count.
//
// The live index is replaced only at the end, by an atomic rename of a
// fully written and synced file. Work in progress (sorted runs and a
// journal) is kept in dir/import: an import interrupted by ctx, a signal or
// a crash resumes where its last completed run ended when it is run again
// with the same files and options, and restarts cleanly otherwise.
func Import(ctx context.Context, dir string, files []string, opt ImportOptions) (ImportResult, error) {
	if opt.MinCount <= 0 {
		opt.MinCount = 1
	}
	if opt.Format == "" {
		opt.Format = FormatAuto
	}
	if opt.Format != FormatAuto && opt.Format != FormatHIBP && opt.Format != FormatPlain {
		return ImportResult{}, fmt.Errorf("format %q: want auto, hibp or plain", opt.Format)
	}
	if opt.RunSize <= 0 {
		opt.RunSize = 4 << 20
	}
	if len(files) == 0 {
		return ImportResult{}, errors.New("no files to import")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return ImportResult{}, fmt.Errorf("creating index directory: %w", err)
	}
	unlock, err := lock(filepath.Join(dir, lockFile))
	if err != nil {
		return ImportResult{}, err
	}
	defer unlock()

	im := &importer{dir: dir, work: filepath.Join(dir, importDir), opt: opt}
	if ix, err := Open(filepath.Join(dir, IndexFile)); err == nil {
		im.base = ix
		defer ix.Close()
	} else if !errors.Is(err, fs.ErrNotExist) {
		return ImportResult{}, err
	}
	want := journal{Version: 1, MinCount: opt.MinCount, Format: opt.Format}
	if im.base != nil {
		want.Base = im.base.ID()
	}
	for _, name := range files {
		abs, err := filepath.Abs(name)
		if err != nil {
			return ImportResult{}, err
		}
		st, err := os.Stat(abs)
		if err != nil {
			return ImportResult{}, fmt.Errorf("input: %w", err)
		}
		if !st.Mode().IsRegular() {
			return ImportResult{}, fmt.Errorf("input %s: not a regular file", name)
		}
		want.Inputs = append(want.Inputs, journalInput{Path: abs, Size: st.Size(), ModTime: st.ModTime().UnixNano()})
	}
	res := ImportResult{Files: len(files)}
	resumed, err := im.begin(&want)
	if err != nil {
		return res, err
	}
	res.Resumed = resumed

	for i := range im.j.Inputs {
		if !im.j.Inputs[i].Done {
			if err := im.read(ctx, i); err != nil {
				return res, err
			}
		}
	}
	for _, in := range im.j.Inputs {
		res.Lines += in.Lines
		res.Skipped += in.Skipped
	}
	if err := im.merge(ctx, &res); err != nil {
		return res, err
	}
	return res, os.RemoveAll(im.work)
}

func (im *importer) note(format string, args ...any) {
	if im.opt.Log != nil {
		im.opt.Log(fmt.Sprintf(format, args...))
	}
}

// begin resumes the interrupted import in the work directory if it is this
// one, and otherwise starts afresh.
func (im *importer) begin(want *journal) (bool, error) {
	data, err := os.ReadFile(filepath.Join(im.work, journalFn))
	var old journal
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return false, fmt.Errorf("reading import journal: %w", err)
	case json.Unmarshal(data, &old) != nil:
		im.note("discarding an interrupted import: its journal is unreadable")
	case im.opt.Restart:
		im.note("discarding an interrupted import (restart)")
	case old.Output != "" && im.base != nil && im.base.ID() == old.Output:
		// It finished but for removing its work directory.
		im.note("an earlier import finished; removing its work files")
	case old.sameAs(want):
		im.j = old
		done := 0
		for _, in := range old.Inputs {
			if in.Done {
				done++
			}
		}
		im.note("resuming an interrupted import: %d of %d files read, %d sorted runs kept", done, len(old.Inputs), len(old.Runs))
		return true, im.removeOrphans()
	default:
		im.note("discarding an interrupted import of other files or options")
	}
	if err := os.RemoveAll(im.work); err != nil {
		return false, fmt.Errorf("removing import work files: %w", err)
	}
	if err := os.MkdirAll(im.work, 0o700); err != nil {
		return false, fmt.Errorf("creating import work directory: %w", err)
	}
	im.j = *want
	return false, im.save()
}

// removeOrphans deletes work files the journal does not list: a run
// written just before an interruption, or a partial merge.
func (im *importer) removeOrphans() error {
	keep := map[string]bool{journalFn: true}
	for _, r := range im.j.Runs {
		keep[r.Name] = true
	}
	ents, err := os.ReadDir(im.work)
	if err != nil {
		return fmt.Errorf("listing import work files: %w", err)
	}
	for _, e := range ents {
		if !keep[e.Name()] && !(e.Name() == mergedFile && im.j.Output != "") {
			if err := os.Remove(filepath.Join(im.work, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
}

// save writes the journal atomically.
func (im *importer) save() error {
	data, err := json.MarshalIndent(&im.j, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(im.work, journalFn), data)
}

func (im *importer) progress(phase string, done, total int64, final bool) {
	if im.opt.Progress == nil {
		return
	}
	if now := time.Now(); final || now.Sub(im.lastProg) >= 100*time.Millisecond {
		im.lastProg = now
		im.opt.Progress(Progress{Phase: phase, Done: done, Total: total})
	}
}

func (im *importer) totalBytes() (done, total int64) {
	for _, in := range im.j.Inputs {
		total += in.Size
		done += in.Offset
	}
	return done, total
}

// runEntry is an entry of a sorted run: a digest and its count (at most
// MaxCount). 24 bytes.
type runEntry struct {
	sha1  [20]byte
	count uint32
}

// maxLine bounds a line; a longer one is skipped.
const maxLine = 64 << 10

// read reads input i from where its last run ended into sorted runs.
func (im *importer) read(ctx context.Context, i int) error {
	in := &im.j.Inputs[i]
	f, err := os.Open(in.Path)
	if err != nil {
		return fmt.Errorf("input: %w", err)
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || st.Size() != in.Size || st.ModTime().UnixNano() != in.ModTime {
		return fmt.Errorf("input %s changed during the import; run it again with --restart", in.Path)
	}
	if _, err := f.Seek(in.Offset, io.SeekStart); err != nil {
		return err
	}
	format := in.Format
	if format == "" && im.j.Format != FormatAuto {
		format = im.j.Format
	}
	r := bufio.NewReaderSize(f, maxLine)
	off := in.Offset
	lines, skipped := in.Lines, in.Skipped
	buf := make([]runEntry, 0, min(int64(im.opt.RunSize), (in.Size-in.Offset)/40+1)) // a Pwned Passwords line is 40 bytes or more
	doneBefore, total := im.totalBytes()
	doneBefore -= in.Offset
	flush := func() error {
		in.Format = format
		if err := im.writeRun(i, buf); err != nil {
			return err
		}
		buf = buf[:0]
		in.Offset, in.Lines, in.Skipped = off, lines, skipped
		return im.save()
	}
	for n := 0; ; n++ {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			off += int64(len(line))
			for errors.Is(err, bufio.ErrBufferFull) {
				line, err = r.ReadSlice('\n')
				off += int64(len(line))
			}
			skipped++
			if err != nil && !errors.Is(err, io.EOF) {
				return fmt.Errorf("reading %s: %w", in.Path, err)
			}
			if errors.Is(err, io.EOF) {
				break
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading %s: %w", in.Path, err)
		}
		if len(line) == 0 && errors.Is(err, io.EOF) {
			break
		}
		start := off
		off += int64(len(line))
		if start == 0 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
		}
		l := trimEOL(line)
		if format == "" && len(l) > 0 {
			format = FormatPlain
			if looksHIBP(l) {
				format = FormatHIBP
			}
		}
		switch {
		case len(l) == 0:
			skipped++
		case format == FormatHIBP:
			sum, c, perr := ParseHIBPLine(l)
			if perr != nil {
				return fmt.Errorf("%s, line %d: %w", in.Path, lines+skipped+1, perr)
			}
			if c < im.j.MinCount {
				skipped++
				break
			}
			buf = append(buf, runEntry{sum, uint32(min(c, MaxCount))})
			lines++
		default:
			buf = append(buf, runEntry{plainSHA1(l), 1})
			lines++
		}
		if len(buf) >= im.opt.RunSize {
			if err := flush(); err != nil {
				return err
			}
		}
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			im.progress("reading", doneBefore+off, total, false)
		}
		if errors.Is(err, io.EOF) {
			break
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	in.Done = true
	if err := im.save(); err != nil {
		return err
	}
	im.progress("reading", doneBefore+off, total, i == len(im.j.Inputs)-1)
	return nil
}

// A run file: "AGRUN\n", input index (uint32) and entry count (uint64),
// little-endian, then entries sorted by digest, each the digest and a
// big-endian uint32 count.
var runMagic = [6]byte{'A', 'G', 'R', 'U', 'N', '\n'}

const (
	runHeader = 6 + 4 + 8
	runRecord = 24
)

// writeRun sorts es, sums the counts of a digest listed twice and writes
// the run durably; only then does the journal list it.
func (im *importer) writeRun(input int, es []runEntry) error {
	if len(es) == 0 {
		return nil
	}
	slices.SortFunc(es, func(a, b runEntry) int {
		// The first 8 bytes decide almost always, and compare fast.
		if x, y := binary.BigEndian.Uint64(a.sha1[:8]), binary.BigEndian.Uint64(b.sha1[:8]); x != y {
			if x < y {
				return -1
			}
			return 1
		}
		return compareSHA1(&a.sha1, &b.sha1)
	})
	out := es[:0]
	for _, e := range es {
		if n := len(out); n > 0 && out[n-1].sha1 == e.sha1 {
			out[n-1].count = min(out[n-1].count+e.count, MaxCount) // both at most MaxCount: no overflow
			continue
		}
		out = append(out, e)
	}
	name := fmt.Sprintf("run-%06d", len(im.j.Runs)+1)
	err := writeAtomic(filepath.Join(im.work, name), func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		var h [runHeader]byte
		copy(h[:], runMagic[:])
		binary.LittleEndian.PutUint32(h[6:], uint32(input))
		binary.LittleEndian.PutUint64(h[10:], uint64(len(out)))
		bw.Write(h[:])
		var rec [runRecord]byte
		for i := range out {
			copy(rec[:20], out[i].sha1[:])
			binary.BigEndian.PutUint32(rec[20:], out[i].count)
			bw.Write(rec[:])
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("writing sorted run: %w", err)
	}
	im.j.Runs = append(im.j.Runs, journalRun{Name: name, Input: input, Entries: int64(len(out))})
	return nil
}

// source is one sorted input of the merge: a run or the live index.
type source struct {
	cur   Entry
	input int // -1 for the live index
	run   *bufio.Reader
	f     *os.File
	ix    *cursor
	rec   [runRecord]byte
}

func (s *source) next() (bool, error) {
	if s.ix != nil {
		return s.ix.next(&s.cur)
	}
	if _, err := io.ReadFull(s.run, s.rec[:]); err != nil {
		if errors.Is(err, io.EOF) {
			return false, nil
		}
		return false, fmt.Errorf("reading sorted run: %w", err)
	}
	copy(s.cur.SHA1[:], s.rec[:20])
	s.cur.Count = int64(binary.BigEndian.Uint32(s.rec[20:]))
	return true, nil
}

type sourceHeap []*source

func (h sourceHeap) Len() int { return len(h) }
func (h sourceHeap) Less(i, j int) bool {
	return compareSHA1(&h[i].cur.SHA1, &h[j].cur.SHA1) < 0
}
func (h sourceHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *sourceHeap) Push(x any)   { *h = append(*h, x.(*source)) }
func (h *sourceHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// merge merges the runs and the live index into a new index and puts it
// in place of the live one.
func (im *importer) merge(ctx context.Context, res *ImportResult) error {
	tmp := filepath.Join(im.work, mergedFile)
	live := filepath.Join(im.dir, IndexFile)
	if im.j.Output != "" {
		// Written before an interruption: put it in place if it is whole.
		if ix, err := Open(tmp); err == nil && ix.ID() == im.j.Output {
			res.Entries, res.ID = ix.Len(), ix.ID()
			ix.Close()
			return im.install(tmp, live, res)
		}
		im.j.Output = ""
	}
	var srcs sourceHeap
	defer func() {
		for _, s := range srcs {
			if s.f != nil {
				s.f.Close()
			}
		}
	}()
	var total int64
	add := func(s *source) error {
		ok, err := s.next()
		if err != nil || !ok {
			if s.f != nil {
				s.f.Close()
			}
			return err
		}
		srcs = append(srcs, s)
		return nil
	}
	if im.base != nil {
		total += im.base.Len()
		if err := add(&source{input: -1, ix: im.base.cursor()}); err != nil {
			return err
		}
	}
	for _, r := range im.j.Runs {
		f, err := os.Open(filepath.Join(im.work, r.Name))
		if err != nil {
			return fmt.Errorf("opening sorted run: %w", err)
		}
		br := bufio.NewReaderSize(f, 64<<10)
		var h [runHeader]byte
		if _, err := io.ReadFull(br, h[:]); err != nil || [6]byte(h[:6]) != runMagic ||
			binary.LittleEndian.Uint64(h[10:]) != uint64(r.Entries) {
			f.Close()
			return fmt.Errorf("sorted run %s is damaged; run the import again with --restart", r.Name)
		}
		total += r.Entries
		if err := add(&source{input: r.Input, run: br, f: f}); err != nil {
			return err
		}
	}
	heap.Init(&srcs)

	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("creating index: %w", err)
	}
	defer f.Close()
	w, err := newIndexWriter(f, uint64(total))
	if err != nil {
		return err
	}
	type sum struct {
		input int
		count int64
	}
	var (
		sums  []sum
		done  int64
		group Entry
		base  int64
		added int64
	)
	emit := func() error {
		n := base
		for _, s := range sums {
			if s.count >= im.j.MinCount {
				n = max(n, s.count)
			}
		}
		if n <= 0 {
			return nil
		}
		if base == 0 {
			added++
		}
		e := Entry{SHA1: group.SHA1, Count: n}
		return w.add(&e)
	}
	for len(srcs) > 0 {
		s := srcs[0]
		if done == 0 || s.cur.SHA1 != group.SHA1 {
			if done > 0 {
				if err := emit(); err != nil {
					return err
				}
			}
			group, base, sums = s.cur, 0, sums[:0]
		}
		if s.input < 0 {
			base = s.cur.Count
		} else {
			k := slices.IndexFunc(sums, func(x sum) bool { return x.input == s.input })
			if k < 0 {
				sums = append(sums, sum{s.input, 0})
				k = len(sums) - 1
			}
			sums[k].count += s.cur.Count
		}
		done++
		if done%16384 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			im.progress("merging", done, total, false)
		}
		ok, err := s.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&srcs, 0)
		} else {
			if s.f != nil {
				s.f.Close()
				s.f = nil
			}
			heap.Pop(&srcs)
		}
	}
	if done > 0 {
		if err := emit(); err != nil {
			return err
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	id, err := w.finish()
	if err != nil {
		return fmt.Errorf("writing index: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing index: %w", err)
	}
	im.progress("merging", done, total, true)
	res.Entries, res.Added, res.ID = int64(w.n), added, id
	im.j.Output = id
	if err := im.save(); err != nil {
		return err
	}
	return im.install(tmp, live, res)
}

// install renames the merged index over the live one.
func (im *importer) install(tmp, live string, res *ImportResult) error {
	if err := os.Rename(tmp, live); err != nil {
		return fmt.Errorf("replacing index: %w", err)
	}
	if err := syncDir(im.dir); err != nil {
		return err
	}
	if st, err := os.Stat(live); err == nil {
		res.Bytes = st.Size()
	}
	return nil
}

// writeFileAtomic writes data to a temporary file, syncs it and renames it
// to path, so path holds either its old or its new content.
func writeFileAtomic(path string, data []byte) error {
	return writeAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeAtomic is writeFileAtomic with the content written by write.
func writeAtomic(path string, write func(io.Writer) error) error {
	tmp := path + ".part"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !strings.Contains(err.Error(), "invalid argument") {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}
