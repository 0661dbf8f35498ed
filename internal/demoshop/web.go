package demoshop

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/netip"
	"regexp"
	"time"
)

// Cookies. The session cookie holds a random secret (the store keeps only
// its SHA-256); visitors who are not logged in get one too, with no stored
// session behind it, so forms can carry a CSRF token bound to it. The
// device cookie is a long-lived random id the guard sees as
// context.device_id: it is not a secret and not trusted for anything but
// recognising a returning browser.
const (
	sessionCookie = "shop_session"
	deviceCookie  = "shop_device"
	csrfField     = "csrf_token"
	deviceTTL     = 400 * 24 * time.Hour // the longest browsers keep a cookie
)

// The cookie names, for tools that talk to the shop.
const (
	SessionCookieName = sessionCookie
	DeviceCookieName  = deviceCookie
)

// FormSession returns a fresh anonymous session cookie value and the CSRF
// token its forms carry: what a browser gets by loading a page. `atoguard
// demo` prints them for attack tools that cannot read a token from a form.
func (s *Shop) FormSession() (cookie, token string) {
	cookie = randomToken(32)
	return cookie, s.csrfToken(cookie)
}

var deviceIDPattern = regexp.MustCompile(`^d-[0-9a-f]{8,32}$`)

// visit is what the shop knows about the request being served.
type visit struct {
	ip       netip.Addr
	device   string
	secret   string  // session cookie value
	sess     session // valid when loggedIn or pending
	loggedIn bool
	pending  bool // a login waiting for its step-up
	account  Account
	csrf     string
}

type visitKey struct{}

func visitOf(r *http.Request) *visit {
	v, _ := r.Context().Value(visitKey{}).(*visit)
	return v
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

func randomHex(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

func hashSecret(secret string) []byte {
	h := sha256.Sum256([]byte(secret))
	return h[:]
}

// csrfToken binds a form to the session cookie (signed double submit).
func (s *Shop) csrfToken(secret string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("csrf\x00"))
	m.Write([]byte(secret))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func (s *Shop) secure(r *http.Request) bool { return r.TLS != nil || s.opts.SecureCookies }

func (s *Shop) setCookie(w http.ResponseWriter, r *http.Request, name, value string, maxAge time.Duration) {
	c := &http.Cookie{
		Name: name, Value: value, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.secure(r),
	}
	if maxAge > 0 {
		c.MaxAge = int(maxAge / time.Second)
	} else if maxAge < 0 {
		c.MaxAge = -1
	}
	http.SetCookie(w, c)
}

// newSessionSecret starts a fresh session cookie (at login, logout, and
// for first-time visitors).
func (s *Shop) newSessionSecret(w http.ResponseWriter, r *http.Request, v *visit) {
	v.secret = randomToken(32)
	v.csrf = s.csrfToken(v.secret)
	s.setCookie(w, r, sessionCookie, v.secret, 0)
}

// withVisit resolves the client address, the device cookie and the
// session of every request.
func (s *Shop) withVisit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := &visit{ip: clientIP(r, s.opts.TrustedProxies)}
		if c, err := r.Cookie(deviceCookie); err == nil && deviceIDPattern.MatchString(c.Value) {
			v.device = c.Value
		} else {
			v.device = randomHex("d-", 12)
			s.setCookie(w, r, deviceCookie, v.device, deviceTTL)
		}
		if c, err := r.Cookie(sessionCookie); err == nil && len(c.Value) >= 32 && len(c.Value) <= 64 {
			v.secret = c.Value
			v.csrf = s.csrfToken(v.secret)
			se, err := s.store.sessionByHash(r.Context(), hashSecret(v.secret))
			switch {
			case err == nil && se.ExpiresAt.After(s.now()):
				v.sess = se
				if se.pending() {
					v.pending = true
				} else if a, err := s.store.AccountByID(r.Context(), se.AccountID); err == nil {
					v.loggedIn, v.account = true, a
				}
			case err != nil && !errors.Is(err, ErrNotFound):
				s.fail(w, r, err)
				return
			}
		} else {
			s.newSessionSecret(w, r, v)
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), visitKey{}, v)))
	})
}

// checkCSRF rejects a state-changing request whose form token does not
// match the session cookie.
func (s *Shop) checkCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet || r.Method == http.MethodHead {
			next.ServeHTTP(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		v := visitOf(r)
		_, noCookie := r.Cookie(sessionCookie)
		got := r.PostFormValue(csrfField)
		if noCookie != nil || got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(v.csrf)) != 1 {
			s.render(w, r, http.StatusForbidden, "error.html", errorPage{
				Status: "csrf-rejected",
				JA:     "フォームの有効期限が切れたか、不正な送信です。ページを読み込み直してください。",
				EN:     "This form has expired or was not sent from this shop. Reload the page and try again.",
			})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// securityHeaders sets the headers every page carries: scripts, styles
// and fetches from the shop only (static files: no inline script), images
// from the shop or data: URLs (the TOTP QR code), no framing, no MIME
// sniffing.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		next.ServeHTTP(w, r)
	})
}
