package breach

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustHex(t testing.TB, s string) [20]byte {
	t.Helper()
	var h [20]byte
	if _, err := hex.Decode(h[:], []byte(s)); err != nil || len(s) != 40 {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return h
}

func TestRecordRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 10000; i++ {
		var e Entry
		for j := range e.SHA1 {
			e.SHA1[j] = byte(r.IntN(256))
		}
		e.Count = r.Int64N(MaxCount + 1)
		if i%100 == 0 {
			e.Count = MaxCount
		}
		var rec [recordSize]byte
		putRecord(rec[:], &e)
		var got Entry
		getRecord(rec[:], PrefixOf(&e.SHA1), &got)
		if got != e {
			t.Fatalf("round trip: got %x:%d, want %x:%d", got.SHA1, got.Count, e.SHA1, e.Count)
		}
		if compareRecord(rec[:], ptr(keyOf(&e.SHA1))) != 0 {
			t.Fatal("a record does not compare equal to its own key")
		}
	}
	e := Entry{Count: MaxCount + 5}
	var rec [recordSize]byte
	putRecord(rec[:], &e)
	getRecord(rec[:], 0, &e)
	if e.Count != MaxCount {
		t.Errorf("count over MaxCount stored as %d, want %d", e.Count, MaxCount)
	}
}

func ptr[T any](v T) *T { return &v }

func TestParsePrefix(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Prefix
		err  bool
	}{
		{"5BAA6", 0x5BAA6, false},
		{"5baa6", 0x5BAA6, false},
		{"00000", 0, false},
		{"fffff", 0xFFFFF, false},
		{"5BAA", 0, true},
		{"5BAA61", 0, true},
		{"5BAG6", 0, true},
		{"", 0, true},
		{"５BAA6", 0, true},
	} {
		got, err := ParsePrefix(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParsePrefix(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
		if err != nil && !errors.Is(err, ErrBadPrefix) {
			t.Errorf("ParsePrefix(%q) error %v does not wrap ErrBadPrefix", tt.in, err)
		}
	}
	if s := Prefix(0x5BAA6).String(); s != "5BAA6" {
		t.Errorf("String = %q", s)
	}
}

func TestParseHIBPLine(t *testing.T) {
	pw := mustHex(t, "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8")
	for _, tt := range []struct {
		in    string
		count int64
		err   string
	}{
		{"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:9545824", 9545824, ""},
		{"5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8:3\r", 3, ""},
		{"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8", 1, ""},
		{"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:0", 0, ""},
		{"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:", 0, `"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:": the count is not 1 to 18 decimal digits: not SHA1HEX:COUNT`},
		{"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:-1", 0, `"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:-1": the count is not decimal: not SHA1HEX:COUNT`},
		{"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8 3", 0, `"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8 3": no ':' after the 40 hexadecimal digits: not SHA1HEX:COUNT`},
		{"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FDX:1", 0, `"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FDX:1": not hexadecimal: not SHA1HEX:COUNT`},
		{"8846F7EAEE8FB117AD06BDD830B7586C:1", 0, `"8846F7EAEE8FB117AD06BDD830B7586C:1": shorter than 40 hexadecimal digits: not SHA1HEX:COUNT`},
		{"password", 0, `"password": shorter than 40 hexadecimal digits: not SHA1HEX:COUNT`},
	} {
		h, n, err := ParseHIBPLine([]byte(tt.in))
		if tt.err != "" {
			if err == nil || err.Error() != tt.err || !errors.Is(err, ErrBadLine) {
				t.Errorf("ParseHIBPLine(%q) error = %v, want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || h != pw || n != tt.count {
			t.Errorf("ParseHIBPLine(%q) = %x, %d, %v; want %x, %d", tt.in, h, n, err, pw, tt.count)
		}
	}
}

func TestBuiltin(t *testing.T) {
	b := Builtin()
	if b.Len() != 20000 {
		t.Fatalf("built-in list has %d entries, want 20000", b.Len())
	}
	for _, tt := range []struct {
		password string
		count    int64
		ok       bool
	}{
		{"123456", 20000, true},
		{"password", 10000, true},
		{"qwerty", 5000, true},
		{"correct horse battery staple, but longer", 0, false},
	} {
		n, ok, err := b.Count(sha1.Sum([]byte(tt.password)))
		if err != nil || ok != tt.ok || n != tt.count {
			t.Errorf("Count(sha1(%q)) = %d, %v, %v; want %d, %v", tt.password, n, ok, err, tt.count, tt.ok)
		}
	}
	es, _ := b.Range(0x5BAA6)
	i := slices.IndexFunc(es, func(e Entry) bool { return e.Suffix() == "1E4C9B93F3F0682250B6CF8331B7EE68FD8" })
	if i < 0 || es[i].Count != 10000 {
		t.Errorf("Range(5BAA6) = %v, want the entry of \"password\"", es)
	}
}

// corpus writes random Pwned Passwords lines and returns them.
func hibpLines(r *rand.Rand, n int) []Entry {
	out := make([]Entry, n)
	for i := range out {
		for j := range out[i].SHA1 {
			out[i].SHA1[j] = byte(r.IntN(256))
		}
		out[i].Count = 1 + r.Int64N(50)
	}
	return out
}

func writeHIBP(t testing.TB, path string, es []Entry, crlf bool) {
	t.Helper()
	var b bytes.Buffer
	for _, e := range es {
		fmt.Fprintf(&b, "%X:%d", e.SHA1, e.Count)
		if crlf {
			b.WriteString("\r\n")
		} else {
			b.WriteString("\n")
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// expect computes what an import of files gives: sums within a file,
// the maximum across files, min-count applied per file.
func expect(minCount int64, files ...[]Entry) map[[20]byte]int64 {
	out := map[[20]byte]int64{}
	for _, es := range files {
		sums := map[[20]byte]int64{}
		for _, e := range es {
			sums[e.SHA1] += e.Count
		}
		for h, n := range sums {
			if n >= minCount {
				out[h] = max(out[h], min(n, MaxCount))
			}
		}
	}
	return out
}

func allEntries(t testing.TB, path string) map[[20]byte]int64 {
	t.Helper()
	ix, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	out := map[[20]byte]int64{}
	c := ix.cursor()
	var e Entry
	var last [20]byte
	for i := 0; ; i++ {
		ok, err := c.next(&e)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		if i > 0 && compareSHA1(&e.SHA1, &last) <= 0 {
			t.Fatalf("entry %d out of order", i)
		}
		last = e.SHA1
		out[e.SHA1] = e.Count
	}
	if int64(len(out)) != ix.Len() {
		t.Fatalf("index says %d entries, holds %d", ix.Len(), len(out))
	}
	return out
}

func TestImportAndLookup(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(7, 7))
	hibp := hibpLines(r, 5000)
	hibp = append(hibp, Entry{SHA1: mustHex(t, "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"), Count: 9545824})
	hibp = append(hibp, hibp[10]) // listed twice: the counts add up
	hibpPath := filepath.Join(dir, "pwned.txt")
	writeHIBP(t, hibpPath, hibp, true)
	plainPath := filepath.Join(dir, "list.txt")
	plain := "\xef\xbb\xbfhunter2\nhunter2\r\nletmein\n\n" + strings.Repeat("x", maxLine+10) + "\nsecret\n"
	if err := os.WriteFile(plainPath, []byte(plain), 0o600); err != nil {
		t.Fatal(err)
	}
	idx := filepath.Join(dir, "idx")
	res, err := Import(context.Background(), idx, []string{hibpPath, plainPath}, ImportOptions{RunSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if res.Lines != 5002+4 || res.Skipped != 2 || res.Entries != 5001+3 || res.Added != res.Entries {
		t.Errorf("result = %+v", res)
	}
	ix, err := Open(filepath.Join(idx, IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	want := map[string]int64{"hunter2": 2, "letmein": 1, "secret": 1}
	for pw, n := range want {
		got, ok, err := ix.Count(sha1.Sum([]byte(pw)))
		if err != nil || !ok || got != n {
			t.Errorf("Count(%q) = %d, %v, %v; want %d", pw, got, ok, err, n)
		}
	}
	for i, e := range hibp[:100] {
		n := e.Count
		if i == 10 {
			n *= 2
		}
		got, ok, err := ix.Count(e.SHA1)
		if err != nil || !ok || got != n {
			t.Errorf("Count(%X) = %d, %v, %v; want %d", e.SHA1, got, ok, err, n)
		}
	}
	absent := hibpLines(rand.New(rand.NewPCG(99, 99)), 20000)
	falsePos := 0
	for _, e := range absent {
		if n, ok, err := ix.Count(e.SHA1); ok || n != 0 || err != nil {
			t.Fatalf("Count(absent %X) = %d, %v, %v", e.SHA1, n, ok, err)
		}
		if ix.MayContain(e.SHA1) {
			falsePos++
		}
	}
	if falsePos > 200 { // 8-bit fingerprints: about 0.4%
		t.Errorf("filter false positives: %d of %d", falsePos, len(absent))
	}
	es, err := ix.Range(0x5BAA6)
	if err != nil || len(es) != 1 || es[0].Suffix() != "1E4C9B93F3F0682250B6CF8331B7EE68FD8" || es[0].Count != 9545824 {
		t.Errorf("Range(5BAA6) = %v, %v", es, err)
	}
	if _, err := os.Stat(filepath.Join(idx, importDir)); !os.IsNotExist(err) {
		t.Errorf("work directory left behind: %v", err)
	}
}

func TestMinCount(t *testing.T) {
	dir := t.TempDir()
	es := hibpLines(rand.New(rand.NewPCG(1, 1)), 2000)
	p := filepath.Join(dir, "p.txt")
	writeHIBP(t, p, es, false)
	list := filepath.Join(dir, "l.txt")
	if err := os.WriteFile(list, []byte("a\nb\na\na\nc\nb\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	idx := filepath.Join(dir, "idx")
	if _, err := Import(context.Background(), idx, []string{p, list}, ImportOptions{MinCount: 25, RunSize: 500}); err != nil {
		t.Fatal(err)
	}
	got := allEntries(t, filepath.Join(idx, IndexFile))
	want := expect(25, es)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	idx2 := filepath.Join(dir, "idx2")
	if _, err := Import(context.Background(), idx2, []string{list}, ImportOptions{MinCount: 2, RunSize: 2}); err != nil {
		t.Fatal(err)
	}
	want = map[[20]byte]int64{sha1.Sum([]byte("a")): 3, sha1.Sum([]byte("b")): 2}
	if diff := cmp.Diff(want, allEntries(t, filepath.Join(idx2, IndexFile))); diff != "" {
		t.Errorf("plain list with --min-count 2 (-want +got):\n%s", diff)
	}
}

func TestImportIsIncremental(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(3, 4))
	a, b := hibpLines(r, 3000), hibpLines(r, 3000)
	b = append(b, Entry{SHA1: a[0].SHA1, Count: a[0].Count + 100}, Entry{SHA1: a[1].SHA1, Count: 1})
	pa, pb := filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")
	writeHIBP(t, pa, a, false)
	writeHIBP(t, pb, b, true)
	idx := filepath.Join(dir, "idx")
	if _, err := Import(context.Background(), idx, []string{pa}, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	res, err := Import(context.Background(), idx, []string{pb}, ImportOptions{RunSize: 500})
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 3000 {
		t.Errorf("added %d, want 3000", res.Added)
	}
	want := expect(1, a, b)
	if diff := cmp.Diff(want, allEntries(t, filepath.Join(idx, IndexFile))); diff != "" {
		t.Errorf("entries (-want +got):\n%s", diff)
	}
	// Importing the same file again changes nothing.
	if _, err := Import(context.Background(), idx, []string{pb}, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, allEntries(t, filepath.Join(idx, IndexFile))); diff != "" {
		t.Errorf("after a second import (-want +got):\n%s", diff)
	}
}

// stopAfter is a context that reports itself cancelled once Err has been
// asked n times: the importer asks at fixed points, so the interruption is
// deterministic.
type stopAfter struct {
	context.Context
	n atomic.Int64
}

func newStopAfter(n int64) *stopAfter {
	c := &stopAfter{Context: context.Background()}
	c.n.Store(n)
	return c
}

func (c *stopAfter) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

func TestInterruptedImportResumes(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(5, 6))
	base := hibpLines(r, 2000)
	files := [][]Entry{hibpLines(r, 9000), hibpLines(r, 9000), hibpLines(r, 9000)}
	files[2] = append(files[2], files[0][:50]...) // shared with another file: max wins
	var paths []string
	for i, es := range files {
		p := filepath.Join(dir, fmt.Sprintf("f%d.txt", i))
		writeHIBP(t, p, es, i%2 == 0)
		paths = append(paths, p)
	}
	pbase := filepath.Join(dir, "base.txt")
	writeHIBP(t, pbase, base, false)
	want := expect(1, append([][]Entry{base}, files...)...)

	for _, tc := range []struct {
		name  string
		stops []int64 // Err calls before each interruption
	}{
		{"while reading", []int64{3}},
		{"twice while reading", []int64{2, 3}},
		{"while merging", []int64{12}},
		{"reading, twice, later", []int64{4, 6}},
		{"reading then merging", []int64{4, 9}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			idx := filepath.Join(t.TempDir(), "idx")
			if _, err := Import(context.Background(), idx, []string{pbase}, ImportOptions{}); err != nil {
				t.Fatal(err)
			}
			live := filepath.Join(idx, IndexFile)
			before := allEntries(t, live)
			opt := ImportOptions{RunSize: 2500}
			var notes []string
			opt.Log = func(s string) { notes = append(notes, s) }
			for _, n := range tc.stops {
				_, err := Import(newStopAfter(n), idx, paths, opt)
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("interrupted import: err = %v, want context.Canceled", err)
				}
				if diff := cmp.Diff(before, allEntries(t, live)); diff != "" {
					t.Fatalf("the live index changed during an interrupted import:\n%s", diff)
				}
			}
			// What a crash leaves behind: a run written but not yet in the
			// journal, a partial merge. Both are discarded on resume.
			for _, name := range []string{"run-000099", mergedFile, journalFn + ".part"} {
				if err := os.WriteFile(filepath.Join(idx, importDir, name), []byte("partial"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			res, err := Import(context.Background(), idx, paths, opt)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Resumed {
				t.Errorf("the import did not resume (notes %q)", notes)
			}
			if res.Lines != 27050 {
				t.Errorf("lines = %d, want 27050", res.Lines)
			}
			if diff := cmp.Diff(want, allEntries(t, live)); diff != "" {
				t.Errorf("entries after resuming (-want +got):\n%s", diff)
			}
			t.Logf("notes: %q", notes)
		})
	}

	t.Run("other files restart", func(t *testing.T) {
		idx := filepath.Join(t.TempDir(), "idx")
		if _, err := Import(newStopAfter(3), idx, paths, ImportOptions{RunSize: 2500}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		var notes []string
		res, err := Import(context.Background(), idx, paths[:1], ImportOptions{Log: func(s string) { notes = append(notes, s) }})
		if err != nil {
			t.Fatal(err)
		}
		if res.Resumed || len(notes) != 1 || !strings.Contains(notes[0], "discarding") {
			t.Errorf("resumed = %v, notes %q; want a discarded import", res.Resumed, notes)
		}
		if diff := cmp.Diff(expect(1, files[0]), allEntries(t, filepath.Join(idx, IndexFile))); diff != "" {
			t.Errorf("entries (-want +got):\n%s", diff)
		}
	})
}

func TestCorruptIndex(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "p.txt")
	writeHIBP(t, p, hibpLines(rand.New(rand.NewPCG(8, 8)), 100), false)
	idx := filepath.Join(dir, "idx")
	if _, err := Import(context.Background(), idx, []string{p}, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(idx, IndexFile)
	good, err := os.ReadFile(live)
	if err != nil {
		t.Fatal(err)
	}
	for name, mutate := range map[string]func([]byte) []byte{
		"truncated":    func(b []byte) []byte { return b[:len(b)-1] },
		"header":       func(b []byte) []byte { b[20]++; return b },
		"table":        func(b []byte) []byte { b[headerSize+100*recordSize+8]++; return b },
		"filter":       func(b []byte) []byte { b[len(b)-1]++; return b },
		"not an index": func([]byte) []byte { return []byte("hello") },
	} {
		bad := mutate(slices.Clone(good))
		path := filepath.Join(dir, "bad-"+strings.ReplaceAll(name, " ", "-"))
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(path); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: Open error = %v, want ErrCorrupt", name, err)
		}
	}
}

func TestEmptyAndTinyIndexes(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 2, 3, 5, 17} {
		p := filepath.Join(dir, fmt.Sprintf("p%d.txt", n))
		es := hibpLines(rand.New(rand.NewPCG(uint64(n), 1)), n)
		writeHIBP(t, p, es, false)
		idx := filepath.Join(dir, fmt.Sprintf("idx%d", n))
		if _, err := Import(context.Background(), idx, []string{p}, ImportOptions{}); err != nil {
			t.Fatalf("%d entries: %v", n, err)
		}
		if diff := cmp.Diff(expect(1, es), allEntries(t, filepath.Join(idx, IndexFile))); diff != "" {
			t.Errorf("%d entries (-want +got):\n%s", n, diff)
		}
	}
}

func TestShardBits(t *testing.T) {
	for _, tt := range []struct {
		n    uint64
		want uint
	}{{0, 0}, {maxShardKeys, 0}, {maxShardKeys + 1, 1}, {2 * maxShardKeys, 1}, {2*maxShardKeys + 1, 2}, {1 << 40, maxShardBits}} {
		if got := shardBitsFor(tt.n); got != tt.want {
			t.Errorf("shardBitsFor(%d) = %d, want %d", tt.n, got, tt.want)
		}
	}
}
