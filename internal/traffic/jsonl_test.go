package traffic

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestJSONLRoundTrip(t *testing.T) {
	evs := mustGenerate(t, small(11))
	var b bytes.Buffer
	if err := WriteJSONL(&b, evs); err != nil {
		t.Fatal(err)
	}
	if got, want := bytes.Count(b.Bytes(), []byte("\n")), len(evs); got != want {
		t.Errorf("lines = %d, want %d", got, want)
	}
	got, err := ReadJSONL(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(evs, got) { // cmp.Diff only on failure: it is slow on 10,000 events
		t.Errorf("round trip (-want +got):\n%s", cmp.Diff(evs, got))
	}
}

func TestReadJSONL(t *testing.T) {
	const ok = `{"label":{"actor":"owner","phase":"eval","account_exists":true,"valid_credential":false},"event":{"type":"login.succeeded"}}`
	tests := []struct {
		name, in string
		want     int    // events read
		err      string // wanted error, exactly
	}{
		{"empty", "", 0, ""},
		{"one, blank lines skipped", "\n" + ok + "\n\n  \n", 1, ""},
		{"no final newline", ok + "\n" + ok, 2, ""},
		{"bad json", ok + "\n{\"label\":\n", 0, "line 2: not a labelled event: unexpected EOF"},
		{"unknown field", `{"label":{"actor":"owner","phase":"eval","score":3},"event":{}}`, 0, `line 1: not a labelled event: json: unknown field "score"`},
		{"plain event without label", `{"type":"login.failed"}`, 0, `line 1: not a labelled event: json: unknown field "type"`},
		{"bad actor", `{"label":{"actor":"bot","phase":"eval"},"event":{}}`, 0, `line 1: label.actor must be owner or attacker (got "bot")`},
		{"bad phase", `{"label":{"actor":"owner","phase":"later"},"event":{}}`, 0, `line 1: label.phase must be warmup or eval (got "later")`},
		{"missing event", `{"label":{"actor":"owner","phase":"eval"}}`, 0, "line 1: event is missing or not a JSON object"},
		{"event not an object", `{"label":{"actor":"owner","phase":"eval"},"event":[1]}`, 0, "line 1: event is missing or not a JSON object"},
		{"trailing data", ok + ` {}`, 0, "line 1: trailing data after the labelled event"},
		{"too long", ok + "\n\n" + strings.Repeat(" ", maxLine+1), 0, "line 3: longer than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadJSONL(strings.NewReader(tt.in))
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if gotErr != tt.err || len(got) != tt.want {
				t.Errorf("ReadJSONL = %d events, error %q; want %d, %q", len(got), gotErr, tt.want, tt.err)
			}
		})
	}
}

func FuzzReadJSONL(f *testing.F) {
	var b bytes.Buffer
	if err := WriteJSONL(&b, mustGenerate(f, small(1))[:20]); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	f.Add([]byte(`{"label":{"actor":"attacker","phase":"eval"},"event":{}}` + "\n\n"))
	f.Add([]byte("{}\n[]\nnull\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, err := ReadJSONL(bytes.NewReader(data))
		if err != nil {
			return
		}
		// What was read writes and reads back unchanged (events compacted).
		var out bytes.Buffer
		if err := WriteJSONL(&out, evs); err != nil {
			t.Fatalf("WriteJSONL: %v", err)
		}
		again, err := ReadJSONL(&out)
		if err != nil {
			t.Fatalf("reading back: %v", err)
		}
		for i := range evs {
			var c bytes.Buffer
			if err := json.Compact(&c, evs[i].Event); err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			evs[i].Event = c.Bytes()
		}
		if diff := cmp.Diff(evs, again); diff != "" {
			t.Errorf("round trip (-want +got):\n%s", diff)
		}
	})
}
