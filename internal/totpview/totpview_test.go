package totpview

import (
	"bytes"
	"html/template"
	"log/slog"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/client"
)

func TestNew(t *testing.T) {
	got := New(client.TOTPEnrolment{FactorID: "fa_1", Secret: "JBSWY3DP", OTPAuthURI: "otpauth://totp/x", QRPNG: []byte("\x89PNG")})
	want := &Enrolment{FactorID: "fa_1", Secret: "JBSWY3DP", QR: template.URL("data:image/png;base64,iVBORw==")}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("enrolment (-want +got):\n%s", d)
	}
}

func TestNewInAPage(t *testing.T) {
	page := template.Must(template.New("").Parse(`<img src="{{.QR}}">`))
	var b strings.Builder
	if err := page.Execute(&b, New(client.TOTPEnrolment{QRPNG: []byte{0xff, 0xfe}})); err != nil {
		t.Fatal(err)
	}
	if got, want := b.String(), `<img src="data:image/png;base64,//4=">`; got != want {
		t.Errorf("page: got %s, want %s", got, want)
	}
}

func TestLogValueHidesTheSecret(t *testing.T) {
	var b bytes.Buffer
	slog.New(slog.NewTextHandler(&b, nil)).Info("enrolled", "totp", New(client.TOTPEnrolment{FactorID: "fa_1", Secret: "JBSWY3DP", QRPNG: []byte("png")}))
	if got := b.String(); !strings.Contains(got, "totp.factor_id=fa_1") || strings.Contains(got, "JBSWY3DP") || strings.Contains(got, "cG5n") {
		t.Errorf("log line %q: want the factor id and no secret", got)
	}
}
