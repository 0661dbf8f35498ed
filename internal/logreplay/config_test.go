package logreplay

import (
	"strings"
	"testing"

	"github.com/atoguard/atoguard/internal/event"
)

func TestParseConfig(t *testing.T) {
	if _, err := Parse(strings.NewReader(ExampleConfig)); err != nil {
		t.Fatalf("the example: %v", err)
	}
	for _, tc := range []struct {
		name, yaml string
		want       []string // substrings of the error
	}{
		{"unknown key", "format: combined\nrequets: []\n", []string{"requets"}},
		{"no requests", "format: combined\n", []string{"requests: none given"}},
		{"bad format", "format: '$status'\nrequests: [{event: login, path: /login, success: {status: [302]}}]\n", []string{"no client address"}},
		{"every problem at once", `requests:
  - {event: logout, path: /login, success: {status: [302]}}
  - {event: checkout, path: /checkout, success: {status: [302]}, failure: {status: [200]}}
  - {event: login, path: "[", success: {}}
  - {event: login, path: /login, action: login, success: {status: [302]}}
`, []string{"requests[0].event", "requests[1].failure", "requests[2].path", "requests[2].success", "requests[3]: action"}},
		{"json needs its fields", "format: json\nrequests: [{event: login, path: /login, success: {values: [ok]}}]\n",
			[]string{"json.time", "json.ip", "json.event", "requests[0].action", "requests[0]: method, path"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tc.yaml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// testMapper returns the mapper of a configuration.
func testMapper(t testing.TB, yaml string) *mapper {
	t.Helper()
	cfg, err := Parse(strings.NewReader(yaml))
	if err != nil {
		t.Fatal(err)
	}
	m, err := newMapper(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestMapAccess(t *testing.T) {
	m := testMapper(t, `
format: '$remote_addr [$time_local] "$request" $status "$sent_http_location"'
requests:
  - event: login
    method: POST
    path: /login
    success: {status: [302], location: "/mypage*"}
    failure: {status: [200, 302]}
  - {event: checkout, method: POST, path: /checkout, success: {status: [302]}}
browse: {ignore: [/health]}
`)
	for _, tc := range []struct {
		line string
		kind kind
		typ  event.Type
	}{
		{`192.0.2.1 [25/Nov/2026:10:00:00 +0900] "POST /login HTTP/1.1" 302 "https://shop.example/mypage?welcome"`, kindEvent, event.LoginSucceeded},
		{`192.0.2.1 [25/Nov/2026:10:00:00 +0900] "POST /login HTTP/1.1" 302 "/login?error=1"`, kindEvent, event.LoginFailed},
		{`192.0.2.1 [25/Nov/2026:10:00:00 +0900] "POST /login HTTP/1.1" 200 "-"`, kindEvent, event.LoginFailed},
		{`192.0.2.1 [25/Nov/2026:10:00:00 +0900] "POST /login HTTP/1.1" 403 "-"`, kindSkip, ""},
		{`192.0.2.1 [25/Nov/2026:10:00:00 +0900] "GET /login HTTP/1.1" 200 "-"`, kindSkip, ""},
		{`192.0.2.1 [25/Nov/2026:10:00:00 +0900] "POST /checkout HTTP/1.1" 302 "/done"`, kindEvent, event.OrderAttempt},
		{`192.0.2.1 [25/Nov/2026:10:00:00 +0900] "GET /static/a.css HTTP/1.1" 200 "-"`, kindBrowse, ""},
		{`192.0.2.1 [25/Nov/2026:10:00:00 +0900] "GET /missing HTTP/1.1" 404 "-"`, kindSkip, ""},
		{`192.0.2.1 [25/Nov/2026:10:00:00 +0900] "GET /health HTTP/1.1" 200 "-"`, kindSkip, ""},
		{`192.0.2.1 [25/Nov/2026:10:00:00 +0900] "POST /login HTTP/1.1"`, kindMalformed, ""},
	} {
		var it item
		m.parse(tc.line, &it, nil)
		if typ := typeOf(&it); it.kind != tc.kind || typ != tc.typ {
			t.Errorf("%s: got kind %d, type %q, want %d, %q (%v)", tc.line, it.kind, typ, tc.kind, tc.typ, it.err)
		}
	}
}

func typeOf(it *item) event.Type {
	if it.ev == nil {
		return ""
	}
	return it.ev.Type
}
