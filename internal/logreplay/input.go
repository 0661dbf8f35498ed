package logreplay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/atoguard/atoguard/internal/logformat"
)

// Input is one log to replay.
type Input struct {
	Name string
	Open func() (io.ReadCloser, error) // the raw bytes, gzip or not
}

// Inputs expands the command line's arguments into inputs: files, glob
// patterns (each must match something) and "-" for stdin.
func Inputs(args []string, stdin io.Reader) ([]Input, error) {
	var out []Input
	for _, a := range args {
		if a == "-" {
			out = append(out, Input{Name: "stdin", Open: func() (io.ReadCloser, error) { return io.NopCloser(stdin), nil }})
			continue
		}
		names := []string{a}
		if hasMeta(a) {
			m, err := filepath.Glob(a)
			if err != nil {
				return nil, fmt.Errorf("pattern %q: %w", a, err)
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("pattern %q matches no file", a)
			}
			names = m
		}
		for _, n := range names {
			if _, err := os.Stat(n); err != nil {
				return nil, fmt.Errorf("input: %w", err)
			}
			out = append(out, Input{Name: n, Open: func() (io.ReadCloser, error) { return os.Open(n) }})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no input: give files, patterns or - for stdin")
	}
	return out, nil
}

func hasMeta(p string) bool {
	for _, c := range p {
		if c == '*' || c == '?' || c == '[' {
			return true
		}
	}
	return false
}

// openInput opens an input, decompressing gzip (told by its magic bytes).
// It returns the reader and a count of the raw bytes read so far.
func openInput(in Input) (io.Reader, *counter, func() error, error) {
	rc, err := in.Open()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("opening %s: %w", in.Name, err)
	}
	cnt := &counter{r: rc}
	br := bufio.NewReaderSize(cnt, 1<<16)
	magic, _ := br.Peek(2)
	if bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			rc.Close()
			return nil, nil, nil, fmt.Errorf("%s: %w", in.Name, err)
		}
		return zr, cnt, rc.Close, nil
	}
	return br, cnt, rc.Close, nil
}

// counter counts the bytes read through it.
type counter struct {
	r io.Reader
	n int64
	sync.Mutex
}

func (c *counter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.Lock()
	c.n += int64(n)
	c.Unlock()
	return n, err
}

// firstTime returns the time of the first line of in that parses, to read
// rotated files oldest first; ok is false when none of its first lines do.
func firstTime(in Input, m *mapper) (time.Time, bool) {
	r, _, closeIn, err := openInput(in)
	if err != nil {
		return time.Time{}, false
	}
	defer closeIn()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var it item
	for n := 0; n < 100 && sc.Scan(); n++ {
		if m.parse(sc.Text(), &it, nil); it.kind != kindMalformed {
			return it.t, true
		}
	}
	return time.Time{}, false
}

// sortInputs orders the files by the time of their first line, stdin
// staying where it was given; files whose time cannot be read keep their
// place among the others.
func sortInputs(ins []Input, m *mapper) []Input {
	type keyed struct {
		in Input
		t  time.Time
	}
	ks := make([]keyed, len(ins))
	for i, in := range ins {
		ks[i].in = in
		if in.Name != "stdin" {
			ks[i].t, _ = firstTime(in, m)
		}
	}
	slices.SortStableFunc(ks, func(a, b keyed) int {
		if a.t.IsZero() || b.t.IsZero() {
			return 0
		}
		return a.t.Compare(b.t)
	})
	out := make([]Input, len(ks))
	for i := range ks {
		out[i] = ks[i].in
	}
	return out
}

// chunk is a block of whole lines, parsed by one worker.
type chunk struct {
	input     int   // index of its input
	firstLine int64 // line number of its first line in the input (from 1)
	data      []byte
	items     []item
	done      chan struct{}
}

const chunkBytes = 256 << 10

// pipeline reads the inputs in chunks of lines, parses them on workers
// goroutines, and hands the chunks to consume in input order. progress,
// when not nil, is told the raw bytes read.
func pipeline(ctx context.Context, ins []Input, m *mapper, workers int, consume func(*chunk) error, progress func(int64)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan *chunk, workers)
	order := make(chan *chunk, 2*workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for c := range jobs {
				parseChunk(c, m)
				close(c.done)
			}
		})
	}
	readErr := make(chan error, 1)
	go func() {
		defer close(order)
		defer close(jobs)
		readErr <- readAll(ctx, ins, jobs, order, progress)
	}()
	var err error
	for c := range order {
		<-c.done
		if err == nil {
			err = consume(c)
			if err != nil {
				cancel()
			}
		}
	}
	wg.Wait()
	if rerr := <-readErr; err == nil && rerr != nil && !errors.Is(rerr, context.Canceled) {
		err = rerr
	}
	return err
}

// readAll cuts the inputs into chunks and queues each for a worker and, in
// order, for the consumer.
func readAll(ctx context.Context, ins []Input, jobs, order chan<- *chunk, progress func(int64)) error {
	var base int64 // raw bytes of the inputs done
	for i, in := range ins {
		r, cnt, closeIn, err := openInput(in)
		if err != nil {
			return err
		}
		line := int64(1)
		var carry []byte
		for {
			buf := make([]byte, len(carry), max(chunkBytes, 2*len(carry)))
			copy(buf, carry)
			n, rerr := io.ReadFull(r, buf[len(carry):cap(buf)])
			buf = buf[:len(carry)+n]
			end := len(buf)
			if rerr == nil {
				if j := bytes.LastIndexByte(buf, '\n'); j >= 0 {
					end = j + 1
				} else if len(buf) < 4<<20 {
					carry = buf // a long line: read on
					continue
				}
			}
			carry = buf[end:]
			if end > 0 {
				c := &chunk{input: i, firstLine: line, data: buf[:end], done: make(chan struct{})}
				line += int64(bytes.Count(c.data, []byte{'\n'}))
				select {
				case jobs <- c:
				case <-ctx.Done():
					closeIn()
					return ctx.Err()
				}
				select {
				case order <- c:
				case <-ctx.Done():
					closeIn()
					return ctx.Err()
				}
			}
			if progress != nil {
				cnt.Lock()
				progress(base + cnt.n)
				cnt.Unlock()
			}
			if rerr != nil {
				closeIn()
				if rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
					return fmt.Errorf("reading %s: %w", in.Name, rerr)
				}
				break
			}
		}
		cnt.Lock()
		base += cnt.n
		cnt.Unlock()
	}
	return nil
}

// parseChunk parses a chunk's lines into its items.
func parseChunk(c *chunk, m *mapper) {
	s := string(c.data) // one copy: the items' strings share it
	c.items = make([]item, 0, bytes.Count(c.data, []byte{'\n'})+1)
	var tc logformat.TimeCache
	for len(s) > 0 {
		line := s
		if i := strings.IndexByte(s, '\n'); i >= 0 {
			line, s = s[:i], s[i+1:]
		} else {
			s = ""
		}
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		c.items = append(c.items, item{})
		it := &c.items[len(c.items)-1]
		if line == "" {
			continue // kindSkip
		}
		m.parse(line, it, &tc)
	}
	c.data = nil
}
