package logreplay

import (
	"cmp"
	"context"
	"os"
	"testing"
)

// BenchmarkReplay replays the generated test log (24k lines) per op, or
// the log named by $LOGREPLAY_BENCH_LOG.
func BenchmarkReplay(b *testing.B) {
	file := cmp.Or(os.Getenv("LOGREPLAY_BENCH_LOG"), "testdata/access.log.gz")
	cfg, err := Load("testdata/replay.yaml")
	if err != nil {
		b.Fatal(err)
	}
	ins, err := Inputs([]string{file}, nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		rep, err := Run(context.Background(), cfg, ins, Options{Workers: 1})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(rep.Lines), "lines/op")
	}
}
