// Package totpview is a TOTP enrolment as a page shows it, once: the key
// to type into an authenticator app and its QR code as a data: URL,
// shared by the reference shop's security page and the proxy's.
package totpview

import (
	"encoding/base64"
	"html/template"
	"log/slog"

	"github.com/atoguard/atoguard/client"
)

// Enrolment is a TOTP factor waiting for its first code, as a page shows
// it. Secret and QR are secrets: show them once, keep neither.
type Enrolment struct {
	FactorID string
	Secret   string       // base32, as typed into an app
	QR       template.URL // data:image/png;base64,… of the guard's PNG
}

// New is en as a page shows it.
func New(en client.TOTPEnrolment) *Enrolment {
	return &Enrolment{FactorID: en.FactorID, Secret: en.Secret,
		QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(en.QRPNG))} //nolint:gosec // the guard's PNG, base64
}

// LogValue implements slog.LogValuer: the factor id only.
func (e *Enrolment) LogValue() slog.Value {
	return slog.GroupValue(slog.String("factor_id", e.FactorID))
}
