package logformat

import (
	"errors"
	"testing"
)

// FuzzParse checks that no line makes Parse panic, and that every refused
// line is ErrMalformed.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`203.0.113.7 - - [25/Nov/2026:10:00:00 +0900] "POST /login HTTP/1.1" 302 0 "https://shop.example/login" "Mozilla/5.0"`,
		`2001:db8::1 - alice [25/Nov/2026:10:00:00 +0000] "GET / HTTP/2.0" 200 5120 "-" "evil \"agent\""`,
		`198.51.100.2 - - [25/Nov/2026:10:00:00 +0000] "\x16\x03\x01" 400 157 "-" "-"`,
		`- - - [] "" - - "" ""`,
		`\\\\\\"`,
		"",
	} {
		f.Add(s)
	}
	formats := []*Format{}
	for _, s := range []string{"combined", `$msec $http_x_forwarded_for "$request" $status "$sent_http_location"`} {
		fm, err := Compile(s)
		if err != nil {
			f.Fatal(err)
		}
		formats = append(formats, fm)
	}
	f.Fuzz(func(t *testing.T, line string) {
		for _, fm := range formats {
			r, err := fm.Parse(line)
			if err != nil {
				if !errors.Is(err, ErrMalformed) {
					t.Fatalf("Parse(%q): %v is not ErrMalformed", line, err)
				}
				continue
			}
			if !r.IP.IsValid() || r.Time.IsZero() {
				t.Fatalf("Parse(%q) = %+v without address or time", line, r)
			}
		}
	})
}
