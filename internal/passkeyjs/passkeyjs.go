// Package passkeyjs is the browser half of a passkey ceremony, shared by
// the reference shop's pages and atoguard proxy's: one static script that
// takes its addresses from the page (see the comment at the top of
// passkey.js), so both pages keep a CSP with no inline script, and the
// JSON answers the script expects from either site (answer.go).
package passkeyjs

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"net/http"
	"sync"
	"time"
)

//go:embed passkey.js
var script []byte

// version is the script's content hash, computed once.
var version = sync.OnceValue(func() string {
	sum := sha256.Sum256(script)
	return hex.EncodeToString(sum[:6])
})

// Version is the script's content hash (12 hex digits). Pages reference
// the script as passkey.js?v=Version: a browser keeps that address for a
// year, and a release with another script has another address.
func Version() string { return version() }

// Handler serves the script, with its hash as ETag. Asked with the
// current version (?v=Version) it may be cached for a year; any other
// address (none, or an old page's version) is revalidated on every use,
// answered 304 Not Modified while it has not changed.
func Handler() http.Handler {
	v := Version()
	etag := `"` + v + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("ETag", etag)
		if r.URL.Query().Get("v") == v {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			h.Set("Cache-Control", "no-cache")
		}
		http.ServeContent(w, r, "passkey.js", time.Time{}, bytes.NewReader(script))
	})
}
