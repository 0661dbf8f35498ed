package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/atoguard/atoguard/client"
)

// fakeGuard stands in for `atoguard serve` so the examples run: every
// login.succeeded is stepped up, everything else allowed.
func fakeGuard() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		if bytes.Contains(body, []byte(`"login.succeeded"`)) {
			io.WriteString(w, `{"event_id":"ev_1","decision":"challenge","risk":85,
				"reasons":[{"code":"account.new_device","detail":"the device was never seen in a good session"}],
				"challenge":{"id":"ch_1","methods":["webauthn","totp"],"expires_at":"2026-11-25T10:05:00Z"}}`)
			return
		}
		io.WriteString(w, `{"event_id":"ev_2","decision":"allow","risk":0,"reasons":[]}`)
	}))
}

// Report a successful password check and act on the decision.
func ExampleClient_Assess() {
	guard := fakeGuard()
	defer guard.Close()

	c, err := client.New(client.Config{BaseURL: guard.URL, APIKey: "dev-secret", FailMode: client.FailClosed})
	if err != nil {
		panic(err)
	}
	res, err := c.Assess(context.Background(), client.Event{
		Type:       client.LoginSucceeded,
		OccurredAt: time.Now(),
		Login:      "Taro.Yamada@Example.jp",
		User:       &client.User{ID: "u-1042"},
		SessionID:  "s-77aa",
		Context:    client.Context{IP: "203.0.113.7", UserAgent: "Mozilla/5.0", DeviceID: "d-5f0c9e"},
		Credential: &client.Credential{PasswordSHA1: client.PasswordSHA1("correct horse")},
	})
	if err != nil {
		fmt.Println("no decision from the guard, the fail mode applies:", err)
	}
	switch res.Decision {
	case client.Allow:
		fmt.Println("start the session")
	case client.Challenge:
		fmt.Println("step up with one of", res.Challenge.Methods, "because", res.Reasons[0].Code)
	case client.Deny, client.Review:
		fmt.Println("refuse")
	}
	// Output: step up with one of [webauthn totp] because account.new_device
}

// When the guard cannot be reached, Assess answers with the fail mode's
// decision, marked Fallback, and the error.
func ExampleFailMode() {
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()

	for _, mode := range []client.FailMode{client.FailOpen, client.FailClosed} {
		c, _ := client.New(client.Config{BaseURL: down.URL, APIKey: "k", FailMode: mode, Retries: -1, Timeout: time.Second})
		res, err := c.Assess(context.Background(), client.Event{Type: client.LoginSucceeded, OccurredAt: time.Now(),
			Login: "taro", User: &client.User{ID: "u-1"}, Context: client.Context{IP: "203.0.113.7"}})
		fmt.Println(mode, res.Decision, res.Fallback, errors.Is(err, client.ErrUnavailable))
	}
	// Output:
	// open allow true true
	// closed challenge true true
}

// Wrap a login handler: the middleware reports the attempt, the handler
// reports the outcome and acts on the decision.
func ExampleClient_GuardLogin() {
	guard := fakeGuard()
	defer guard.Close()
	c, _ := client.New(client.Config{BaseURL: guard.URL, APIKey: "dev-secret"})

	login := func(w http.ResponseWriter, r *http.Request) {
		if r.PostFormValue("password") != "correct horse" { // the shop's own check
			client.ReportLoginFailure(r, client.ReasonBadPassword, "u-1042")
			http.Error(w, "wrong login or password", http.StatusUnauthorized)
			return
		}
		res, _ := client.ReportLoginSuccess(r, "u-1042", "s-77aa")
		switch res.Decision {
		case client.Allow:
			fmt.Fprintln(w, "signed in") // set the session cookie here
		case client.Challenge:
			http.Redirect(w, r, "/step-up?challenge="+res.Challenge.ID, http.StatusSeeOther)
		default:
			http.Error(w, "wrong login or password", http.StatusUnauthorized)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("POST /login", c.GuardLogin(http.HandlerFunc(login), client.LoginOptions{
		DeviceID: func(r *http.Request) string {
			if ck, err := r.Cookie("device"); err == nil {
				return ck.Value
			}
			return ""
		},
	}))

	form := url.Values{"login": {"Taro.Yamada@Example.jp"}, "password": {"correct horse"}}
	req := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	fmt.Println(rec.Code, rec.Header().Get("Location"))
	// Output: 303 /step-up?challenge=ch_1
}

// Receive the guard's webhook notifications: verify the signature over
// the raw body before trusting a byte of it.
func ExampleVerifyWebhookRequest() {
	secret := []byte("whsec_from_your_config")
	hook := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := client.VerifyWebhookRequest(r, secret, time.Now(), 0, 1<<20)
		if err != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		_ = body // decode the notification; act once per notification id
		w.WriteHeader(http.StatusNoContent)
	})

	body := []byte(`{"id":"ntf_1","kind":"owner.new_device_login"}`)
	for _, signedAt := range []time.Time{time.Now(), time.Now().Add(-time.Hour)} {
		req := httptest.NewRequest("POST", "/hooks/atoguard", bytes.NewReader(body))
		req.Header.Set(client.SignatureHeader, client.SignWebhook(secret, signedAt, body))
		rec := httptest.NewRecorder()
		hook.ServeHTTP(rec, req)
		fmt.Println(rec.Code)
	}
	// Output:
	// 204
	// 401
}
