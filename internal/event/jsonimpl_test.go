package event

import (
	"encoding/json"
	"testing"
)

// unmarshalV2 decodes with github.com/go-json-experiment/json, rejecting
// unknown members; nil where that module does not build: with Go 1.27's
// JSON v2 experiment on (its default), the module's aliases of the
// standard library's encoding/json/v2 name functions that Go 1.27.3 no
// longer has (json.SkipFunc). See jsonv2_test.go.
var unmarshalV2 func(data []byte, v any) error

// BenchmarkUnmarshalWire measures, in one run, the JSON implementations
// that could decode the wire event (issue 18): encoding/json as Decode
// uses it (a Decoder rejecting unknown fields) against the JSON v2
// implementation github.com/go-json-experiment/json (rejecting unknown
// members; only where it builds, see unmarshalV2), on the login event of
// docs/api.md and on an order. The rows "checks" and "Decode" are the
// rest of Decode's work, for scale.
func BenchmarkUnmarshalWire(b *testing.B) {
	for _, in := range []struct{ name, data string }{
		{"login", apiExample},
		{"order", validTests[8].in},
	} {
		data := []byte(in.data)
		b.Run(in.name+"/encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var w wireEvent
				if err := strictUnmarshal(data, &w); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/encoding-json-Unmarshal", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var w wireEvent
				if err := json.Unmarshal(data, &w); err != nil {
					b.Fatal(err)
				}
			}
		})
		if unmarshalV2 != nil {
			b.Run(in.name+"/go-json-experiment", func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					var w wireEvent
					if err := unmarshalV2(data, &w); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(in.name+"/checks", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := checkSyntax(data); err != nil {
					b.Fatal(err)
				}
				if err := checkStructure(data, eventSchema, ""); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(in.name+"/Decode", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Decode(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
