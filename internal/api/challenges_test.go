package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/atoguard/atoguard/internal/api"
	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/mailer"
	"github.com/atoguard/atoguard/internal/mailer/mailtest"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/stepup"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
)

const (
	shopSecret    = "agk_shop_challenges_secret"
	factorsSecret = "agk_shop_factors_secret"
)

// newDevicePolicy challenges every login from a device the account has
// not used.
const newDevicePolicy = `version: 1
rules:
  - id: new-device
    when: Event.Succeeded && !Account.DeviceKnown && Account.HasHistory
    decision: challenge
    risk: 60
    reasons: [account.new_device]
  - id: step-up-passed
    when: Event.Type == "mfa.succeeded"
    decision: allow
    risk: 0
    reasons: [mfa.passed]
`

type stepFixture struct {
	*fixture
	sink *mailtest.Sink
	clk  *clock.Clock
}

// newStepFixture is the API on a real engine (event clock), the step-up
// service, the memory store and an SMTP sink.
func newStepFixture(t *testing.T) *stepFixture {
	t.Helper()
	st := memory.New()
	ctx := context.Background()
	for _, k := range []struct {
		id, secret string
		scopes     []string
	}{
		{"key_events", eventsSecret, []string{store.ScopeEvents}},
		{"key_shop", shopSecret, []string{store.ScopeEvents, store.ScopeChallenges}},
		{"key_factors", factorsSecret, []string{store.ScopeFactors}},
	} {
		sum := sha256.Sum256([]byte(k.secret))
		if err := st.PutKey(ctx, store.APIKey{ID: k.id, Name: k.id, Hash: sum[:], Scopes: k.scopes, CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
	}
	pol, err := policy.Parse([]byte(newDevicePolicy))
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.New(clock.Event, nil)
	key := bytes.Repeat([]byte{7}, 32)
	waCfg := stepup.Config{WebAuthn: stepup.WebAuthnConfig{RPID: "shop.example.jp", Origins: []string{"https://shop.example.jp"}}}
	eng, err := engine.New(engine.Config{}, engine.Deps{Clock: clk, Policy: pol, Records: st, Writer: st, Key: key,
		Factors: stepup.NewEnrolled(waCfg, st, true)})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := stepup.ParseKeys(stepup.NewKeyEntry("k1"))
	if err != nil {
		t.Fatal(err)
	}
	svc, err := stepup.New(waCfg, eng.ChallengeSettings(), clk, st, eng, keys, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	sink := mailtest.Start(t, mailtest.Options{TLS: "starttls"})
	m, err := mailer.New(mailer.Config{Server: mailer.Server{Host: sink.Host, Port: sink.Port, CAFile: sink.CAFile, From: "shop@example.jp"}, Timeout: 5 * time.Second}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	svc.UseMailer(m)
	logBuf := &lockedBuffer{}
	srv, err := api.New(api.Config{BootstrapKey: bootstrapSecret}, api.Deps{Log: slog.New(slog.NewTextHandler(logBuf, nil)), Engine: eng, Records: st, StepUp: svc})
	if err != nil {
		t.Fatal(err)
	}
	var ready atomic.Bool
	ready.Store(true)
	return &stepFixture{fixture: &fixture{handler: validated(t, srv.Handler()), store: st, ready: &ready, log: logBuf}, sink: sink, clk: clk}
}

// call sends body to path with secret's key and decodes the answer.
func (f *stepFixture) call(t *testing.T, secret, method, path string, body any) (int, map[string]any) {
	t.Helper()
	s := ""
	if body != nil {
		s = mustJSON(body)
	}
	rec := f.do(t, request{method, path, bearer(secret), s})
	if rec.Code == http.StatusNoContent {
		return rec.Code, nil
	}
	var out map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s %s: decoding %s: %v", method, path, rec.Body, err)
	}
	return rec.Code, out
}

// login reports a correct password at t from device.
func (f *stepFixture) login(t *testing.T, at time.Time, user, ip, device string) resultJSON {
	t.Helper()
	rec := f.do(t, request{"POST", "/v1/events", bearer(shopSecret), eventJSON(func(m obj) {
		m["occurred_at"] = at.Format(time.RFC3339)
		m["user"] = obj{"id": user}
		m["context"].(obj)["ip"] = ip
		m["context"].(obj)["device_id"] = device
	})})
	if rec.Code != 200 {
		t.Fatalf("login: %d %s", rec.Code, rec.Body)
	}
	return decodeJSON[resultJSON](t, rec)
}

func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrol gives u-1 a confirmed TOTP factor, a verified email address and
// recovery codes, through the API, and returns the TOTP secret and codes.
func (f *stepFixture) enrol(t *testing.T, at time.Time) (string, []string) {
	t.Helper()
	code, out := f.call(t, factorsSecret, "POST", "/v1/users/u-1/factors/totp", obj{"name": "phone", "account_name": "taro@example.jp"})
	if code != 200 {
		t.Fatalf("enrol TOTP: %d %v", code, out)
	}
	secret := out["secret"].(string)
	png, _ := base64.StdEncoding.DecodeString(out["qr_png"].(string))
	if !strings.HasPrefix(out["otpauth_uri"].(string), "otpauth://totp/") || !bytes.HasPrefix(png, []byte("\x89PNG")) {
		t.Errorf("enrolment answer %v", out)
	}
	code, out = f.call(t, factorsSecret, "POST", "/v1/users/u-1/factors/totp/confirm", obj{"factor_id": out["factor_id"], "code": totpCode(t, secret, at)})
	if code != 200 || out["confirmed"] != true {
		t.Fatalf("confirm TOTP: %d %v", code, out)
	}
	if code, out = f.call(t, factorsSecret, "POST", "/v1/users/u-1/factors/email", obj{"address": "taro@example.jp", "verified": true}); code != 200 {
		t.Fatalf("enrol email: %d %v", code, out)
	}
	code, out = f.call(t, factorsSecret, "POST", "/v1/users/u-1/recovery-codes", nil)
	if code != 200 {
		t.Fatalf("recovery codes: %d %v", code, out)
	}
	var codes []string
	for _, c := range out["codes"].([]any) {
		codes = append(codes, c.(string))
	}
	return secret, codes
}

// TestAttackerWithOnlyThePasswordCannotPass plays a credential stuffer who
// has u-1's password: every way through the challenge fails, the
// challenge locks, and the attacker's device stays unfamiliar. Then the
// owner passes a challenge of their own.
func TestAttackerWithOnlyThePasswordCannotPass(t *testing.T) {
	f := newStepFixture(t)
	f.login(t, t0, "u-1", "203.0.113.7", "d-home")
	secret, recovery := f.enrol(t, t0)

	at := t0.Add(time.Hour)
	res := f.login(t, at, "u-1", "198.51.100.66", "d-attacker")
	if res.Decision != "challenge" || res.Challenge == nil {
		t.Fatalf("stolen-password login: %+v, want a challenge", res)
	}
	ch := res.Challenge.ID
	if got := fmt.Sprint(res.Challenge.Methods); got != "[totp email_otp recovery_code]" {
		t.Errorf("methods %s, want what u-1 enrolled", got)
	}
	f.attackerCannotAnswer(t, ch)
	f.attackerGuessesUntilLocked(t, ch, secret, recovery)
	// The attacker's device was never learned: the next try is challenged.
	if res := f.login(t, at.Add(time.Minute), "u-1", "198.51.100.66", "d-attacker"); res.Decision != "challenge" {
		t.Errorf("attacker's next login: %s, want challenge", res.Decision)
	}

	// The owner, on a new laptop, passes with the authenticator app.
	f.ownerPassesOnANewLaptop(t, at.Add(2*time.Minute), secret)
	// The audit log has both step-ups as mfa events naming the challenge.
	recs, _ := f.store.ListAudit(context.Background(), store.AuditQuery{Account: "u-1", Limit: 50})
	var mfa []string
	for _, r := range recs {
		if strings.HasPrefix(r.Type, "mfa.") {
			mfa = append(mfa, r.Type)
		}
	}
	if len(mfa) != 6 || mfa[0] != "mfa.succeeded" {
		t.Errorf("audited step-ups (newest first) %v, want mfa.succeeded then 5 mfa.failed", mfa)
	}
}

// attackerCannotAnswer checks the ways to challenge ch that need more
// than the password: an emailed code goes to the owner's mailbox, and
// there is no passkey.
func (f *stepFixture) attackerCannotAnswer(t *testing.T, ch string) {
	t.Helper()
	// The attacker cannot read the owner's mail: a code sent goes there.
	if code, out := f.call(t, shopSecret, "POST", "/v1/challenges/"+ch+"/send", obj{"method": "email_otp"}); code != 200 || out["to"] != "t***@example.jp" {
		t.Fatalf("send: %d %v", code, out)
	}
	if m := f.sink.Wait(t, 1); m.To[0] != "taro@example.jp" {
		t.Errorf("code mailed to %v", m.To)
	}
	// Passkeys: none enrolled.
	if code, out := f.call(t, shopSecret, "POST", "/v1/challenges/"+ch+"/webauthn/options", nil); code != 409 || out["type"] != "about:blank#method-unavailable" {
		t.Errorf("webauthn options: %d %v", code, out)
	}
}

// attackerGuessesUntilLocked answers challenge ch wrongly five times,
// each failing and the last locking it; then even the right answer (one of
// recovery) is refused.
func (f *stepFixture) attackerGuessesUntilLocked(t *testing.T, ch, secret string, recovery []string) {
	t.Helper()
	verify := "/v1/challenges/" + ch + "/verify"
	// Guesses: a TOTP code, an email code, a recovery code, a replayed
	// TOTP code (the one the owner used to confirm), one more guess.
	guesses := []obj{
		{"method": "totp", "code": "000000"},
		{"method": "email_otp", "code": "123456"},
		{"method": "recovery_code", "code": "abcd-efgh-jkmn-pqrs"},
		{"method": "totp", "code": totpCode(t, secret, t0)},
		{"method": "totp", "code": "999999"},
	}
	for i, g := range guesses {
		code, out := f.call(t, shopSecret, "POST", verify, g)
		wantStatus, left := "failed", float64(4-i)
		if i == 4 {
			wantStatus = "locked"
		}
		if code != 200 || out["status"] != wantStatus || out["decision"] != "deny" || out["attempts_left"] != left {
			t.Fatalf("guess %d (%s): %d %v, want %s with %v left", i+1, g["method"], code, out, wantStatus, left)
		}
	}
	// Locked: even the right answer is refused now.
	code, out := f.call(t, shopSecret, "POST", verify, obj{"method": "recovery_code", "code": recovery[0]})
	if code != 409 || out["type"] != "about:blank#challenge-locked" {
		t.Errorf("right answer on a locked challenge: %d %v, want 409 challenge-locked", code, out)
	}
}

// ownerPassesOnANewLaptop logs u-1 in from a new laptop at at and passes
// the challenge with the authenticator app: the laptop is then allowed,
// and the challenge cannot be answered twice.
func (f *stepFixture) ownerPassesOnANewLaptop(t *testing.T, at time.Time, secret string) {
	t.Helper()
	res := f.login(t, at, "u-1", "203.0.113.7", "d-laptop")
	code, out := f.call(t, shopSecret, "POST", "/v1/challenges/"+res.Challenge.ID+"/verify", obj{"method": "totp", "code": totpCode(t, secret, at)})
	if code != 200 || out["status"] != "passed" || out["decision"] != "allow" {
		t.Fatalf("owner's answer: %d %v", code, out)
	}
	if res := f.login(t, at.Add(time.Minute), "u-1", "203.0.113.7", "d-laptop"); res.Decision != "allow" {
		t.Errorf("owner's laptop after passing: %s, want allow", res.Decision)
	}
	// Used once.
	if code, out := f.call(t, shopSecret, "POST", "/v1/challenges/"+res.Challenge.ID+"/verify", obj{"method": "totp", "code": totpCode(t, secret, at)}); code != 409 || out["type"] != "about:blank#challenge-used" {
		t.Errorf("second answer: %d %v, want 409 challenge-used", code, out)
	}
}

func TestShopInitiatedChallenge(t *testing.T) {
	f := newStepFixture(t)
	f.login(t, t0, "u-1", "203.0.113.7", "d-home")
	_, recovery := f.enrol(t, t0)
	code, out := f.call(t, shopSecret, "POST", "/v1/challenges", obj{"user_id": "u-1", "session_id": "s-1", "purpose": "profile.update",
		"context": obj{"ip": "192.0.2.44", "device_id": "d-tablet", "user_agent": "Mozilla/5.0"}})
	if code != 200 {
		t.Fatalf("POST /v1/challenges: %d %v", code, out)
	}
	id := out["id"].(string)
	if !regexp.MustCompile(`^ch_`).MatchString(id) || out["expires_at"] == nil {
		t.Errorf("challenge %v", out)
	}
	if code, out := f.call(t, shopSecret, "GET", "/v1/challenges/"+id, nil); code != 200 || out["state"] != "pending" || out["attempts_left"] != 5.0 {
		t.Errorf("GET challenge: %d %v", code, out)
	}
	code, out = f.call(t, shopSecret, "POST", "/v1/challenges/"+id+"/verify", obj{"method": "recovery_code", "code": recovery[2]})
	if code != 200 || out["status"] != "passed" {
		t.Fatalf("verify: %d %v", code, out)
	}
	// Passing taught the context the shop gave.
	if res := f.login(t, t0.Add(time.Hour), "u-1", "192.0.2.44", "d-tablet"); res.Decision != "allow" {
		t.Errorf("login from the step-up's device: %s, want allow", res.Decision)
	}
	code, out = f.call(t, factorsSecret, "GET", "/v1/users/u-1/factors", nil)
	if code != 200 || out["recovery_codes_left"] != 9.0 || len(out["factors"].([]any)) != 2 {
		t.Errorf("factors: %d %v", code, out)
	}
	// Delete the TOTP factor.
	fid := out["factors"].([]any)[0].(map[string]any)["id"].(string)
	if code, _ := f.call(t, factorsSecret, "DELETE", "/v1/users/u-1/factors/"+fid, nil); code != 204 {
		t.Errorf("DELETE factor: %d", code)
	}
	if code, out := f.call(t, factorsSecret, "DELETE", "/v1/users/u-1/factors/"+fid, nil); code != 404 || out["type"] != "about:blank#not-found" {
		t.Errorf("DELETE again: %d %v", code, out)
	}
}

func TestStepUpErrors(t *testing.T) {
	f := newStepFixture(t)
	f.login(t, t0, "u-1", "203.0.113.7", "d-home")
	secret, _ := f.enrol(t, t0)
	res := f.login(t, t0.Add(time.Hour), "u-1", "198.51.100.4", "d-new")
	verify := "/v1/challenges/" + res.Challenge.ID + "/verify"
	jsonOnly := map[string]string{"Content-Type": "application/json"}

	tests := []struct {
		name   string
		req    request
		status int
		typ    string
		field  string
	}{
		{"unknown challenge", request{"POST", "/v1/challenges/ch_nope/verify", bearer(shopSecret), `{"method":"totp","code":"123456"}`}, 404, "not-found", ""},
		{"code too short", request{"POST", verify, bearer(shopSecret), `{"method":"totp","code":"12345"}`}, 400, "invalid-field", "code"},
		{"code not digits", request{"POST", verify, bearer(shopSecret), `{"method":"totp","code":"12a456"}`}, 400, "invalid-field", "code"},
		{"code is a number", request{"POST", verify, bearer(shopSecret), `{"method":"totp","code":123456}`}, 400, "invalid-field", "code"},
		{"no method", request{"POST", verify, bearer(shopSecret), `{"code":"123456"}`}, 400, "invalid-field", "method"},
		{"method not offered", request{"POST", verify, bearer(shopSecret), `{"method":"webauthn","assertion":{}}`}, 400, "invalid-field", "method"},
		{"sms", request{"POST", verify, bearer(shopSecret), `{"method":"sms","code":"123456"}`}, 400, "invalid-field", "method"},
		{"assertion with totp", request{"POST", verify, bearer(shopSecret), `{"method":"totp","code":"123456","assertion":{}}`}, 400, "invalid-field", "assertion"},
		{"unknown field", request{"POST", verify, bearer(shopSecret), `{"method":"totp","code":"123456","otp":"1"}`}, 400, "invalid-field", "otp"},
		{"not an object", request{"POST", verify, bearer(shopSecret), `["totp"]`}, 400, "invalid-json", ""},
		{"trailing data", request{"POST", verify, bearer(shopSecret), `{"method":"totp","code":"123456"} {}`}, 400, "invalid-json", ""},
		{"not JSON", request{"POST", verify, map[string]string{"Authorization": "Bearer " + shopSecret, "Content-Type": "text/plain"}, `x`}, 415, "unsupported-media-type", ""},
		{"no key", request{"POST", verify, jsonOnly, `{}`}, 401, "unauthorized", ""},
		{"events key", request{"POST", verify, bearer(eventsSecret), `{"method":"totp","code":"123456"}`}, 403, "forbidden", ""},
		{"challenges key on factors", request{"GET", "/v1/users/u-1/factors", bearer(shopSecret), ""}, 403, "forbidden", ""},
		{"challenge without user", request{"POST", "/v1/challenges", bearer(shopSecret), `{"purpose":"x"}`}, 400, "invalid-field", "user_id"},
		{"challenge bad ip", request{"POST", "/v1/challenges", bearer(shopSecret), `{"user_id":"u-1","context":{"ip":"nope"}}`}, 400, "invalid-field", "context.ip"},
		{"send sms", request{"POST", "/v1/challenges/" + res.Challenge.ID + "/send", bearer(shopSecret), `{"method":"sms"}`}, 400, "invalid-field", "method"},
		{"confirm unknown factor", request{"POST", "/v1/users/u-1/factors/totp/confirm", bearer(factorsSecret), `{"factor_id":"fa_x","code":"123456"}`}, 404, "not-found", ""},
		{"bad email", request{"POST", "/v1/users/u-1/factors/email", bearer(factorsSecret), `{"address":"Taro <t@example.jp>"}`}, 400, "invalid-field", "address"},
		{"finish without begin", request{"POST", "/v1/users/u-1/factors/webauthn/register/finish", bearer(factorsSecret), `{"attestation":{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","attestationObject":"oA"}}}`}, 400, "invalid-field", "attestation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(t, tt.req)
			var p problemJSON
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatalf("decoding %s: %v", rec.Body, err)
			}
			if rec.Code != tt.status || p.Type != "about:blank#"+tt.typ || p.Field != tt.field {
				t.Errorf("got %d %s field %q (%s), want %d %s field %q", rec.Code, p.Type, p.Field, p.Detail, tt.status, tt.typ, tt.field)
			}
			if rec.Header().Get("Content-Type") != "application/problem+json" {
				t.Errorf("Content-Type %q", rec.Header().Get("Content-Type"))
			}
		})
	}
	// None of those cost an attempt; the right code still passes.
	at := t0.Add(time.Hour)
	if code, out := f.call(t, shopSecret, "POST", verify, obj{"method": "totp", "code": totpCode(t, secret, at)}); code != 200 || out["status"] != "passed" || out["attempts_left"] != 5.0 {
		t.Errorf("right code after malformed ones: %d %v", code, out)
	}
}

func TestWebAuthnRegistrationOptions(t *testing.T) {
	f := newStepFixture(t)
	code, out := f.call(t, factorsSecret, "POST", "/v1/users/u-1/factors/webauthn/register/begin", obj{"name": "laptop", "user_name": "taro@example.jp"})
	if code != 200 {
		t.Fatalf("begin: %d %v", code, out)
	}
	pk, _ := out["publicKey"].(map[string]any)
	rp, _ := pk["rp"].(map[string]any)
	user, _ := pk["user"].(map[string]any)
	if rp["id"] != "shop.example.jp" || user["name"] != "taro@example.jp" || pk["challenge"] == "" || pk["attestation"] != "none" {
		t.Errorf("creation options %v", out)
	}
	if id, _ := user["id"].(string); strings.Contains(id, "u-1") || id == "" {
		t.Errorf("user handle %q should be opaque", id)
	}
}
