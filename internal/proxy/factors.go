package proxy

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	shopclient "github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/passkeyjs"
	"github.com/atoguard/atoguard/internal/totpview"
)

// Enroller enrols the second factors of the shop's signed-in users and
// hands out the passkey options of a step-up; a *shopclient.Client is one.
// With a Guard that is not one the proxy serves no security page and its
// step-up page offers no passkey.
type Enroller interface {
	WebAuthnOptions(ctx context.Context, challengeID string) (json.RawMessage, error)
	Factors(ctx context.Context, userID string) (shopclient.Factors, error)
	passkeyjs.Registrar
	EnrolTOTP(ctx context.Context, userID, name, accountName string) (shopclient.TOTPEnrolment, error)
	ConfirmTOTP(ctx context.Context, userID, factorID, code string) error
	RecoveryCodes(ctx context.Context, userID string) ([]string, error)
}

// script answers the passkey script's requests; a guard that fails them
// is logged as a warning.
func (p *Proxy) script() passkeyjs.Responder {
	return passkeyjs.Responder{Log: p.opts.Log, Level: slog.LevelWarn}
}

// enroller returns the guard as an Enroller, if it is one.
func (p *Proxy) enroller() (Enroller, bool) {
	e, ok := p.opts.Guard.(Enroller)
	return e, ok
}

// signedIn returns the account of the request's shop session, when the
// proxy saw that session begin, with the session's hash.
func (p *Proxy) signedIn(r *http.Request) (session, string, bool) {
	if p.cfg.SessionCookie == "" {
		return session{}, "", false
	}
	c, err := r.Cookie(p.cfg.SessionCookie)
	if err != nil || c.Value == "" {
		return session{}, "", false
	}
	h := p.sessionHash(c.Value)
	who, ok := p.sessions.Get(h)
	return who, h, ok
}

// formToken is the security page's form token for a shop session: only a
// page the proxy served to that session carries it.
func (p *Proxy) formToken(sessionHash string) string {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte("security-form\x00" + sessionHash))
	return hex.EncodeToString(m.Sum(nil)[:16])
}

// stepUpPasskey hands the script the passkey options of a waiting step-up.
func (p *Proxy) stepUpPasskey(w http.ResponseWriter, r *http.Request, device string) {
	e, ok := p.enroller()
	if !ok || !p.form(w, r) {
		passkeyjs.Error(w, http.StatusBadRequest, "no passkey here")
		return
	}
	pd, ok := p.waiting(r.PostForm.Get("t"), device)
	if !ok || !slices.Contains(pd.Methods, shopclient.MethodWebAuthn) {
		passkeyjs.Error(w, http.StatusGone, "this confirmation is no longer open")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.cfg.Guard.Timeout)
	defer cancel()
	opts, err := e.WebAuthnOptions(ctx, pd.ChallengeID)
	if err != nil {
		p.script().GuardError(ctx, w, "getting passkey options", err)
		return
	}
	passkeyjs.WriteJSON(w, http.StatusOK, opts)
}

// securityData is what the security page shows.
type securityData struct {
	Factors   []shopclient.Factor
	CodesLeft int
	Notice    string
	TOTP      *totpview.Enrolment
	Codes     []string
}

// securityRequest is one request to the security page or its forms.
type securityRequest struct {
	p   *Proxy
	w   http.ResponseWriter
	r   *http.Request
	ctx context.Context
	e   Enroller
	who session
	tx  map[string]string
}

// serveSecurity serves the security page and its forms: passkeys, an
// authenticator app and recovery codes for the account of a shop session
// the proxy saw begin. Every form carries that session's token.
func (p *Proxy) serveSecurity(w http.ResponseWriter, r *http.Request, rest string) {
	e, ok := p.enroller()
	if !ok {
		http.NotFound(w, r)
		return
	}
	who, sess, in := p.signedIn(r)
	if !in {
		p.page(w, r, http.StatusForbidden, pageSignIn, pageData{})
		return
	}
	token := p.formToken(sess)
	if r.Method == http.MethodPost && (!p.form(w, r) || !hmac.Equal([]byte(r.PostForm.Get("t")), []byte(token))) {
		http.Error(w, "bad form", http.StatusForbidden)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.cfg.Guard.Timeout)
	defer cancel()
	s := securityRequest{p: p, w: w, r: r, ctx: ctx, e: e, who: who, tx: texts[lang(r)]}
	var d securityData
	answered := false
	switch post := r.Method == http.MethodPost; {
	case rest == "security" && !post:
		d.Notice = s.tx[r.URL.Query().Get("done")+"_done"]
	case rest == "security/passkey/begin" && post:
		s.passkeyBegin()
		return
	case rest == "security/passkey/finish" && post:
		s.passkeyFinish()
		return
	case rest == "security/totp" && post:
		answered = s.totpStart(&d)
	case rest == "security/totp/confirm" && post:
		answered = s.totpConfirm(&d)
	case rest == "security/recovery" && post:
		answered = s.recoveryCodes(&d)
	default:
		http.NotFound(w, r)
		return
	}
	if !answered {
		s.render(&d, token)
	}
}

// render shows the page with the account's factors.
func (s *securityRequest) render(d *securityData, token string) {
	fs, err := s.e.Factors(s.ctx, s.who.User)
	if err != nil {
		s.unavailable("listing factors", err)
		return
	}
	d.Factors, d.CodesLeft = fs.Factors, fs.RecoveryCodesLeft
	s.p.page(s.w, s.r, http.StatusOK, pageSecurity, pageData{Token: token, Security: d})
}

func (s *securityRequest) passkeyBegin() {
	name := clip(strings.TrimSpace(s.r.PostForm.Get("name")), 64)
	if name == "" {
		name = "Passkey"
	}
	s.p.script().Begin(s.ctx, s.w, s.e, s.who.User, shopclient.PasskeyRequest{Name: name, UserName: s.who.User, DisplayName: s.who.User})
}

func (s *securityRequest) passkeyFinish() {
	s.p.script().Finish(s.ctx, s.w, s.e, s.who.User, s.r.PostForm.Get("attestation"))
}

// totpStart starts an authenticator app: its QR code and key, shown once.
func (s *securityRequest) totpStart(d *securityData) (answered bool) {
	en, err := s.e.EnrolTOTP(s.ctx, s.who.User, "Authenticator app", s.who.User)
	if err != nil {
		s.unavailable("starting an authenticator app", err)
		return true
	}
	d.TOTP = totpview.New(en)
	return false
}

func (s *securityRequest) totpConfirm(d *securityData) (answered bool) {
	err := s.e.ConfirmTOTP(s.ctx, s.who.User, s.r.PostForm.Get("factor"), clip(strings.TrimSpace(s.r.PostForm.Get("code")), 16))
	var pe *shopclient.ProblemError
	switch {
	case err == nil:
		http.Redirect(s.w, s.r, s.p.cfg.Prefix+"security?done=totp", http.StatusSeeOther)
		return true
	case errors.As(err, &pe) && pe.Status < 500:
		d.Notice = s.tx["wrong"]
		return false
	}
	s.unavailable("confirming an authenticator app", err)
	return true
}

func (s *securityRequest) recoveryCodes(d *securityData) (answered bool) {
	codes, err := s.e.RecoveryCodes(s.ctx, s.who.User)
	if err != nil {
		s.unavailable("making recovery codes", err)
		return true
	}
	d.Codes = codes
	return false
}

func (s *securityRequest) unavailable(what string, err error) {
	s.p.opts.Log.Warn(what, "err", err)
	s.p.page(s.w, s.r, http.StatusServiceUnavailable, pageSecurity, pageData{Error: s.tx["unavailable"], Security: &securityData{}})
}
