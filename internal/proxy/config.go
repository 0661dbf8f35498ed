// Package proxy puts the guard in front of a shop that changes no code: a
// reverse proxy that reads the shop's login and checkout requests, asks the
// guard, and applies its decisions at the edge.
package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Route kinds: which shop action a route is.
const (
	Login          = "login"
	Registration   = "registration"
	PasswordChange = "password_change"
	ProfileChange  = "profile_change"
	Checkout       = "checkout"
)

var kinds = []string{Login, Registration, PasswordChange, ProfileChange, Checkout}

// Presets are the shapes of common login routes a route may start from.
const (
	PresetFormLogin = "form-login"
	PresetJSONLogin = "json-login"
)

// Config is the configuration of `atoguard proxy`. The zero value of every
// field means its default (see Parse).
type Config struct {
	Upstream string `yaml:"upstream"` // the shop, http://host:port (the --upstream flag wins)
	Listen   string `yaml:"listen"`   // where the proxy serves (default :8443; the --listen flag wins)
	// TrustedProxies are the proxies in front of this one, as addresses or
	// CIDR prefixes: only from them is ForwardedHeader believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ForwardedHeader names the header that carries the client address
	// (default X-Forwarded-For).
	ForwardedHeader string `yaml:"forwarded_header"`
	// Hops is how many trusted proxies may stand in a row before this one
	// (default 1): at most that many addresses are read from the right.
	Hops int `yaml:"hops"`
	// MaxBodyBytes bounds the request body buffered on a configured route
	// (default 64 KiB); a longer one is answered 413 and not forwarded.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxResponseBytes bounds how much of a configured route's answer is
	// read to look for a body marker (default 1 MiB).
	MaxResponseBytes int64 `yaml:"max_response_bytes"`
	// DeviceCookie names the first-party cookie the proxy sets to know a
	// browser again (default atoguard_device).
	DeviceCookie string `yaml:"device_cookie"`
	// SessionCookie names the shop's session cookie: it tells which
	// account a checkout or profile change belongs to. Default: the login
	// route's success.cookie.
	SessionCookie string `yaml:"session_cookie"`
	// Prefix is the path under which the proxy serves its own pages (the
	// step-up, the hold page); default /.atoguard/. Never forwarded.
	Prefix string `yaml:"prefix"`
	// Logout is the shop's request that ends a session: sent upstream with
	// the held session cookies when a step-up fails or expires.
	Logout Request `yaml:"logout"`
	// Routes are the shop's actions the proxy watches; the rest pass through.
	Routes map[string]Route `yaml:"routes"`
	// Guard is where decisions come from; empty URL: a guard in-process.
	Guard GuardConfig `yaml:"guard"`
}

// GuardConfig says which guard the proxy asks.
type GuardConfig struct {
	URL       string        `yaml:"url"`         // a remote guard; empty: in-process
	APIKeyEnv string        `yaml:"api_key_env"` // environment variable with its key (default ATOGUARD_API_KEY)
	Data      string        `yaml:"data"`        // the in-process guard's data directory (default ./atoguard-proxy-data)
	Config    string        `yaml:"config"`      // the in-process guard's configuration file (atoguard serve's); empty: defaults
	Timeout   time.Duration `yaml:"timeout"`     // bounds one call to the guard (default 2s)
}

// Request is a request the proxy may send upstream on its own.
type Request struct {
	Method string `yaml:"method"`
	Path   string `yaml:"path"`
}

// Route is one shop action the proxy watches.
type Route struct {
	Preset string `yaml:"preset"` // form-login or json-login: defaults for the rest
	Method string `yaml:"method"`
	Path   string `yaml:"path"`
	// Fields names the form fields or JSON members (dotted paths) that
	// hold the parts of the action, by part: login, password, new_password,
	// email, amount, items, shipping_address, pickup_store, payment_method.
	Fields map[string]string `yaml:"fields"`
	// Success is how the shop's answer looks when the action succeeded;
	// an answer that does not match it failed.
	Success Match `yaml:"success"`
	// Failure is how the shop answers a failed action: the proxy answers a
	// denied one the same way without asking the shop.
	Failure Reply `yaml:"failure"`
	// Fail is what the proxy does when the guard cannot answer: open
	// (forward, unguarded; the default) or closed (refuse).
	Fail string `yaml:"fail"`
}

// Match describes an answer; every condition given must hold.
type Match struct {
	Status   []int  `yaml:"status"`   // one of these status codes
	Redirect string `yaml:"redirect"` // a Location whose path starts with this
	Cookie   string `yaml:"cookie"`   // sets this cookie to a value
	Body     string `yaml:"body"`     // the body holds this text
}

// Reply is an answer the proxy makes in the shop's name.
type Reply struct {
	Status      int    `yaml:"status"`       // default 303 with a redirect, else 200
	Redirect    string `yaml:"redirect"`     // Location
	Body        string `yaml:"body"`         // the body (a failure marker the shop's pages carry)
	ContentType string `yaml:"content_type"` // default text/html; charset=utf-8
}

// Parts a route's fields may name.
const (
	FieldLogin           = "login"
	FieldPassword        = "password"
	FieldNewPassword     = "new_password"
	FieldEmail           = "email"
	FieldAmount          = "amount"
	FieldItems           = "items"
	FieldShippingAddress = "shipping_address"
	FieldPickupStore     = "pickup_store"
	FieldPaymentMethod   = "payment_method"
)

var partsOf = map[string][]string{
	Login:          {FieldLogin, FieldPassword},
	Registration:   {FieldLogin, FieldPassword, FieldEmail},
	PasswordChange: {FieldPassword, FieldNewPassword},
	ProfileChange:  {FieldEmail, FieldShippingAddress, FieldPaymentMethod},
	Checkout:       {FieldAmount, FieldItems, FieldShippingAddress, FieldPickupStore, FieldPaymentMethod},
}

// required parts of each kind: without them the route is useless.
var requiredParts = map[string][]string{
	Login:          {FieldLogin, FieldPassword},
	Registration:   {FieldLogin},
	PasswordChange: {FieldNewPassword},
	Checkout:       {FieldAmount},
}

// preset returns the defaults of a preset, or false for an unknown name.
func preset(name string) (Route, bool) {
	switch name {
	case PresetFormLogin:
		return Route{Method: http.MethodPost, Path: "/login",
			Fields:  map[string]string{FieldLogin: "email", FieldPassword: "password"},
			Success: Match{Status: []int{302, 303}}, Failure: Reply{Status: 200, Body: "login failed"}}, true
	case PresetJSONLogin:
		return Route{Method: http.MethodPost, Path: "/api/login",
			Fields:  map[string]string{FieldLogin: "email", FieldPassword: "password"},
			Success: Match{Status: []int{200}}, Failure: Reply{Status: 401, Body: `{"error":"invalid_credentials"}`, ContentType: "application/json"}}, true
	}
	return Route{}, false
}

// Parse decodes a configuration strictly (unknown keys are errors), applies
// presets and defaults, and validates it, reporting every problem at once.
func Parse(data []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, err
	}
	c.fill()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Load reads and parses a configuration file.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading proxy config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("proxy config %s:\n%w", path, err)
	}
	return c, nil
}

// Default is the configuration of a shop with an HTML form login at
// POST /login and no other watched route.
func Default() Config {
	c := Config{Routes: map[string]Route{Login: {Preset: PresetFormLogin}}}
	c.fill()
	return c
}

// fill applies presets and defaults.
func (c *Config) fill() {
	if c.Listen == "" {
		c.Listen = ":8443"
	}
	if c.ForwardedHeader == "" {
		c.ForwardedHeader = "X-Forwarded-For"
	}
	if c.Hops == 0 {
		c.Hops = 1
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.MaxResponseBytes == 0 {
		c.MaxResponseBytes = 1 << 20
	}
	if c.DeviceCookie == "" {
		c.DeviceCookie = "atoguard_device"
	}
	if c.Prefix == "" {
		c.Prefix = "/.atoguard/"
	}
	if c.Guard.APIKeyEnv == "" {
		c.Guard.APIKeyEnv = "ATOGUARD_API_KEY"
	}
	if c.Guard.Data == "" {
		c.Guard.Data = "./atoguard-proxy-data"
	}
	if c.Guard.Timeout == 0 {
		c.Guard.Timeout = 2 * time.Second
	}
	for kind, r := range c.Routes {
		c.Routes[kind] = r.filled()
	}
	if c.SessionCookie == "" {
		c.SessionCookie = c.Routes[Login].Success.Cookie
	}
}

// filled is r over its preset's defaults.
func (r Route) filled() Route {
	base, ok := preset(r.Preset)
	if !ok {
		base = Route{Method: http.MethodPost}
	}
	if r.Method != "" {
		base.Method = strings.ToUpper(r.Method)
	}
	if r.Path != "" {
		base.Path = r.Path
	}
	if len(r.Fields) > 0 {
		if base.Fields == nil {
			base.Fields = map[string]string{}
		}
		for k, v := range r.Fields {
			base.Fields[k] = v
		}
	}
	if !r.Success.empty() {
		base.Success = r.Success
	}
	if r.Failure != (Reply{}) {
		base.Failure = r.Failure
	}
	if base.Failure.Status == 0 {
		base.Failure.Status = http.StatusOK
		if base.Failure.Redirect != "" {
			base.Failure.Status = http.StatusSeeOther
		}
	}
	if base.Failure.ContentType == "" {
		base.Failure.ContentType = "text/html; charset=utf-8"
	}
	base.Fail = r.Fail
	if base.Fail == "" {
		base.Fail = "open"
	}
	base.Preset = r.Preset
	return base
}

func (m Match) empty() bool {
	return len(m.Status) == 0 && m.Redirect == "" && m.Cookie == "" && m.Body == ""
}

// Validate reports every problem of a filled configuration at once.
func (c Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.Upstream != "" {
		if u, err := url.Parse(c.Upstream); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("upstream: %q is not http(s)://host[:port]", c.Upstream)
		}
	}
	if _, err := prefixes(c.TrustedProxies); err != nil {
		add("trusted_proxies: %w", err)
	}
	if !validToken(c.ForwardedHeader) {
		add("forwarded_header: %q is not a header name", c.ForwardedHeader)
	}
	if c.Hops < 1 || c.Hops > 10 {
		add("hops: %d is not within 1-10", c.Hops)
	}
	if c.MaxBodyBytes < 1 || c.MaxBodyBytes > 16<<20 {
		add("max_body_bytes: %d is not within 1 B-16 MiB", c.MaxBodyBytes)
	}
	if c.MaxResponseBytes < 1 || c.MaxResponseBytes > 64<<20 {
		add("max_response_bytes: %d is not within 1 B-64 MiB", c.MaxResponseBytes)
	}
	if !validToken(c.DeviceCookie) {
		add("device_cookie: %q is not a cookie name", c.DeviceCookie)
	}
	if c.SessionCookie != "" && !validToken(c.SessionCookie) {
		add("session_cookie: %q is not a cookie name", c.SessionCookie)
	}
	if !strings.HasPrefix(c.Prefix, "/") || !strings.HasSuffix(c.Prefix, "/") || len(c.Prefix) < 3 {
		add("prefix: %q must start and end with / and name a directory", c.Prefix)
	}
	if c.Logout != (Request{}) {
		if !validToken(c.Logout.Method) || !strings.HasPrefix(c.Logout.Path, "/") {
			add("logout: want a method and a path starting with /, got %q %q", c.Logout.Method, c.Logout.Path)
		}
	}
	if c.Guard.URL != "" {
		if u, err := url.Parse(c.Guard.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add("guard.url: %q is not http(s)://host[:port]", c.Guard.URL)
		}
	}
	if c.Guard.Timeout < 0 || c.Guard.Timeout > time.Minute {
		add("guard.timeout: %v is not within 0-1m", c.Guard.Timeout)
	}
	if len(c.Routes) == 0 {
		add("routes: none: name at least the login route")
	}
	seen := map[string]string{}
	for _, kind := range sortedKinds(c.Routes) {
		r := c.Routes[kind]
		errs = append(errs, r.problems(kind, c.Prefix)...)
		key := r.Method + " " + r.Path
		if other, dup := seen[key]; dup {
			add("routes.%s: %s is also routes.%s", kind, key, other)
		}
		seen[key] = kind
	}
	if c.SessionCookie == "" && hasAny(c.Routes, Checkout, ProfileChange, PasswordChange) {
		add("session_cookie: needed by the checkout, profile and password routes (or routes.login.success.cookie)")
	}
	return errors.Join(errs...)
}

func hasAny(routes map[string]Route, kinds ...string) bool {
	for _, k := range kinds {
		if _, ok := routes[k]; ok {
			return true
		}
	}
	return false
}

// sortedKinds lists the routes' kinds in a stable order, unknown ones last.
func sortedKinds(routes map[string]Route) []string {
	var out, unknown []string
	for _, k := range kinds {
		if _, ok := routes[k]; ok {
			out = append(out, k)
		}
	}
	for k := range routes {
		if !slices.Contains(kinds, k) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	return append(out, unknown...)
}

func (r Route) problems(kind, prefix string) []error {
	var errs []error
	add := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("routes.%s: "+format, append([]any{kind}, a...)...))
	}
	parts, known := partsOf[kind]
	if !known {
		add("unknown route; want one of %s", strings.Join(kinds, ", "))
		return errs
	}
	if _, ok := preset(r.Preset); r.Preset != "" && !ok {
		add("preset %q is not %s or %s", r.Preset, PresetFormLogin, PresetJSONLogin)
	}
	if !validToken(r.Method) || r.Method == http.MethodGet || r.Method == http.MethodHead {
		add("method %q: want POST, PUT or PATCH", r.Method)
	}
	if !strings.HasPrefix(r.Path, "/") {
		add("path %q must start with /", r.Path)
	} else if strings.HasPrefix(r.Path, prefix) {
		add("path %q is under the proxy's own prefix %s", r.Path, prefix)
	}
	for part, name := range r.Fields {
		if !slices.Contains(parts, part) {
			add("fields.%s: not a part of this route; want %s", part, strings.Join(parts, ", "))
		}
		if strings.TrimSpace(name) == "" {
			add("fields.%s: empty name", part)
		}
	}
	for _, part := range requiredParts[kind] {
		if r.Fields[part] == "" {
			add("fields.%s: required", part)
		}
	}
	if r.Success.empty() {
		add("success: say how a success looks (status, redirect, cookie or body)")
	}
	for _, s := range r.Success.Status {
		if s < 100 || s > 599 {
			add("success.status: %d is not an HTTP status", s)
		}
	}
	if r.Success.Cookie != "" && !validToken(r.Success.Cookie) {
		add("success.cookie: %q is not a cookie name", r.Success.Cookie)
	}
	if s := r.Failure.Status; s < 200 || s > 599 || (s >= 300 && s < 400 && r.Failure.Redirect == "") {
		add("failure.status: %d is not a final status (a redirect needs failure.redirect)", s)
	}
	if r.Fail != "open" && r.Fail != "closed" {
		add("fail: %q is not open or closed", r.Fail)
	}
	return errs
}

// validToken reports whether s is an RFC 9110 token (header and cookie
// names, methods).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range []byte(s) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// prefixes parses addresses and CIDR prefixes.
func prefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
			continue
		}
		errs = append(errs, fmt.Errorf("%q is not an address or CIDR prefix", s))
	}
	return out, errors.Join(errs...)
}
