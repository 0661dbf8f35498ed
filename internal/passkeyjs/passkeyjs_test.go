package passkeyjs

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHandlerCachesTheVersionedAddressAndRevalidatesTheRest(t *testing.T) {
	v := Version()
	for _, c := range []struct {
		name, target, ifNoneMatch string
		wantStatus                int
		wantCache                 string
		wantBody                  bool
	}{
		{"current version", "/static/passkey.js?v=" + v, "", http.StatusOK, "public, max-age=31536000, immutable", true},
		{"no version", "/static/passkey.js", "", http.StatusOK, "no-cache", true},
		{"an old page's version", "/static/passkey.js?v=000000000000", "", http.StatusOK, "no-cache", true},
		{"revalidated, unchanged", "/static/passkey.js", `"` + v + `"`, http.StatusNotModified, "no-cache", false},
		{"revalidated, changed", "/static/passkey.js", `"000000000000"`, http.StatusOK, "no-cache", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, c.target, nil)
			if c.ifNoneMatch != "" {
				r.Header.Set("If-None-Match", c.ifNoneMatch)
			}
			w := httptest.NewRecorder()
			Handler().ServeHTTP(w, r)
			got := map[string]any{
				"status": w.Code, "cache": w.Header().Get("Cache-Control"), "etag": w.Header().Get("ETag"),
				"body": w.Body.Len() == len(script),
			}
			want := map[string]any{"status": c.wantStatus, "cache": c.wantCache, "etag": `"` + v + `"`, "body": c.wantBody}
			if c.wantStatus == http.StatusOK {
				got["type"], want["type"] = w.Header().Get("Content-Type"), "text/javascript; charset=utf-8"
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}
