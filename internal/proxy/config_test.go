package proxy

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestParsePresets(t *testing.T) {
	tests := []struct {
		name, yaml string
		check      func(c Config) bool
	}{
		{"form preset", "routes: {login: {preset: form-login}}", func(c Config) bool {
			r := c.Routes[Login]
			return r.Method == "POST" && r.Path == "/login" && r.Fields[FieldLogin] == "email" && slices.Equal(r.Success.Status, []int{302, 303}) &&
				r.Failure.Status == 200 && r.Fail == "open" && c.Listen == ":8443" && c.MaxBodyBytes == 64<<10 && c.Prefix == "/.atoguard/"
		}},
		{"json preset", "routes: {login: {preset: json-login, path: /v2/session, fields: {login: user.name}}}", func(c Config) bool {
			r := c.Routes[Login]
			return r.Path == "/v2/session" && r.Fields[FieldLogin] == "user.name" && r.Fields[FieldPassword] == "password" &&
				r.Failure.Status == 401 && r.Failure.ContentType == "application/json"
		}},
		{"session cookie from login", plainConfig, func(c Config) bool {
			return c.SessionCookie == "PLAINSID" && c.Routes[Checkout].Fail == "closed" && c.Logout.Path == "/logout"
		}},
		{"redirect failure", "routes: {login: {preset: form-login, failure: {redirect: '/login?e=1'}}}", func(c Config) bool {
			return c.Routes[Login].Failure.Status == 303
		}},
	}
	for _, tt := range tests {
		c, err := Parse([]byte(tt.yaml))
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !tt.check(c) {
			t.Errorf("%s: got %+v", tt.name, c)
		}
	}
}

// TestParseErrors: every problem of a file is reported at once.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown key", "routes: {login: {preset: form-login, colour: red}}", []string{"field colour not found"}},
		{"no routes", "listen: :1", []string{"routes: none"}},
		{"many at once", `
upstream: ftp://x
trusted_proxies: [10.0.0.0/33, nope]
hops: -1
routes:
  login: {method: GET, path: login, fields: {amount: x}, success: {status: [999]}}
  checkout: {path: /.atoguard/buy, fail: maybe}
  teleport: {path: /t}
`, []string{`upstream: "ftp://x"`, `"10.0.0.0/33"`, `"nope"`, "hops: -1", `routes.login: method "GET"`, `routes.login: path "login"`,
			"routes.login: fields.amount: not a part", "routes.login: fields.login: required", "routes.login: success.status: 999",
			"routes.checkout: path \"/.atoguard/buy\" is under", "routes.checkout: fields.amount: required", "routes.checkout: success: say how",
			`routes.checkout: fail: "maybe"`, "routes.teleport: unknown route", "session_cookie: needed"}},
		{"bad preset and duplicate", "session_cookie: S\nroutes: {login: {preset: form-login}, registration: {preset: sso, path: /login, fields: {login: e}, success: {status: [303]}}}",
			[]string{`routes.registration: preset "sso"`, "routes.registration: POST /login is also routes.login"}},
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.yaml))
		if err == nil {
			t.Errorf("%s: no error", tt.name)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error lacks %q:\n%v", tt.name, w, err)
			}
		}
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "proxy.yaml")
	if err := os.WriteFile(path, []byte(plainConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err != nil {
		t.Errorf("good file: %v", err)
	}
	if _, err := Load(path + ".missing"); err == nil {
		t.Error("missing file: no error")
	}
	if got := Default().Routes[Login].Path; got != "/login" {
		t.Errorf("default login path %q", got)
	}
}
