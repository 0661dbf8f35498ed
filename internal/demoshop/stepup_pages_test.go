package demoshop

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/atoguard/atoguard/client"
)

// recordingStepUp passes the answer want, closes the challenge on
// "closed", and records what it was asked.
type recordingStepUp struct {
	want string
	mu   sync.Mutex
	got  []string // challenge id, method, answer
}

func (f *recordingStepUp) Verify(_ context.Context, id, method, code string) (bool, error) {
	f.mu.Lock()
	f.got = append(f.got, id+" "+method+" "+code)
	f.mu.Unlock()
	if code == "closed" {
		return false, ErrChallengeClosed
	}
	return code == f.want, nil
}

func (*recordingStepUp) RecordsOutcome() bool { return true }

func (f *recordingStepUp) last() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.got) == 0 {
		return ""
	}
	return f.got[len(f.got)-1]
}

func challengeOn(typ, id string, methods ...string) func(client.Event) client.Result {
	return func(ev client.Event) client.Result {
		if ev.Type == typ {
			return client.Result{Decision: client.Challenge, Challenge: &client.ChallengeOffer{ID: id, Methods: methods}}
		}
		return client.Result{Decision: client.Allow}
	}
}

func TestCheckoutStepUp(t *testing.T) {
	su := &recordingStepUp{want: "123456"}
	ts := newTestShop(t, Options{StepUp: su})
	b := ts.browser(t)
	b.login("taro@example.jp", "correct horse")
	ts.guard.decide = challengeOn(client.OrderAttempt, "ch_order", "totp", "recovery_code")
	b.post("/", "/cart/add", url.Values{"sku": {"iphone-x-256-silver"}, "quantity": {"1"}})
	p := b.post("/checkout", "/checkout", url.Values{"delivery": {"home"}, "payment": {"credit_card"}})
	if p.status != http.StatusSeeOther || !strings.HasPrefix(p.location, "/stepup/order?id=o-") {
		t.Fatalf("challenged checkout: %d %q", p.status, p.location)
	}
	step := p.location
	p = b.get(step)
	if p.dataStatus() != pageStepUp || !strings.Contains(p.body, "This order needs a second factor") ||
		!strings.Contains(p.body, `data-method="totp"`) || !strings.Contains(p.body, `data-method="recovery_code"`) {
		t.Fatalf("order step-up page:\n%s", p.body)
	}
	orderID := strings.TrimPrefix(step, "/stepup/order?id=")
	if os, _ := ts.shop.store.Orders(context.Background(), "u-1"); len(os) != 1 || os[0].Status != StatusNeedsStep {
		t.Fatalf("orders while waiting: %+v", os)
	}
	// Another browser of the same account cannot answer it.
	other := ts.browser(t)
	other.login("taro@example.jp", "correct horse")
	if p := other.get(step); p.status != http.StatusSeeOther {
		t.Errorf("another session sees the order's step-up: %d", p.status)
	}
	p = b.post(step, "/stepup/order/verify", url.Values{"order_id": {orderID}, "method": {"totp"}, "code": {"000000"}})
	if p.dataStatus() != pageStepUp || !strings.Contains(p.body, "did not match") {
		t.Fatalf("wrong code: %q", p.dataStatus())
	}
	p = b.post(step, "/stepup/order/verify", url.Values{"order_id": {orderID}, "method": {"totp"}, "code": {"123456"}})
	if p.dataStatus() != "order-accepted" || su.last() != "ch_order totp 123456" {
		t.Fatalf("right code: %q, verifier heard %q", p.dataStatus(), su.last())
	}
	if os, _ := ts.shop.store.Orders(context.Background(), "u-1"); len(os) != 1 || os[0].Status != StatusAccepted {
		t.Errorf("orders after the step-up: %+v", os)
	}
	if p := b.get("/cart"); strings.Contains(p.body, "iphone-x-256-silver") {
		t.Error("the cart was not emptied")
	}
	// The guard heard no mfa event from the shop: the verifier records it.
	for _, ev := range ts.guard.all() {
		if ev.Type == client.MFASucceeded || ev.Type == client.MFAFailed {
			t.Errorf("the shop reported %s although its StepUp records outcomes", ev.Type)
		}
	}
	if p := b.get(step); p.status != http.StatusSeeOther {
		t.Error("the step-up of a placed order is still open")
	}
}

func TestLoginStepUpPasskeyAnswerAndClosedChallenge(t *testing.T) {
	su := &recordingStepUp{want: `{"id":"cred"}`}
	ts := newTestShop(t, Options{StepUp: su})
	ts.guard.decide = challengeOn(client.LoginSucceeded, "ch_login", "webauthn", "totp")
	b := ts.browser(t)
	b.login("taro@example.jp", "correct horse")
	p := b.get("/stepup")
	// A StepUp without passkey options offers no passkey button.
	if strings.Contains(p.body, "passkey-login") || !strings.Contains(p.body, `data-method="totp"`) {
		t.Errorf("step-up page without passkey support:\n%s", p.body)
	}
	p = b.post("/stepup", "/stepup/verify", url.Values{"method": {"webauthn"}, "assertion": {`{"id":"cred"}`}, "code": {"ignored"}})
	if p.status != http.StatusSeeOther || p.location != "/account" || su.last() != `ch_login webauthn {"id":"cred"}` {
		t.Fatalf("passkey answer: %d %q, verifier heard %q", p.status, p.location, su.last())
	}

	b2 := ts.browser(t)
	b2.login("taro@example.jp", "correct horse")
	p = b2.post("/stepup", "/stepup/verify", url.Values{"method": {"totp"}, "code": {"closed"}})
	if p.dataStatus() != pageStepUpCancelled {
		t.Fatalf("closed challenge: %q", p.dataStatus())
	}
	if p := b2.get("/stepup"); p.status != http.StatusSeeOther {
		t.Error("the login is still pending after its challenge closed")
	}
}

func TestGuardStepUpVerify(t *testing.T) {
	answers := map[string]struct {
		status int
		body   string
	}{
		"passed":  {200, `{"status":"passed","decision":"allow","attempts_left":2}`},
		"failed":  {200, `{"status":"failed","decision":"deny","attempts_left":1}`},
		"locked":  {200, `{"status":"locked","decision":"deny","attempts_left":0}`},
		"expired": {200, `{"status":"expired","decision":"deny","attempts_left":0}`},
		"used":    {409, `{"type":"about:blank#challenge-used","status":409}`},
		"bad":     {400, `{"type":"about:blank#invalid-field","status":400,"field":"code"}`},
		"down":    {500, `{"type":"about:blank#internal","status":500}`},
	}
	var lastBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		lastBody = string(b)
		id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1/challenges/"), "/verify")
		a := answers[id]
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(a.status)
		io.WriteString(w, a.body)
	}))
	defer srv.Close()
	c, err := client.New(client.Config{BaseURL: srv.URL, APIKey: "k", Retries: -1})
	if err != nil {
		t.Fatal(err)
	}
	g := GuardStepUp{Client: c}
	for _, tc := range []struct {
		id      string
		passed  bool
		wantErr error
		anyErr  bool
	}{
		{"passed", true, nil, false},
		{"failed", false, nil, false},
		{"locked", false, ErrChallengeClosed, false},
		{"expired", false, ErrChallengeClosed, false},
		{"used", false, ErrChallengeClosed, false},
		{"bad", false, nil, false},
		{"down", false, nil, true},
	} {
		passed, err := g.Verify(context.Background(), tc.id, "totp", "123456")
		if passed != tc.passed || (tc.wantErr != nil && err != tc.wantErr) || (tc.wantErr == nil && !tc.anyErr && err != nil) || (tc.anyErr && err == nil) {
			t.Errorf("%s: Verify = %v, %v", tc.id, passed, err)
		}
	}
	if _, err := g.Verify(context.Background(), "passed", "webauthn", `{"id":"x"}`); err != nil || lastBody != `{"method":"webauthn","assertion":{"id":"x"}}` {
		t.Errorf("webauthn answer sent as %s (%v)", lastBody, err)
	}
	if passed, err := g.Verify(context.Background(), "passed", "webauthn", `not json`); passed || err != nil {
		t.Errorf("a malformed assertion: %v, %v", passed, err)
	}
}

// mailingStepUp is a recordingStepUp that can email codes.
type mailingStepUp struct {
	*recordingStepUp
	sent []string
}

func (m *mailingStepUp) SendCode(_ context.Context, id, method string) (client.CodeSent, error) {
	m.sent = append(m.sent, id+" "+method)
	return client.CodeSent{To: "t***@example.jp"}, nil
}

func TestLoginStepUpEmailCode(t *testing.T) {
	su := &mailingStepUp{recordingStepUp: &recordingStepUp{want: "424242"}}
	ts := newTestShop(t, Options{StepUp: su})
	ts.guard.decide = challengeOn(client.LoginSucceeded, "ch_mail", "email_otp")
	b := ts.browser(t)
	b.login("taro@example.jp", "correct horse")
	p := b.post("/stepup", "/stepup/send", url.Values{})
	if !strings.Contains(p.body, "A code was sent to t***@example.jp") || len(su.sent) != 1 || su.sent[0] != "ch_mail email_otp" {
		t.Fatalf("sending: sent %v\n%s", su.sent, p.body)
	}
	p = b.post("/stepup", "/stepup/verify", url.Values{"method": {"email_otp"}, "code": {"424242"}})
	if p.status != http.StatusSeeOther || p.location != "/account" {
		t.Fatalf("email code: %d %q", p.status, p.location)
	}
}
