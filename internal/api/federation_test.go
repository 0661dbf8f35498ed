package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/atoguard/atoguard/internal/ssf"
)

// TestFederationContract runs the Shared Signals routes as the guard
// mounts them through the validated handler: each exchange matches
// docs/openapi.yaml.
func TestFederationContract(t *testing.T) {
	srv := httptest.NewServer(validated(t, fullServer(t).Handler()))
	defer srv.Close()
	do := func(method, path, auth, ctype string, body any, out any) int {
		t.Helper()
		var rd io.Reader
		switch b := body.(type) {
		case nil:
		case string:
			rd = bytes.NewBufferString(b)
		default:
			data, _ := json.Marshal(b)
			rd = bytes.NewReader(data)
		}
		req, _ := http.NewRequest(method, srv.URL+path, rd)
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if out != nil {
			_ = json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode
	}
	const js = "application/json"
	var st ssf.Stream
	steps := []struct {
		method, path, auth, ctype string
		body                      any
		want                      int
	}{
		{"GET", ssf.PathConfiguration, "", "", nil, 200},
		{"GET", ssf.PathJWKS, "", "", nil, 200},
		{"POST", ssf.PathStream, federationSecret, js, map[string]any{"delivery": map[string]any{"method": ssf.MethodPoll}}, 201},
		{"POST", ssf.PathStream, federationSecret, js, map[string]any{"delivery": map[string]any{"method": ssf.MethodPoll}}, 409},
		{"POST", ssf.PathStream, "", js, map[string]any{}, 401},
		{"POST", ssf.PathStream, federationSecret, "text/plain", "x", 415},
		{"GET", ssf.PathStream, federationSecret, "", nil, 200},
	}
	for _, s := range steps {
		var out any
		if s.want == 201 {
			out = &st
		}
		if code := do(s.method, s.path, s.auth, s.ctype, s.body, out); code != s.want {
			t.Errorf("%s %s: %d, want %d", s.method, s.path, code, s.want)
		}
	}
	id := st.ID
	for _, s := range []struct {
		method, path, auth, ctype string
		body                      any
		want                      int
	}{
		{"GET", ssf.PathStream + "?stream_id=" + id, federationSecret, "", nil, 200},
		{"PATCH", ssf.PathStream, federationSecret, js, map[string]any{"stream_id": id, "description": "shop B"}, 200},
		{"PUT", ssf.PathStream, federationSecret, js, map[string]any{"stream_id": id, "delivery": map[string]any{"method": ssf.MethodPoll}}, 200},
		{"PATCH", ssf.PathStream, federationSecret, js, map[string]any{"stream_id": id, "delivery": map[string]any{"method": "x"}}, 400},
		{"GET", ssf.PathStatus + "?stream_id=" + id, federationSecret, "", nil, 200},
		{"POST", ssf.PathStatus, federationSecret, js, map[string]any{"stream_id": id, "status": "paused"}, 200},
		{"POST", ssf.PathStatus, federationSecret, js, map[string]any{"stream_id": id, "status": "enabled"}, 200},
		{"POST", ssf.PathVerify, federationSecret, js, map[string]any{"stream_id": id, "state": "abc"}, 204},
		{"POST", ssf.PathVerify, federationSecret, js, map[string]any{"stream_id": id}, 429},
		{"POST", ssf.PathPoll + id, federationSecret, js, map[string]any{"returnImmediately": true, "maxEvents": 1}, 200},
		{"POST", ssf.PathPoll + "nope", federationSecret, js, map[string]any{"returnImmediately": true}, 404},
		{"POST", ssf.PathPush + "shop-b", "wrong", "application/secevent+jwt", "x.y.z", 401},
		{"DELETE", ssf.PathStream + "?stream_id=" + id, federationSecret, "", nil, 204},
		{"GET", ssf.PathStatus + "?stream_id=" + id, federationSecret, "", nil, 404},
	} {
		if code := do(s.method, s.path, s.auth, s.ctype, s.body, nil); code != s.want {
			t.Errorf("%s %s: %d, want %d", s.method, s.path, code, s.want)
		}
	}
}
