package cli

import (
	"fmt"
	"net"

	"github.com/atoguard/atoguard/internal/stepup"
)

// demoWebAuthn is the passkey relying party of the demo: the shop at
// http://localhost:PORT. Browsers refuse an IP address as an RP ID, and
// treat localhost as a secure context without TLS, so passkeys work at
// that name only (not at 127.0.0.1).
func demoWebAuthn(shop net.Addr) stepup.WebAuthnConfig {
	port := 0
	if ta, ok := shop.(*net.TCPAddr); ok {
		port = ta.Port
	}
	return stepup.WebAuthnConfig{RPID: "localhost", Origins: []string{fmt.Sprintf("http://localhost:%d", port)}}
}
