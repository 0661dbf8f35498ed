package engine

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/store/memory"
)

// step is one line of a sequence file: an event with the decisions it may
// get and reasons it must carry, or a note for the reader.
type step struct {
	Note        string          `json:"note"`
	Event       json.RawMessage `json:"event"`
	Want        []string        `json:"want"`
	WantReasons []string        `json:"want_reasons"`
}

// TestSequences runs the stories under testdata/sequences: each file is a
// sequence of events on a fresh engine (event clock, built-in policy),
// with the decisions expected along the way.
func TestSequences(t *testing.T) {
	files, err := filepath.Glob("testdata/sequences/*.jsonl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no sequences: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			e := newEngine(t, "", memory.New())
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 1<<20), 1<<20)
			for line := 1; sc.Scan(); line++ {
				var s step
				if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
					t.Fatalf("line %d: %v", line, err)
				}
				if s.Event == nil {
					continue
				}
				ev, err := event.Decode(s.Event)
				if err != nil {
					t.Fatalf("line %d: %v", line, err)
				}
				r, err := e.Assess(context.Background(), ev)
				if err != nil {
					t.Fatalf("line %d: %v", line, err)
				}
				var codes []string
				for _, rs := range r.Reasons {
					codes = append(codes, rs.Code)
				}
				if len(s.Want) > 0 && !slices.Contains(s.Want, string(r.Decision)) {
					t.Errorf("line %d (%s): decision %s, want one of %v; reasons %v, rules %v", line, ev.Type, r.Decision, s.Want, codes, r.Rules)
				}
				for _, c := range s.WantReasons {
					if !slices.Contains(codes, c) {
						t.Errorf("line %d (%s): reasons %v lack %s", line, ev.Type, codes, c)
					}
				}
			}
			if err := sc.Err(); err != nil {
				t.Fatal(err)
			}
		})
	}
}
