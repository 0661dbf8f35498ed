package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/demoshop"
	"github.com/atoguard/atoguard/internal/proxy"
)

// demoProxyConfig is what `atoguard proxy` is told about the reference
// shop when `demo --proxy` runs it without its own guard calls: the login
// and registration forms, how a success and a failure look. Its checkout
// is not watched: the amount is in the shop's cart, not in the form.
func demoProxyConfig(trustedProxies string) string {
	var proxies []string
	for p := range strings.SplitSeq(trustedProxies, ",") {
		if p = strings.TrimSpace(p); p != "" {
			proxies = append(proxies, fmt.Sprintf("%q", p))
		}
	}
	return fmt.Sprintf(`
trusted_proxies: [%s]
session_cookie: %s
routes:
  login:
    preset: form-login
    fields: {login: login, password: password}
    success: {status: [303], cookie: %[2]s}
    failure: {status: 200, body: '%[3]s'}
  registration:
    path: /register
    fields: {login: email, password: password}
    success: {status: [303], redirect: /account}
    failure: {status: 200, body: '%[3]s'}
`, strings.Join(proxies, ", "), demoshop.SessionCookieName, demoRefused)
}

// demoRefused is the page the proxy answers a refused login with, in the
// shop's name: the status the shop's own failure page carries.
const demoRefused = `<!doctype html><meta charset="utf-8"><title>ログイン / Log in</title>` +
	`<p class="error status" data-status="login-failed">メールアドレスかパスワードが違います。<br>Wrong email or password.</p>` +
	`<p><a href="/login">ログイン / Log in</a></p>`

// demoShopListener returns where the shop listens: on public, or with
// behindProxy on a private loopback port of its own.
func demoShopListener(behindProxy bool, public net.Listener) (net.Listener, error) {
	if !behindProxy {
		return public, nil
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the shop behind the proxy: %w", err)
	}
	return ln, nil
}

// serveDemoProxy serves, on ln, the proxy in front of the shop at shopURL,
// asking guard; the proxy stops when ctx is done and the server stopped.
func serveDemoProxy(ctx context.Context, ln net.Listener, shopURL, trustedProxies string, guard *client.Client, log *slog.Logger) (*shopServer, error) {
	cfg, err := proxy.Parse([]byte(demoProxyConfig(trustedProxies)))
	if err != nil {
		return nil, fmt.Errorf("the demo's proxy configuration: %w", err)
	}
	up, err := url.Parse(shopURL)
	if err != nil {
		return nil, err
	}
	p, err := proxy.New(cfg, proxy.Options{Upstream: up, Guard: guard, Log: log})
	if err != nil {
		return nil, err
	}
	go p.Run(ctx)
	return serveShop(ln, p, log), nil
}
