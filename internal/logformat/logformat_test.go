package logformat

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	jst := time.FixedZone("", 9*3600)
	for _, tc := range []struct {
		name, format, line string
		want               Record
	}{
		{
			name:   "nginx combined",
			format: "combined",
			line:   `203.0.113.7 - - [25/Nov/2026:10:00:00 +0900] "POST /login?next=%2Fcart HTTP/1.1" 302 0 "https://shop.example/login" "Mozilla/5.0 (X11; Linux x86_64)"`,
			want: Record{Time: time.Date(2026, 11, 25, 10, 0, 0, 0, jst), IP: netip.MustParseAddr("203.0.113.7"), Method: "POST",
				Path: "/login", Query: "next=%2Fcart", Status: 302, Referer: "https://shop.example/login", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)"},
		},
		{
			name:   "escaped quote in the user agent, IPv6, user",
			format: "combined",
			line:   `2001:db8::1 - alice [25/Nov/2026:10:00:00 +0000] "GET / HTTP/2.0" 200 5120 "-" "evil \"agent\""`,
			want: Record{Time: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), IP: netip.MustParseAddr("2001:db8::1"), Method: "GET",
				Path: "/", Status: 200, Bytes: 5120, UserAgent: `evil \"agent\"`},
		},
		{
			name:   "garbage request",
			format: "combined",
			line:   `198.51.100.2 - - [25/Nov/2026:10:00:00 +0000] "\x16\x03\x01" 400 157 "-" "-"`,
			want:   Record{Time: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), IP: netip.MustParseAddr("198.51.100.2"), Status: 400, Bytes: 157},
		},
		{
			name:   "log_format with location and request time",
			format: `$remote_addr [$time_iso8601] "$request" $status "$sent_http_location" $request_time "$http_user_agent"`,
			line:   `192.0.2.9 [2026-11-25T10:00:00+09:00] "POST /login HTTP/1.1" 302 "/mypage" 0.012 "curl/8"`,
			want: Record{Time: time.Date(2026, 11, 25, 10, 0, 0, 0, jst), IP: netip.MustParseAddr("192.0.2.9"), Method: "POST",
				Path: "/login", Status: 302, Location: "/mypage", UserAgent: "curl/8"},
		},
		{
			name:   "msec and forwarded-for",
			format: `$msec "$http_x_forwarded_for" $request_method $request_uri $status`,
			line:   `1795568400.250 "198.51.100.7, 10.0.0.1" POST /login 200`,
			want: Record{Time: time.UnixMilli(1795568400250).UTC(), IP: netip.MustParseAddr("198.51.100.7"), Method: "POST",
				Path: "/login", Status: 200},
		},
		{
			name:   "Apache combined LogFormat",
			format: `%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-agent}i\"`,
			line:   `203.0.113.7 - - [25/Nov/2026:10:00:00 +0000] "GET /a.css HTTP/1.1" 304 - "-" "UA"`,
			want: Record{Time: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), IP: netip.MustParseAddr("203.0.113.7"), Method: "GET",
				Path: "/a.css", Status: 304, UserAgent: "UA"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Compile(tc.format)
			if err != nil {
				t.Fatal(err)
			}
			got, err := f.Parse(tc.line)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Time.Equal(tc.want.Time) {
				t.Errorf("time: got %v, want %v", got.Time, tc.want.Time)
			}
			got.Time, tc.want.Time = time.Time{}, time.Time{}
			if got != tc.want {
				t.Errorf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestParseMalformed(t *testing.T) {
	f, err := Compile("combined")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		``,
		`not a log line`,
		`203.0.113.7 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 12 "-"`,
		`203.0.113.999 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "UA"`,
		`203.0.113.7 - - [25/Nov/2026:25:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "UA"`,
		`203.0.113.7 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 2000 12 "-" "UA"`,
		`203.0.113.7 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 x "-" "UA"`,
		`203.0.113.7 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "UA" extra`,
		`- - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "UA"`,
	} {
		if _, err := f.Parse(line); !errors.Is(err, ErrMalformed) {
			t.Errorf("Parse(%q): got %v, want ErrMalformed", line, err)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	for _, format := range []string{
		`$remote_addr$time_local`,
		`$remote_addr [$time_local] $`,
		`[$time_local] "$request"`,
		`$remote_addr "$request"`,
		`%h %t %{Referer`,
	} {
		if _, err := Compile(format); err == nil {
			t.Errorf("Compile(%q): no error", format)
		}
	}
}

// TestParseCached checks that the time cache gives each line its own time.
func TestParseCached(t *testing.T) {
	f, err := Compile("combined")
	if err != nil {
		t.Fatal(err)
	}
	var c TimeCache
	for _, tc := range []struct {
		line string
		want time.Time
	}{
		{`192.0.2.1 - - [25/Nov/2026:10:00:00 +0900] "GET / HTTP/1.1" 200 1 "-" "-"`, time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)},
		{`192.0.2.1 - - [25/Nov/2026:10:00:00 +0900] "GET /a HTTP/1.1" 200 1 "-" "-"`, time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)},
		{`192.0.2.1 - - [25/Nov/2026:10:00:00 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`, time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)},
		{`192.0.2.1 - - [25/Nov/2026:10:00:01 +0000] "GET / HTTP/1.1" 200 1 "-" "-"`, time.Date(2026, 11, 25, 10, 0, 1, 0, time.UTC)},
	} {
		r, err := f.ParseCached(tc.line, &c)
		if err != nil {
			t.Fatal(err)
		}
		if !r.Time.Equal(tc.want) {
			t.Errorf("%s: got %v, want %v", tc.line, r.Time, tc.want)
		}
	}
}
