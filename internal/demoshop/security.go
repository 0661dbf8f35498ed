package demoshop

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/passkeyjs"
	"github.com/atoguard/atoguard/internal/totpview"
)

// Security settings page statuses (data-status).
const (
	pageSecurity          = "security"
	pageTOTPPending       = "totp-pending"
	pageTOTPConfirmed     = "totp-confirmed"
	pageTOTPRejected      = "totp-rejected"
	pagePasskeyRegistered = "passkey-registered"
	pageRecoveryCodes     = "recovery-codes"
	pageFactorDeleted     = "factor-deleted"
	pageSecurityError     = "security-error"
)

// securityRoutes adds the security settings (second-factor enrolment
// through the guard) and the passkey half of the step-up.
func (s *Shop) securityRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /security", s.securityPage)
	m.HandleFunc("POST /security/totp", s.securityTOTPStart)
	m.HandleFunc("POST /security/totp/confirm", s.securityTOTPConfirm)
	m.HandleFunc("POST /security/passkey/begin", s.securityPasskeyBegin)
	m.HandleFunc("POST /security/passkey/finish", s.securityPasskeyFinish)
	m.HandleFunc("POST /security/recovery-codes", s.securityRecoveryCodes)
	m.HandleFunc("POST /security/delete", s.securityDelete)
	m.HandleFunc("POST /stepup/webauthn/options", s.stepUpPasskeyOptions)
}

type securityData struct {
	Status       string
	Available    bool
	Factors      []client.Factor
	RecoveryLeft int
	TOTP         *totpview.Enrolment
	Codes        []string
	Error        string
	Notice       string
}

func (s *Shop) enroller() (FactorEnroller, bool) {
	e, ok := s.stepUp.(FactorEnroller)
	return e, ok
}

// renderSecurity renders the settings page with the account's factors.
func (s *Shop) renderSecurity(w http.ResponseWriter, r *http.Request, v *visit, d securityData) {
	if d.Status == "" {
		d.Status = pageSecurity
	}
	e, ok := s.enroller()
	d.Available = ok
	if ok {
		fs, err := e.Factors(r.Context(), v.account.ID)
		if err != nil {
			s.log.Warn("listing factors", "account", v.account.ID, "err", err)
			if d.Error == "" {
				d.Error = "認証の設定を読み込めませんでした / The security settings could not be loaded; try again."
			}
		}
		for _, f := range fs.Factors {
			if f.Confirmed {
				d.Factors = append(d.Factors, f)
			}
		}
		d.RecoveryLeft = fs.RecoveryCodesLeft
	}
	s.render(w, r, http.StatusOK, "security.html", d)
}

func (s *Shop) securityPage(w http.ResponseWriter, r *http.Request) {
	v, ok := s.requireLogin(w, r)
	if !ok {
		return
	}
	d := securityData{}
	if r.URL.Query().Get("done") == "passkey" {
		d.Status, d.Notice = pagePasskeyRegistered, "パスキーを登録しました / The passkey was registered."
	}
	s.renderSecurity(w, r, v, d)
}

// guardTrouble renders the page with an error for a failed guard call: a
// refusal (4xx) is the user's, anything else is logged.
func (s *Shop) guardTrouble(w http.ResponseWriter, r *http.Request, v *visit, what string, err error) {
	var p *client.ProblemError
	msg := "いまは設定できません。しばらくしてからお試しください / This cannot be set up right now; try again later."
	if errors.As(err, &p) && p.Status < 500 && p.Status != http.StatusUnauthorized && p.Status != http.StatusForbidden {
		msg = "受け付けられませんでした / That was not accepted: " + p.Detail
	} else {
		s.log.Error(what, "account", v.account.ID, "err", err)
	}
	s.renderSecurity(w, r, v, securityData{Status: pageSecurityError, Error: msg})
}

func (s *Shop) securityTOTPStart(w http.ResponseWriter, r *http.Request) {
	v, ok := s.requireLogin(w, r)
	if !ok {
		return
	}
	e, ok := s.enroller()
	if !ok {
		s.renderSecurity(w, r, v, securityData{})
		return
	}
	en, err := e.EnrolTOTP(r.Context(), v.account.ID, "認証アプリ / Authenticator app", v.account.Email)
	if err != nil {
		s.guardTrouble(w, r, v, "starting a TOTP enrolment", err)
		return
	}
	s.renderSecurity(w, r, v, securityData{Status: pageTOTPPending, TOTP: totpview.New(en)})
}

func (s *Shop) securityTOTPConfirm(w http.ResponseWriter, r *http.Request) {
	v, ok := s.requireLogin(w, r)
	if !ok {
		return
	}
	e, ok := s.enroller()
	if !ok {
		s.renderSecurity(w, r, v, securityData{})
		return
	}
	code := strings.ReplaceAll(limit(strings.TrimSpace(r.PostFormValue("code")), 16), " ", "")
	err := e.ConfirmTOTP(r.Context(), v.account.ID, limit(r.PostFormValue("factor_id"), 128), code)
	var p *client.ProblemError
	switch {
	case errors.As(err, &p) && p.Status >= 400 && p.Status < 500 && p.Status != http.StatusUnauthorized && p.Status != http.StatusForbidden:
		s.renderSecurity(w, r, v, securityData{Status: pageTOTPRejected,
			Error: "コードが違います。もう一度「認証アプリを追加」からやり直してください / That code is not right: start again with “Add an authenticator app”."})
		return
	case err != nil:
		s.guardTrouble(w, r, v, "confirming a TOTP factor", err)
		return
	}
	s.renderSecurity(w, r, v, securityData{Status: pageTOTPConfirmed, Notice: "認証アプリを登録しました / The authenticator app was added."})
}

func (s *Shop) securityRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	v, ok := s.requireLogin(w, r)
	if !ok {
		return
	}
	e, ok := s.enroller()
	if !ok {
		s.renderSecurity(w, r, v, securityData{})
		return
	}
	codes, err := e.RecoveryCodes(r.Context(), v.account.ID)
	if err != nil {
		s.guardTrouble(w, r, v, "making recovery codes", err)
		return
	}
	s.renderSecurity(w, r, v, securityData{Status: pageRecoveryCodes, Codes: codes})
}

func (s *Shop) securityDelete(w http.ResponseWriter, r *http.Request) {
	v, ok := s.requireLogin(w, r)
	if !ok {
		return
	}
	e, ok := s.enroller()
	if !ok {
		s.renderSecurity(w, r, v, securityData{})
		return
	}
	if err := e.DeleteFactor(r.Context(), v.account.ID, limit(r.PostFormValue("factor_id"), 128)); err != nil {
		s.guardTrouble(w, r, v, "deleting a factor", err)
		return
	}
	s.renderSecurity(w, r, v, securityData{Status: pageFactorDeleted, Notice: "削除しました / Removed."})
}

// ---- JSON endpoints for /static/passkey.js (internal/passkeyjs) ----

// script answers the passkey script's requests; a guard that fails them
// is logged as an error.
func (s *Shop) script() passkeyjs.Responder {
	return passkeyjs.Responder{Log: s.log, Level: slog.LevelError}
}

func (s *Shop) securityPasskeyBegin(w http.ResponseWriter, r *http.Request) {
	v := visitOf(r)
	e, ok := s.enroller()
	switch {
	case !v.loggedIn:
		passkeyjs.Error(w, http.StatusUnauthorized, "log in first")
		return
	case !ok:
		passkeyjs.Error(w, http.StatusNotFound, "passkeys are not available")
		return
	}
	name := limit(strings.TrimSpace(r.PostFormValue("name")), 64)
	if name == "" {
		name = "パスキー / Passkey"
	}
	s.script().Begin(r.Context(), w, e, v.account.ID, client.PasskeyRequest{
		Name: name, UserName: v.account.Email, DisplayName: v.account.Name})
}

func (s *Shop) securityPasskeyFinish(w http.ResponseWriter, r *http.Request) {
	v := visitOf(r)
	e, ok := s.enroller()
	switch {
	case !v.loggedIn:
		passkeyjs.Error(w, http.StatusUnauthorized, "log in first")
		return
	case !ok:
		passkeyjs.Error(w, http.StatusNotFound, "passkeys are not available")
		return
	}
	s.script().Finish(r.Context(), w, e, v.account.ID, r.PostFormValue("attestation"))
}

// stepUpPasskeyOptions hands the script the options of the pending
// step-up's passkey ceremony.
func (s *Shop) stepUpPasskeyOptions(w http.ResponseWriter, r *http.Request) {
	v := visitOf(r)
	p, ok := s.stepUp.(passkeyOptions)
	challenge := s.pendingChallenge(r, v)
	switch {
	case challenge == "":
		passkeyjs.Error(w, http.StatusUnauthorized, "no step-up is waiting")
		return
	case !ok:
		passkeyjs.Error(w, http.StatusNotFound, "passkeys are not available")
		return
	}
	opts, err := p.WebAuthnOptions(r.Context(), challenge)
	if client.IsChallengeClosed(err) {
		passkeyjs.Error(w, http.StatusConflict, "this step-up is over; log in again")
		return
	}
	if err != nil {
		s.script().GuardError(r.Context(), w, "getting passkey options", err)
		return
	}
	passkeyjs.WriteJSON(w, http.StatusOK, opts)
}

// pendingChallenge is the guard challenge the visitor is answering: a
// login's, or an order's when the form names one (checkout).
func (s *Shop) pendingChallenge(r *http.Request, v *visit) string {
	if v.pending {
		return v.sess.Challenge
	}
	if v.loggedIn {
		if pc, ok := s.pendingOrder(v, r.PostFormValue("order_id")); ok {
			return pc.Challenge
		}
	}
	return ""
}
