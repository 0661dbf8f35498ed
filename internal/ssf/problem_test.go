package ssf

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// TestProblemResponses: the service's errors are RFC 9457 problem JSON
// in the API's shape, with Retry-After on the verification limit.
func TestProblemResponses(t *testing.T) {
	p := newPair(t, nil)
	a := p.a.srv.URL
	st := p.pushStream(t)
	if code := call(t, "POST", a+PathVerify, "b", map[string]any{"stream_id": st.ID}, nil); code != http.StatusNoContent {
		t.Fatalf("first verification: %d", code)
	}
	tests := []struct {
		name, method, path, contentType, body string
		status                                int
		retryAfter                            string
		want                                  string
	}{
		{"not JSON", "POST", PathStream, "text/plain", "x", 415, "",
			`{"type":"about:blank#unsupported-media-type","title":"Unsupported Media Type","status":415,"detail":"Content-Type must be application/json"}`},
		{"unknown stream", "GET", PathStream + "?stream_id=nope", "", "", 404, "",
			`{"type":"about:blank#not-found","title":"Not Found","status":404,"detail":"no stream \"nope\" for this key"}`},
		{"verification too soon", "POST", PathVerify, "application/json", `{"stream_id":"` + st.ID + `"}`, 429, "15",
			`{"type":"about:blank#rate-limited","title":"Too Many Requests","status":429,"detail":"one verification per 15 seconds"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, a+tt.path, bytes.NewReader([]byte(tt.body)))
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			req.Header.Set("Authorization", "Bearer key-b")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tt.status)
			}
			if got, want := resp.Header.Get("Content-Type"), "application/problem+json"; got != want {
				t.Errorf("Content-Type = %q, want %q", got, want)
			}
			if got := resp.Header.Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			if got, want := string(body), tt.want+"\n"; got != want {
				t.Errorf("body = %s, want %s", got, want)
			}
		})
	}
}
