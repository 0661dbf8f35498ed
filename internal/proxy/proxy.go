package proxy

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	shopclient "github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/ident"
)

// Guard is what the proxy asks: a *shopclient.Client does.
type Guard interface {
	Assess(ctx context.Context, ev shopclient.Event) (shopclient.Result, error)
	Verify(ctx context.Context, challengeID string, a shopclient.Answer) (shopclient.Verification, error)
	SendCode(ctx context.Context, challengeID, method string) (shopclient.CodeSent, error)
}

// Options are what a Proxy is given besides its configuration.
type Options struct {
	Upstream  *url.URL          // the shop; required
	Guard     Guard             // required
	Log       *slog.Logger      // required
	Client    *http.Client      // sends the logout requests (default: one of its own)
	Now       func() time.Time  // default time.Now
	Transport http.RoundTripper // to the shop (default: http.DefaultTransport's clone)
}

// maxSessions bounds the shop sessions remembered, maxPending the logins
// and orders waiting for a step-up.
const (
	maxSessions = 200_000
	maxPending  = 20_000
)

// Proxy is the reverse proxy in front of a shop.
type Proxy struct {
	cfg      Config
	opts     Options
	rp       *httputil.ReverseProxy
	routes   map[string]*route // by "METHOD /path"
	ips      clientIPs
	key      []byte                       // keys the session hashes the guard sees
	sessions *lru.Cache[string, session]  // by session hash
	known    *lru.Cache[string, struct{}] // accounts seen to exist, by user id
	pending  *pendingStore
}

type route struct {
	kind string
	Route
	names []string // the field names to read from a body
}

// session is a shop session the proxy saw begin.
type session struct {
	User  string
	Email string
}

// exchange is what the proxy knows of one request on a watched route; it
// travels in the request's context to ModifyResponse.
type exchange struct {
	route   *route
	values  Values
	ctx     shopclient.Context
	login   string
	pwSHA1  string
	user    session
	session string // the shop session's hash
	hasUser bool
}

type exchangeKey struct{}

// New returns a proxy for cfg (filled and validated, see Parse).
func New(cfg Config, opts Options) (*Proxy, error) {
	if opts.Upstream == nil || opts.Guard == nil || opts.Log == nil {
		return nil, errors.New("proxy: upstream, guard and log are required")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Transport == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 256
		opts.Transport = tr
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Transport: opts.Transport, Timeout: 10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	trusted, err := prefixes(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("proxy: trusted_proxies: %w", err)
	}
	sessions, err := lru.New[string, session](maxSessions)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	known, err := lru.New[string, struct{}](maxSessions)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	p := &Proxy{cfg: cfg, opts: opts, routes: map[string]*route{}, key: key, sessions: sessions, known: known,
		ips: clientIPs{trusted: trusted, header: cfg.ForwardedHeader, hops: cfg.Hops}, pending: newPendingStore(maxPending)}
	for kind, r := range cfg.Routes {
		rt := &route{kind: kind, Route: r}
		for _, n := range r.Fields {
			rt.names = append(rt.names, n)
		}
		p.routes[r.Method+" "+r.Path] = rt
	}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      opts.Transport,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.upstreamError,
		ErrorLog:       slog.NewLogLogger(opts.Log.Handler(), slog.LevelWarn),
	}
	return p, nil
}

func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(p.opts.Upstream)
	pr.Out.Host = pr.In.Host // the shop sees the name the browser used
	// SetXForwarded puts the peer after whatever X-Forwarded-For the
	// request claimed; the shop is told the client address the proxy
	// believes instead, unless the request claimed none (a browser
	// straight in), which leaves the peer alone, as wanted.
	pr.SetXForwarded()
	if fwd := pr.In.Header.Values(p.cfg.ForwardedHeader); len(fwd) > 0 || len(pr.In.Header["X-Forwarded-For"]) > 0 {
		if ip := p.ips.of(pr.In.RemoteAddr, fwd); ip.IsValid() {
			pr.Out.Header.Set("X-Forwarded-For", ip.String())
		}
	}
	stripCookie(pr.Out.Header, p.cfg.DeviceCookie)
}

// stripCookie removes the cookie name from a request's Cookie headers: the
// device cookie is the proxy's, the shop never sees it.
func stripCookie(h http.Header, name string) {
	lines := h.Values("Cookie")
	if len(lines) == 0 {
		return
	}
	var kept []string
	found := false
	for _, line := range lines {
		for part := range strings.SplitSeq(line, ";") {
			if n, _, _ := strings.Cut(strings.TrimSpace(part), "="); n == name {
				found = true
				continue
			}
			if s := strings.TrimSpace(part); s != "" {
				kept = append(kept, s)
			}
		}
	}
	if !found {
		return
	}
	h.Del("Cookie")
	if len(kept) > 0 {
		h.Set("Cookie", strings.Join(kept, "; "))
	}
}

// upstreamError answers 502 when the shop cannot be reached; the shop's own
// error answers pass through untouched.
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	p.opts.Log.Warn("upstream", "method", r.Method, "path", r.URL.Path, "err", err)
	w.WriteHeader(http.StatusBadGateway)
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, p.cfg.Prefix) {
		p.serveOwn(w, r, p.device(w, r))
		return
	}
	rt := p.routes[r.Method+" "+r.URL.Path]
	if rt == nil {
		p.rp.ServeHTTP(w, r) // untouched but for the device cookie stripped
		return
	}
	// The device cookie is set on the watched routes only: the rest pay
	// nothing for it, and a browser's first login is from a new device
	// in any case.
	device := p.device(w, r)
	ip := p.ips.of(r.RemoteAddr, r.Header.Values(p.cfg.ForwardedHeader))
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, p.cfg.MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading request body", http.StatusBadRequest)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	values, err := extract(r.Header.Get("Content-Type"), body, rt.names)
	if err != nil {
		values = Values{} // the shop will refuse it too; nothing to assess
	}
	x := &exchange{route: rt, values: values, ctx: p.context(r, ip, device)}
	if pw := values.First(rt.Fields[FieldPassword]); pw != "" && rt.kind != PasswordChange {
		x.pwSHA1 = shopclient.PasswordSHA1(pw)
	}
	x.login = values.First(rt.Fields[FieldLogin])
	if c, err := r.Cookie(p.cfg.SessionCookie); err == nil && p.cfg.SessionCookie != "" && c.Value != "" {
		x.session = p.sessionHash(c.Value)
		x.user, x.hasUser = p.sessions.Get(x.session)
	}
	if !p.before(w, r, x, body) {
		return
	}
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, x)))
}

// device returns the browser's device id, setting the cookie that carries
// it when the browser has none.
func (p *Proxy) device(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(p.cfg.DeviceCookie); err == nil && validDeviceID(c.Value) {
		return c.Value
	}
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	http.SetCookie(w, &http.Cookie{Name: p.cfg.DeviceCookie, Value: id, Path: "/", MaxAge: 400 * 24 * 3600,
		HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteLaxMode})
	return id
}

func validDeviceID(s string) bool {
	if len(s) != 32 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// context is the event context of a request.
func (p *Proxy) context(r *http.Request, ip netip.Addr, device string) shopclient.Context {
	c := shopclient.Context{IP: ip.String(), UserAgent: clip(r.UserAgent(), 1024),
		AcceptLanguage: clip(r.Header.Get("Accept-Language"), 256), DeviceID: device}
	for _, h := range []string{"Sec-Ch-Ua", "Sec-Ch-Ua-Mobile", "Sec-Ch-Ua-Platform", "Accept", "Accept-Encoding", "Sec-Fetch-Site", "Sec-Fetch-Mode"} {
		if v := r.Header.Get(h); v != "" {
			if c.Headers == nil {
				c.Headers = map[string]string{}
			}
			c.Headers[strings.ToLower(h)] = clip(v, 1024)
		}
	}
	return c
}

// clip cuts s to at most n bytes of valid UTF-8 without control characters.
func clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || (r >= 0x7f && r < 0xa0) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, ""))
	for len(s) > n {
		s = strings.ToValidUTF8(s[:n], "")
	}
	return s
}

// sessionHash is what the guard and the proxy's memory hold of a shop
// session cookie: a keyed hash, never the cookie.
func (p *Proxy) sessionHash(value string) string {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(value))
	return "px-" + hex.EncodeToString(m.Sum(nil)[:16])
}

// userID is the account id the proxy reports for a login: the shop's own
// id is not visible at the edge, so the normalized login stands for it.
func userID(login string) string { return clip(ident.Normalize(login), 256) }

// event is an event of x's request.
func (p *Proxy) event(typ string, x *exchange) shopclient.Event {
	ev := shopclient.Event{Type: typ, OccurredAt: p.opts.Now().UTC(), Context: x.ctx, SessionID: x.session}
	if x.login != "" {
		ev.Login = clip(x.login, 320)
	}
	if x.pwSHA1 != "" {
		ev.Credential = &shopclient.Credential{PasswordSHA1: x.pwSHA1}
	}
	return ev
}

// assess asks the guard; when it cannot answer, the route's fail mode
// decides: open allows, closed denies.
func (p *Proxy) assess(ctx context.Context, rt *route, ev shopclient.Event) shopclient.Result {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Guard.Timeout)
	defer cancel()
	res, err := p.opts.Guard.Assess(ctx, ev)
	if err == nil {
		return res
	}
	p.opts.Log.Warn("guard gave no decision", "event", ev.Type, "fail", rt.Fail, "err", err)
	if rt.Fail == "closed" {
		return shopclient.Result{Decision: shopclient.Deny, Fallback: true}
	}
	return shopclient.Result{Decision: shopclient.Allow, Fallback: true}
}

// before runs the checks of a watched route before the request goes
// upstream and reports whether it may.
func (p *Proxy) before(w http.ResponseWriter, r *http.Request, x *exchange, body []byte) bool {
	rt := x.route
	switch rt.kind {
	case Login:
		if x.login == "" {
			return true // no login: the shop refuses it on its own
		}
		if res := p.assess(r.Context(), rt, p.event(shopclient.LoginAttempt, x)); res.Decision == shopclient.Deny {
			p.reply(w, rt.Failure)
			return false
		}
	case Registration:
		if x.login == "" {
			return true
		}
		ev := p.event(shopclient.Registration, x)
		ev.Login = ""
		ev.User = p.user(x.login, x.values.First(rt.Fields[FieldEmail]))
		if res := p.assess(r.Context(), rt, ev); res.Decision == shopclient.Deny {
			p.reply(w, rt.Failure)
			return false
		}
	case PasswordChange:
		pw := x.values.First(rt.Fields[FieldNewPassword])
		if !x.hasUser || pw == "" {
			return true
		}
		ev := p.event(shopclient.PasswordChanged, x)
		ev.Credential = &shopclient.Credential{PasswordSHA1: shopclient.PasswordSHA1(pw)}
		ev.User = &shopclient.User{ID: x.user.User}
		if res := p.assess(r.Context(), rt, ev); res.Decision == shopclient.Deny {
			p.reply(w, rt.Failure)
			return false
		}
	case Checkout:
		if !x.hasUser {
			return true // a session the proxy did not see begin: nothing to link the order to
		}
		return p.checkout(w, r, x, body)
	}
	return true
}

// user is the User of an account known by its login.
func (p *Proxy) user(login, email string) *shopclient.User {
	u := &shopclient.User{ID: userID(login)}
	if email == "" && strings.Contains(login, "@") {
		email = login
	}
	if email != "" {
		u.Email = clip(email, 320)
	}
	return u
}

// reply answers in the shop's name.
func (p *Proxy) reply(w http.ResponseWriter, rp Reply) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	if rp.Redirect != "" {
		h.Set("Location", rp.Redirect)
	}
	h.Set("Content-Type", rp.ContentType)
	w.WriteHeader(rp.Status)
	_, _ = io.WriteString(w, rp.Body)
}

// modifyResponse looks at the shop's answer to a watched request.
func (p *Proxy) modifyResponse(resp *http.Response) error {
	x, ok := resp.Request.Context().Value(exchangeKey{}).(*exchange)
	if !ok {
		return nil
	}
	rt := x.route
	switch rt.kind {
	case Login:
		if x.login == "" {
			return nil
		}
		return p.afterLogin(resp, x)
	case Registration:
		if x.login == "" || !p.succeeded(resp, rt.Success) {
			return nil
		}
		// The account exists now, and a shop that signs it in at once
		// gives it a session the proxy knows.
		u := p.user(x.login, x.values.First(rt.Fields[FieldEmail]))
		p.known.Add(u.ID, struct{}{})
		if v := cookieValue(resp.Header.Values("Set-Cookie"), p.cfg.SessionCookie); v != "" {
			p.sessions.Add(p.sessionHash(v), session{User: u.ID, Email: u.Email})
		}
	case ProfileChange:
		if !x.hasUser || !p.succeeded(resp, rt.Success) {
			return nil
		}
		ev := p.event(shopclient.ProfileUpdated, x)
		ev.User = &shopclient.User{ID: x.user.User}
		var fields []string
		for part, field := range map[string]string{FieldEmail: "email", FieldShippingAddress: "shipping_address", FieldPaymentMethod: "payment_method"} {
			if x.values.First(rt.Fields[part]) != "" {
				fields = append(fields, field)
			}
		}
		if len(fields) == 0 {
			return nil
		}
		if e := x.values.First(rt.Fields[FieldEmail]); e != "" {
			ev.User.Email = clip(e, 320)
		}
		ev.Properties = &shopclient.Properties{Fields: sortStrings(fields)}
		p.assess(resp.Request.Context(), rt, ev)
	}
	return nil
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

// succeeded reports whether an answer matches m. When m looks at the body,
// the part it read is put back in front of the rest.
func (p *Proxy) succeeded(resp *http.Response, m Match) bool {
	ok := true
	if len(m.Status) > 0 {
		found := false
		for _, s := range m.Status {
			found = found || s == resp.StatusCode
		}
		ok = ok && found
	}
	if m.Redirect != "" {
		loc, err := resp.Location()
		ok = ok && err == nil && strings.HasPrefix(loc.Path, m.Redirect)
	}
	if m.Cookie != "" {
		found := false
		for _, c := range resp.Cookies() {
			found = found || (c.Name == m.Cookie && c.Value != "" && c.MaxAge >= 0)
		}
		ok = ok && found
	}
	if m.Body != "" && ok {
		head, err := io.ReadAll(io.LimitReader(resp.Body, p.cfg.MaxResponseBytes))
		resp.Body = readCloser{io.MultiReader(bytes.NewReader(head), resp.Body), resp.Body}
		ok = err == nil && bytes.Contains(head, []byte(m.Body))
	}
	return ok
}

type readCloser struct {
	io.Reader
	io.Closer
}

// afterLogin reports the login's outcome and applies the decision.
func (p *Proxy) afterLogin(resp *http.Response, x *exchange) error {
	ctx := resp.Request.Context()
	rt := x.route
	if !p.succeeded(resp, rt.Success) {
		p.assess(ctx, rt, p.failed(x))
		return nil
	}
	p.known.Add(userID(x.login), struct{}{})
	cookies := resp.Header.Values("Set-Cookie")
	sess := x.session
	if v := cookieValue(cookies, p.cfg.SessionCookie); v != "" {
		sess = p.sessionHash(v)
	}
	ev := p.event(shopclient.LoginSucceeded, x)
	ev.User = p.user(x.login, "")
	ev.SessionID = sess
	res := p.assess(ctx, rt, ev)
	who := session{User: ev.User.ID, Email: ev.User.Email}
	switch {
	case res.Decision == shopclient.Allow || res.Decision == shopclient.Review:
		if sess != "" {
			p.sessions.Add(sess, who)
		}
		return nil
	case res.Decision == shopclient.Challenge && res.Challenge != nil && len(res.Challenge.Methods) > 0:
		loc := resp.Header.Get("Location")
		if loc == "" {
			loc = "/"
		}
		pd := &pending{ChallengeID: res.Challenge.ID, Methods: res.Challenge.Methods, Expires: res.Challenge.ExpiresAt,
			Cookies: cookies, Location: loc, Device: x.ctx.DeviceID, Session: sess, Who: who}
		token, ok := p.pending.put(pd, p.opts.Now())
		if ok {
			replace(resp, http.StatusSeeOther, http.Header{"Location": {p.cfg.Prefix + "stepup?t=" + token}}, "")
			return nil
		}
	}
	// deny, a challenge nobody can answer, or too many waiting: the shop's
	// session ends here and never reaches the browser.
	p.endSession(cookies)
	h := http.Header{"Content-Type": {rt.Failure.ContentType}, "Cache-Control": {"no-store"}}
	if rt.Failure.Redirect != "" {
		h.Set("Location", rt.Failure.Redirect)
	}
	replace(resp, rt.Failure.Status, h, rt.Failure.Body)
	return nil
}

// failed is the login.failed of x. Whether the account exists is not
// visible at the edge (a shop answers a wrong password and an unknown
// login alike), so the proxy says what it saw: an account it has seen log
// in or register gets its id and bad_password; any other login goes
// without a user, which the guard reads as "no such account" and keeps
// no state for.
func (p *Proxy) failed(x *exchange) shopclient.Event {
	ev := p.event(shopclient.LoginFailed, x)
	if id := userID(x.login); p.known.Contains(id) {
		ev.User = &shopclient.User{ID: id}
		ev.Properties = &shopclient.Properties{Reason: shopclient.ReasonBadPassword}
	}
	return ev
}

// replace makes resp another answer, closing the shop's body.
func replace(resp *http.Response, status int, h http.Header, body string) {
	_ = resp.Body.Close()
	resp.StatusCode, resp.Status = status, fmt.Sprintf("%d %s", status, http.StatusText(status))
	resp.Header = h
	resp.Body = io.NopCloser(strings.NewReader(body))
	resp.ContentLength = int64(len(body))
	resp.TransferEncoding = nil
	resp.Header.Set("Content-Length", fmt.Sprint(len(body)))
}

// cookieValue returns the value the Set-Cookie lines give name.
func cookieValue(setCookies []string, name string) string {
	if name == "" {
		return ""
	}
	for _, line := range setCookies {
		if c, err := http.ParseSetCookie(line); err == nil && c.Name == name && c.MaxAge >= 0 {
			return c.Value
		}
	}
	return ""
}

// endSession asks the shop to end the session the held cookies carry.
func (p *Proxy) endSession(setCookies []string) {
	if p.cfg.Logout.Path == "" || len(setCookies) == 0 {
		return
	}
	var pairs []string
	for _, line := range setCookies {
		if c, err := http.ParseSetCookie(line); err == nil && c.Value != "" {
			pairs = append(pairs, c.Name+"="+c.Value)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	u := *p.opts.Upstream
	u.Path = p.cfg.Logout.Path
	req, err := http.NewRequestWithContext(ctx, p.cfg.Logout.Method, u.String(), nil)
	if err != nil {
		p.opts.Log.Error("logout request", "err", err)
		return
	}
	req.Header.Set("Cookie", strings.Join(pairs, "; "))
	resp, err := p.opts.Client.Do(req)
	if err != nil {
		p.opts.Log.Warn("ending the held session upstream", "err", err)
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	_ = resp.Body.Close()
}

// Run ends the sessions of step-ups that expired unanswered, until ctx is
// done.
func (p *Proxy) Run(ctx context.Context) {
	t := time.NewTicker(15 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			p.sweep()
		}
	}
}

func (p *Proxy) sweep() {
	for _, pd := range p.pending.expired(p.opts.Now()) {
		p.endSession(pd.Cookies)
	}
}

// pending is a login or an order waiting for its step-up.
type pending struct {
	ChallengeID string
	Methods     []string
	Expires     time.Time
	Cookies     []string // the shop's Set-Cookie lines, held
	Location    string   // where the shop sent the browser
	Device      string   // the browser that may answer
	Session     string
	Who         session
	Sent        string       // the masked address an email code went to
	Order       *heldRequest // a checkout to send once the step-up passes
}

// heldRequest is a request kept until its step-up passes.
type heldRequest struct {
	Method, URI string
	Header      http.Header
	Body        []byte
}

type pendingStore struct {
	mu  sync.Mutex
	max int
	m   map[string]*pending
}

func newPendingStore(max int) *pendingStore {
	return &pendingStore{max: max, m: map[string]*pending{}}
}

// put keeps pd under a new token; false when too many are waiting.
func (s *pendingStore) put(pd *pending, now time.Time) (string, bool) {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	token := hex.EncodeToString(b)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= s.max {
		return "", false
	}
	s.m[token] = pd
	return token, true
}

func (s *pendingStore) get(token string) (*pending, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pd, ok := s.m[token]
	return pd, ok
}

// take removes and returns the entry of token.
func (s *pendingStore) take(token string) (*pending, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pd, ok := s.m[token]
	delete(s.m, token)
	return pd, ok
}

// expired removes and returns the entries past their expiry.
func (s *pendingStore) expired(now time.Time) []*pending {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*pending
	for k, pd := range s.m {
		if !pd.Expires.After(now) {
			out = append(out, pd)
			delete(s.m, k)
		}
	}
	return out
}
