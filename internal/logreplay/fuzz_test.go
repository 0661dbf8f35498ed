package logreplay

import "testing"

// FuzzMap checks that no line, access log or JSON, makes the mapper panic,
// and that what it keeps has an address and a time.
func FuzzMap(f *testing.F) {
	for _, s := range []string{
		`192.0.2.1 - - [25/Nov/2026:10:00:00 +0900] "POST /login HTTP/1.1" 302 0 "-" "Mozilla/5.0"`,
		`{"ts":"2026-11-25T10:00:00Z","action":"login","result":"ok","email":"Taro@Example.jp","uid":"u1","client":{"ip":"192.0.2.1","ua":"UA"}}`,
		`{"ts":"2026-11-25T10:00:00Z","action":"order","result":"accepted","amount":1e400,"client":{"ip":"::1"}}`,
		`{"client":[1,2,{"ip":null}]}`,
		"",
	} {
		f.Add(s)
	}
	mappers := []*mapper{testMapper(f, ExampleConfig), testMapper(f, jsonConfig)}
	f.Fuzz(func(t *testing.T, line string) {
		for _, m := range mappers {
			var it item
			m.parse(line, &it, nil)
			if it.kind != kindMalformed && (!it.ip.IsValid() || it.t.IsZero()) {
				t.Fatalf("%q: kept without address or time: %+v", line, it)
			}
		}
	})
}
