package cli_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/cli"
)

func TestProxyCheck(t *testing.T) {
	good := writeFile(t, "proxy.yaml", "routes:\n  login: {preset: form-login, success: {status: [303], cookie: SID}}\n  checkout: {path: /buy, fields: {amount: total}, success: {status: [303]}, fail: closed}\n")
	code, out, errOut := run(t, "proxy", "check", good)
	if code != 0 || !strings.Contains(out, "ok, 2 routes") || !strings.Contains(out, "checkout         POST /buy (fail closed)") {
		t.Errorf("good file: %d %q %q", code, out, errOut)
	}
	bad := writeFile(t, "bad.yaml", "hops: 99\nroutes:\n  login: {preset: json-login, fail: sideways}\n  checkout: {path: buy}\n")
	code, _, errOut = run(t, "proxy", "check", bad)
	for _, want := range []string{"hops: 99", `routes.login: fail: "sideways"`, `routes.checkout: path "buy"`, "session_cookie: needed"} {
		if code == 0 || !strings.Contains(errOut, want) {
			t.Errorf("bad file: %d, error lacks %q:\n%s", code, want, errOut)
		}
	}
}

// TestProxyCommand runs `atoguard proxy` with its guard in-process in
// front of a shop, and stops it.
func TestProxyCommand(t *testing.T) {
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<p>login failed</p>")
	}))
	defer shop.Close()
	addr := freeAddr(t)
	cfg := writeFile(t, "proxy.yaml", "guard: {data: "+t.TempDir()+"}\nroutes: {login: {preset: form-login}}\n")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out, errb lockedBuffer
	go func() {
		done <- cli.Main(ctx, []string{"proxy", "--config", cfg, "--upstream", shop.URL, "--listen", addr}, &out, &errb, noEnv)
	}()
	var resp *http.Response
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var err error
		resp, err = http.PostForm("http://"+addr+"/login", url.Values{"email": {"a@b.jp"}, "password": {"x"}})
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if resp == nil {
		cancel()
		t.Fatalf("the proxy never answered:\n%s", errb.String())
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), "login failed") {
		t.Errorf("login through the proxy: %d %q", resp.StatusCode, body)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Errorf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "atoguard proxy on http://"+addr+" in front of "+shop.URL) {
		t.Errorf("banner %q", out.String())
	}
}

// TestProxyRemoteGuardFlags: --guard and --api-key put the proxy in front
// of a guard elsewhere; one that does not answer leaves the login route
// open (its default fail mode), and --guard without a key is refused.
func TestProxyRemoteGuardFlags(t *testing.T) {
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<p>login failed</p>")
	}))
	defer shop.Close()
	cfg := writeFile(t, "proxy.yaml", "routes: {login: {preset: form-login}}\n")
	var noKey strings.Builder
	if code := cli.Main(context.Background(), []string{"proxy", "--config", cfg, "--upstream", shop.URL, "--listen", freeAddr(t), "--guard", "http://127.0.0.1:1"},
		io.Discard, &noKey, noEnv); code == 0 || !strings.Contains(noKey.String(), "--api-key") {
		t.Errorf("--guard without a key: code %d, stderr %q; want a refusal naming --api-key", code, noKey.String())
	}
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var out, errb lockedBuffer
	go func() {
		done <- cli.Main(ctx, []string{"proxy", "--config", cfg, "--upstream", shop.URL, "--listen", addr,
			"--guard", "http://127.0.0.1:1", "--api-key", "agk_remote"}, &out, &errb, noEnv)
	}()
	var resp *http.Response
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var err error
		if resp, err = http.PostForm("http://"+addr+"/login", url.Values{"email": {"a@b.jp"}, "password": {"x"}}); err == nil {
			break
		}
	}
	cancel()
	if resp == nil {
		t.Fatalf("the proxy never answered:\n%s", errb.String())
	}
	resp.Body.Close()
	if code := <-done; code != 0 || resp.StatusCode != 200 {
		t.Errorf("login with the guard down: %d, exit %d: %s", resp.StatusCode, code, errb.String())
	}
	if !strings.Contains(out.String(), "(guard http://127.0.0.1:1)") || !strings.Contains(errb.String(), "guard gave no decision") {
		t.Errorf("banner %q, log %q", out.String(), errb.String())
	}
}
