// Package passkeyjs is the browser half of a passkey ceremony, shared by
// the reference shop's pages and atoguard proxy's: one static script that
// takes its addresses from the page (see the comment at the top of
// passkey.js), so both pages keep a CSP with no inline script, and the
// JSON answers the script expects from either site (answer.go).
package passkeyjs

import (
	_ "embed"
	"net/http"
)

//go:embed passkey.js
var script []byte

// Handler serves the script.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "text/javascript; charset=utf-8")
		h.Set("Cache-Control", "public, max-age=3600")
		h.Set("X-Content-Type-Options", "nosniff")
		_, _ = w.Write(script)
	})
}
