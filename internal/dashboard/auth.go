package dashboard

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/argon2"

	"github.com/atoguard/atoguard/internal/store"
)

const (
	sessionCookie = "atoguard_session"
	loginCookie   = "atoguard_login" // the sign-in form's CSRF token
	maxSessions   = 10000
	maxLimiters   = 10000 // sign-in buckets per kind (addresses, names)
)

// Password hashing: argon2id with modest parameters (19 MiB, 2 passes, one
// lane: OWASP's minimum), sized for a sign-in path that is rate-limited.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword returns the encoded argon2id hash of password.
func HashPassword(password string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails
	sum := argon2.IDKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(sum))
}

// checkPassword reports whether password matches the encoded hash, in
// constant time. A malformed hash never matches.
func checkPassword(encoded, password string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 10 || p == 0 {
		return false
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return false
	}
	got := argon2.IDKey([]byte(password), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is checked for unknown operators, so that timing does not
// tell which names exist.
var dummyHash = sync.OnceValue(func() string { return HashPassword("atoguard-dummy-password") })

// TOTP parameters of operators: the common authenticator-app defaults.
const totpPeriod = 30

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// NewTOTP returns a new TOTP secret (base32) for operator name and its
// otpauth:// URI for an authenticator app.
func NewTOTP(name string) (secret, uri string, err error) {
	key, err := totp.Generate(totp.GenerateOpts{Issuer: "atoguard", AccountName: name, Period: totpPeriod,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return "", "", fmt.Errorf("generating TOTP secret: %w", err)
	}
	return key.Secret(), key.URL(), nil
}

// TOTPContext is the sealing context of operator name's TOTP secret: a
// sealed secret cannot be moved to another operator.
func TOTPContext(name string) []byte { return []byte("atoguard-operator-totp:" + name) }

// totpStep returns the time step (now-1, now or now+1 periods) whose code
// is code, or 0.
func totpStep(secret, code string, now time.Time) int64 {
	if len(code) != 6 {
		return 0
	}
	cur := now.Unix() / totpPeriod
	var found int64
	for step := cur - 1; step <= cur+1; step++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totpOpts)
		if err != nil {
			return 0
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			found = step
		}
	}
	return found
}

// session is an operator signed in. Its id is the cookie's value; the
// store keys sessions by the SHA-256 of it.
type session struct {
	operator string
	csrf     string
	created  time.Time
	seen     time.Time
}

// sessions are kept in process: a restart signs every operator out.
type sessions struct {
	idle, max time.Duration

	mu sync.Mutex
	m  map[[32]byte]*session
}

func newSessions(idle, max time.Duration) *sessions {
	return &sessions{idle: idle, max: max, m: map[[32]byte]*session{}}
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session for operator and returns its id.
func (ss *sessions) create(operator string, now time.Time) (string, *session) {
	id := randomToken()
	sess := &session{operator: operator, csrf: randomToken(), created: now, seen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if len(ss.m) >= maxSessions {
		ss.expireLocked(now)
		if len(ss.m) >= maxSessions { // still full: drop the least recently seen
			var oldest [32]byte
			var at time.Time
			for k, v := range ss.m {
				if at.IsZero() || v.seen.Before(at) {
					oldest, at = k, v.seen
				}
			}
			delete(ss.m, oldest)
		}
	}
	ss.m[sha256.Sum256([]byte(id))] = sess
	return id, sess
}

func (ss *sessions) expireLocked(now time.Time) {
	for k, v := range ss.m {
		if now.Sub(v.seen) > ss.idle || now.Sub(v.created) > ss.max {
			delete(ss.m, k)
		}
	}
}

// get returns the live session with id and marks it seen.
func (ss *sessions) get(id string, now time.Time) (session, bool) {
	if id == "" {
		return session{}, false
	}
	k := sha256.Sum256([]byte(id))
	ss.mu.Lock()
	defer ss.mu.Unlock()
	sess, ok := ss.m[k]
	if !ok {
		return session{}, false
	}
	if now.Sub(sess.seen) > ss.idle || now.Sub(sess.created) > ss.max {
		delete(ss.m, k)
		return session{}, false
	}
	sess.seen = now
	return *sess, true
}

func (ss *sessions) delete(id string) {
	k := sha256.Sum256([]byte(id))
	ss.mu.Lock()
	delete(ss.m, k)
	ss.mu.Unlock()
}

type ctxKey struct{}

// sessionOf returns the session of a request that passed requireSession.
func sessionOf(r *http.Request) session {
	s, _ := r.Context().Value(ctxKey{}).(session)
	return s
}

// requireSession lets through requests of a signed-in operator, sending
// others to the sign-in page; on POST it also checks the CSRF token and
// the origin.
func (s *Server) requireSession(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		var id string
		if c, err := r.Cookie(sessionCookie); err == nil {
			id = c.Value
		}
		sess, ok := s.sessions.get(id, s.clock.Wall())
		if !ok {
			target := "/ui/login"
			if r.Method == http.MethodGet && r.URL.Path != "/ui/" {
				target += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			http.Redirect(w, r, target, http.StatusSeeOther)
			return nil
		}
		if r.Method == http.MethodPost {
			if err := checkOrigin(r); err != nil {
				return err
			}
			if err := r.ParseForm(); err != nil {
				return &httpError{status: http.StatusBadRequest, msg: "bad form / フォームが不正です", cause: err}
			}
			if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf")), []byte(sess.csrf)) != 1 {
				return &httpError{status: http.StatusForbidden, msg: "invalid or missing CSRF token; reload the page / CSRF トークンが無効です。ページを再読み込みしてください"}
			}
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, sess)))
	}
}

// checkOrigin refuses cross-site form posts: Sec-Fetch-Site, when the
// browser sends it, must be same-origin, and Origin, when sent, must be
// this host.
func checkOrigin(r *http.Request) error {
	forbidden := &httpError{status: http.StatusForbidden, msg: "cross-site request refused / 別サイトからのリクエストは拒否されました"}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return forbidden
	}
	if o := r.Header.Get("Origin"); o != "" && o != "null" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return forbidden
		}
	}
	return nil
}

// secure reports whether the dashboard is on https for r: its cookies
// Secure, HSTS sent.
func (s *Server) secure(r *http.Request) bool { return s.cfg.SecureCookies || r.TLS != nil }

func (s *Server) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: value, Path: "/ui", MaxAge: maxAge,
		HttpOnly: true, Secure: s.secure(r), SameSite: http.SameSiteStrictMode})
}

// safeNext returns next if it is a dashboard path, else /ui/.
func safeNext(next string) string {
	if strings.HasPrefix(next, "/ui/") && !strings.HasPrefix(next, "//") && !strings.ContainsAny(next, "\\\r\n") {
		return next
	}
	return "/ui/"
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) error {
	return s.showLogin(w, r, http.StatusOK, "")
}

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request, status int, msg string) error {
	token := randomToken()
	s.setCookie(w, r, loginCookie, token, 600)
	s.render(w, r, status, "login", map[string]any{"CSRF": token, "Next": safeNext(r.FormValue("next")), "Error": msg})
	return nil
}

const loginFailed = "The name, password or code is wrong. / 名前・パスワード・コードのいずれかが違います。"

// login checks the name, the password and a TOTP code (each code at most
// once) and starts a session.
func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	if err := checkOrigin(r); err != nil {
		return err
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		return &httpError{status: http.StatusBadRequest, msg: "bad form / フォームが不正です", cause: err}
	}
	c, err := r.Cookie(loginCookie)
	if err != nil || c.Value == "" || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostForm.Get("csrf"))) != 1 {
		return &httpError{status: http.StatusForbidden, msg: "invalid or missing CSRF token; reload the page / CSRF トークンが無効です。ページを再読み込みしてください"}
	}
	name := strings.TrimSpace(r.PostForm.Get("name"))
	password := r.PostForm.Get("password")
	code := strings.TrimSpace(r.PostForm.Get("code"))
	now := s.clock.Wall()
	ip := clientIP(r, s.cfg.TrustedProxies)
	if len(name) > 200 {
		name = name[:200]
	}
	// The address's bucket first; a name whose bucket is spent (someone
	// guessing its password) still lets in whoever has its authenticator:
	// a current TOTP code opens the password check.
	limited := !s.limiter.allowIP(now, ip)
	if !limited && !s.limiter.allowName(now, name) {
		ok, err := s.totpFirst(r.Context(), name, code, now)
		if err != nil {
			return err
		}
		limited = !ok
	}
	if limited {
		s.log.Warn("dashboard sign-in rate-limited", "operator", name, "ip", ip)
		w.Header().Set("Retry-After", "60")
		return s.showLogin(w, r, http.StatusTooManyRequests, "Too many attempts; wait a minute. / 試行回数が多すぎます。1 分待ってください。")
	}
	ok, err := s.verify(r.Context(), name, password, code, now)
	if err != nil {
		return err
	}
	if !ok {
		s.log.Info("dashboard sign-in refused", "operator", name, "ip", ip)
		return s.showLogin(w, r, http.StatusUnauthorized, loginFailed)
	}
	if old, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.delete(old.Value)
	}
	id, _ := s.sessions.create(name, now)
	s.setCookie(w, r, sessionCookie, id, int(s.cfg.SessionMax.Seconds()))
	s.setCookie(w, r, loginCookie, "", -1)
	s.log.Info("dashboard sign-in", "operator", name, "ip", ip)
	http.Redirect(w, r, safeNext(r.PostForm.Get("next")), http.StatusSeeOther)
	return nil
}

// verify checks the credentials of operator name, doing the same password
// work for unknown names; an error is a technical failure.
func (s *Server) verify(ctx context.Context, name, password, code string, now time.Time) (bool, error) {
	op, err := s.ops.GetOperator(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		checkPassword(dummyHash(), password)
		return false, nil
	case err != nil:
		return false, fmt.Errorf("loading operator: %w", err)
	}
	passOK := checkPassword(op.PasswordHash, password)
	secret, _, err := s.opener.Open(op.TOTPSecret, TOTPContext(op.Name))
	if err != nil {
		return false, fmt.Errorf("opening TOTP secret of operator %q: %w", op.Name, err)
	}
	step := totpStep(string(secret), code, now)
	if !passOK || op.Disabled || step == 0 || step <= op.TOTPLastStep {
		return false, nil
	}
	advanced, err := s.ops.AdvanceOperatorTOTP(ctx, op.Name, step)
	if err != nil {
		return false, err
	}
	return advanced, nil
}

// totpFirst reports whether code is operator name's current, unused TOTP
// code (a cheap check, made before the costly password check when the
// name's attempts are spent).
func (s *Server) totpFirst(ctx context.Context, name, code string, now time.Time) (bool, error) {
	op, err := s.ops.GetOperator(ctx, name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("loading operator: %w", err)
	}
	secret, _, err := s.opener.Open(op.TOTPSecret, TOTPContext(op.Name))
	if err != nil {
		return false, fmt.Errorf("opening TOTP secret of operator %q: %w", op.Name, err)
	}
	step := totpStep(string(secret), code, now)
	return !op.Disabled && step != 0 && step > op.TOTPLastStep, nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.delete(c.Value)
	}
	s.setCookie(w, r, sessionCookie, "", -1)
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
	return nil
}
