package client

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// stepUpGuard answers the step-up and factor endpoints like the guard and
// records what it was sent.
func stepUpGuard(t *testing.T, got *[]string) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	rec := func(r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		*got = append(*got, r.Method+" "+r.URL.EscapedPath()+" "+string(body))
	}
	answer := func(v string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			rec(r)
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, v)
		}
	}
	mux.HandleFunc("POST /v1/challenges", answer(`{"id":"ch_1","methods":["totp"],"expires_at":"2026-11-25T10:05:00Z"}`))
	mux.HandleFunc("POST /v1/challenges/ch_1/verify", answer(`{"status":"failed","decision":"deny","attempts_left":2}`))
	mux.HandleFunc("POST /v1/challenges/ch_used/verify", func(w http.ResponseWriter, r *http.Request) {
		rec(r)
		w.Header().Set("Content-Type", "application/problem+json")
		w.WriteHeader(http.StatusConflict)
		io.WriteString(w, `{"type":"about:blank#challenge-used","title":"Conflict","status":409,"detail":"challenge already answered"}`)
	})
	mux.HandleFunc("POST /v1/challenges/ch_1/webauthn/options", answer(`{"publicKey":{"challenge":"abc"}}`))
	mux.HandleFunc("GET /v1/challenges/ch_1", answer(`{"id":"ch_1","user_id":"u-1","purpose":"login","methods":["totp"],"state":"passed","attempts_left":2,"expires_at":"2026-11-25T10:05:00Z"}`))
	mux.HandleFunc("POST /v1/challenges/ch_1/send", answer(`{"sent":true,"to":"t***@example.jp","expires_at":"2026-11-25T10:10:00Z"}`))
	mux.HandleFunc("POST /v1/users/u-1/factors/email", answer(`{"factor_id":"f4","confirmed":false,"sent":true}`))
	mux.HandleFunc("POST /v1/users/u-1/factors/email/confirm", answer(`{"factor_id":"f4","confirmed":true}`))
	mux.HandleFunc("GET /v1/users/u%2F1/factors", answer(`{"factors":[{"id":"f1","type":"totp","name":"app","confirmed":true,"created_at":"2026-11-25T10:00:00Z","last_used_at":null}],"recovery_codes_left":3}`))
	mux.HandleFunc("POST /v1/users/u-1/factors/totp", answer(`{"factor_id":"f2","secret":"JBSWY3DPEHPK3PXP","otpauth_uri":"otpauth://totp/x","qr_png":"iVBORw=="}`))
	mux.HandleFunc("POST /v1/users/u-1/factors/totp/confirm", answer(`{"factor_id":"f2","confirmed":true}`))
	mux.HandleFunc("POST /v1/users/u-1/factors/webauthn/register/begin", answer(`{"publicKey":{"rp":{"id":"localhost"}}}`))
	mux.HandleFunc("POST /v1/users/u-1/factors/webauthn/register/finish", answer(`{"id":"f3","type":"webauthn","name":"key","confirmed":true,"created_at":"2026-11-25T10:00:00Z","last_used_at":null}`))
	mux.HandleFunc("POST /v1/users/u-1/recovery-codes", answer(`{"codes":["aaaa-bbbb-cccc-dddd"]}`))
	mux.HandleFunc("DELETE /v1/users/u-1/factors/f1", func(w http.ResponseWriter, r *http.Request) {
		rec(r)
		w.WriteHeader(http.StatusNoContent)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestStepUpEndpoints(t *testing.T) {
	var got []string
	srv := stepUpGuard(t, &got)
	c, _ := newTest(t, srv, FailOpen)
	ctx := context.Background()

	ch, err := c.CreateChallenge(ctx, ChallengeRequest{UserID: "u-1", Purpose: "profile.update", Context: &ChallengeContext{IP: "203.0.113.7"}})
	if err != nil || ch.ID != "ch_1" || len(ch.Methods) != 1 {
		t.Fatalf("CreateChallenge = %+v, %v", ch, err)
	}
	v, err := c.Verify(ctx, "ch_1", Answer{Method: MethodTOTP, Code: "123456"})
	if diff := cmp.Diff(Verification{Status: StepUpFailed, Decision: "deny", AttemptsLeft: 2}, v); err != nil || diff != "" {
		t.Errorf("Verify: %v (-want +got)\n%s", err, diff)
	}
	_, err = c.Verify(ctx, "ch_used", Answer{Method: MethodTOTP, Code: "123456"})
	if !IsChallengeClosed(err) {
		t.Errorf("Verify of a used challenge: %v, want a closed challenge", err)
	}
	if IsChallengeClosed(ErrUnavailable) {
		t.Error("an unavailable guard is not a closed challenge")
	}
	opts, err := c.WebAuthnOptions(ctx, "ch_1")
	if err != nil || string(opts) != `{"publicKey":{"challenge":"abc"}}` {
		t.Errorf("WebAuthnOptions = %s, %v", opts, err)
	}
	st, err := c.Challenge(ctx, "ch_1")
	if err != nil || st.State != "passed" || st.UserID != "u-1" || st.AttemptsLeft != 2 {
		t.Errorf("Challenge = %+v, %v", st, err)
	}
	sent, err := c.SendCode(ctx, "ch_1", MethodEmailOTP)
	if err != nil || sent.To != "t***@example.jp" || sent.ExpiresAt.IsZero() {
		t.Errorf("SendCode = %+v, %v", sent, err)
	}
	fs, err := c.Factors(ctx, "u/1")
	if err != nil || len(fs.Factors) != 1 || fs.Factors[0].Type != "totp" || fs.RecoveryCodesLeft != 3 {
		t.Errorf("Factors = %+v, %v", fs, err)
	}
	e, err := c.EnrolTOTP(ctx, "u-1", "app", "taro@example.jp")
	if err != nil || e.FactorID != "f2" || string(e.QRPNG) != "\x89PNG" || e.Secret != "JBSWY3DPEHPK3PXP" {
		t.Errorf("EnrolTOTP = %+v %q, %v", e, e.QRPNG, err)
	}
	if s := e.String(); s != "TOTPEnrolment{f2}" {
		t.Errorf("String() = %q: must not show the secret", s)
	}
	if err := c.ConfirmTOTP(ctx, "u-1", "f2", "654321"); err != nil {
		t.Errorf("ConfirmTOTP: %v", err)
	}
	if _, err := c.BeginPasskey(ctx, "u-1", PasskeyRequest{Name: "key"}); err != nil {
		t.Errorf("BeginPasskey: %v", err)
	}
	f, err := c.FinishPasskey(ctx, "u-1", json.RawMessage(`{"id":"x"}`))
	if err != nil || f.ID != "f3" {
		t.Errorf("FinishPasskey = %+v, %v", f, err)
	}
	em, err := c.EnrolEmail(ctx, "u-1", "taro@example.jp", false)
	if err != nil || em != (EmailEnrolment{FactorID: "f4", Sent: true}) {
		t.Errorf("EnrolEmail = %+v, %v", em, err)
	}
	if err := c.ConfirmEmail(ctx, "u-1", "f4", "123456"); err != nil {
		t.Errorf("ConfirmEmail: %v", err)
	}
	codes, err := c.RecoveryCodes(ctx, "u-1")
	if err != nil || len(codes) != 1 {
		t.Errorf("RecoveryCodes = %v, %v", codes, err)
	}
	if err := c.DeleteFactor(ctx, "u-1", "f1"); err != nil {
		t.Errorf("DeleteFactor: %v", err)
	}
	want := []string{
		`POST /v1/challenges {"user_id":"u-1","purpose":"profile.update","context":{"ip":"203.0.113.7"}}`,
		`POST /v1/challenges/ch_1/verify {"method":"totp","code":"123456"}`,
		`POST /v1/challenges/ch_used/verify {"method":"totp","code":"123456"}`,
		`POST /v1/challenges/ch_1/webauthn/options `,
		`GET /v1/challenges/ch_1 `,
		`POST /v1/challenges/ch_1/send {"method":"email_otp"}`,
		`GET /v1/users/u%2F1/factors `,
		`POST /v1/users/u-1/factors/totp {"account_name":"taro@example.jp","name":"app"}`,
		`POST /v1/users/u-1/factors/totp/confirm {"code":"654321","factor_id":"f2"}`,
		`POST /v1/users/u-1/factors/webauthn/register/begin {"name":"key"}`,
		`POST /v1/users/u-1/factors/webauthn/register/finish {"attestation":{"id":"x"}}`,
		`POST /v1/users/u-1/factors/email {"address":"taro@example.jp","verified":false}`,
		`POST /v1/users/u-1/factors/email/confirm {"code":"123456","factor_id":"f4"}`,
		`POST /v1/users/u-1/recovery-codes `,
		`DELETE /v1/users/u-1/factors/f1 `,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("requests (-want +got)\n%s", diff)
	}
}
