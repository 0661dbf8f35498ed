package breach

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// benchIndex opens the index named by ATOGUARD_BENCH_INDEX (an index file
// made with `atoguard passwords import`, see docs/benchmarks.md), or builds
// one of 200,000 random digests. It returns some of its digests.
func benchIndex(b *testing.B) (*Index, []Entry) {
	b.Helper()
	path := os.Getenv("ATOGUARD_BENCH_INDEX")
	if path == "" {
		dir := b.TempDir()
		p := filepath.Join(dir, "pwned.txt")
		writeHIBP(b, p, hibpLines(rand.New(rand.NewPCG(1, 1)), 200_000), true)
		if _, err := Import(context.Background(), dir, []string{p}, ImportOptions{}); err != nil {
			b.Fatal(err)
		}
		path = filepath.Join(dir, IndexFile)
	}
	ix, err := Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ix.Close() })
	// Sample present digests from evenly spread buckets.
	var present []Entry
	for p := Prefix(0); p < NumPrefixes && len(present) < 4096; p += 97 {
		es, err := ix.Range(p)
		if err != nil {
			b.Fatal(err)
		}
		if len(es) > 0 {
			present = append(present, es[len(es)/2])
		}
	}
	if len(present) == 0 {
		b.Fatal("empty index")
	}
	return ix, present
}

func randomDigests(n int) [][20]byte {
	r := rand.New(rand.NewPCG(42, 42))
	out := make([][20]byte, n)
	for i := range out {
		for j := range out[i] {
			out[i][j] = byte(r.IntN(256))
		}
	}
	return out
}

func BenchmarkCountPresent(b *testing.B) {
	ix, present := benchIndex(b)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, ok, err := ix.Count(present[i%len(present)].SHA1); !ok || err != nil {
			b.Fatal("present digest not found")
		}
	}
}

func BenchmarkCountAbsent(b *testing.B) {
	ix, _ := benchIndex(b)
	absent := randomDigests(1 << 16)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, ok, err := ix.Count(absent[i%len(absent)]); ok || err != nil {
			b.Fatal("random digest found")
		}
	}
}

func BenchmarkRange(b *testing.B) {
	ix, present := benchIndex(b)
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := ix.Range(PrefixOf(&present[i%len(present)].SHA1)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkBuiltinCount(b *testing.B) {
	l := Builtin()
	absent := randomDigests(1 << 16)
	for i := 0; b.Loop(); i++ {
		l.Count(absent[i%len(absent)])
	}
}

// TestFilterFalsePositiveRate measures how often the filter admits a
// digest that is not in the index (before the exact confirmation). Set
// ATOGUARD_BENCH_INDEX to measure a large index; ATOGUARD_FP_SAMPLES sets
// the number of random digests (default 1,000,000).
func TestFilterFalsePositiveRate(t *testing.T) {
	path := os.Getenv("ATOGUARD_BENCH_INDEX")
	if path == "" {
		t.Skip("set ATOGUARD_BENCH_INDEX to an index file")
	}
	ix, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	n := 1_000_000
	if s := os.Getenv("ATOGUARD_FP_SAMPLES"); s != "" {
		if _, err := fmt.Sscan(s, &n); err != nil {
			t.Fatal(err)
		}
	}
	r := rand.New(rand.NewPCG(7, 11))
	var fp, confirmed int
	var h [20]byte
	for range n {
		for j := range h {
			h[j] = byte(r.IntN(256))
		}
		if ix.MayContain(h) {
			fp++
			if _, ok, _ := ix.Count(h); ok {
				confirmed++
			}
		}
	}
	t.Logf("index: %d digests, filter %d bytes (%.2f bits a digest)", ix.Len(), ix.FilterBytes(), 8*float64(ix.FilterBytes())/float64(ix.Len()))
	t.Logf("false positives before confirmation: %d of %d random digests = %.4f%%; after confirmation: %d", fp, n, 100*float64(fp)/float64(n), confirmed)
}
