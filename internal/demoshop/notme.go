package demoshop

import (
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"github.com/atoguard/atoguard/client"
)

// Page statuses of the "this wasn't me" and password reset pages.
const (
	pageNotMeConfirm  = "not-me-confirm"
	pageNotMeDone     = "not-me-done"
	pageLinkInvalid   = "link-invalid"
	pageResetRequired = "password-reset-required"
	pageResetForm     = "password-reset"
	pageResetDone     = "password-reset-done"
)

type notMeData struct {
	Status         string
	Token          string
	Email          string // where the link was sent
	OrdersFrozen   int64
	SessionsEnded  int64
	ResetLink      string
	ResetExpiresAt string
}

func (s *Shop) linkInvalid(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusGone, "error.html", errorPage{Status: pageLinkInvalid,
		JA: "このリンクは無効です (使用済み、期限切れ、または正しくありません)。",
		EN: "This link is not valid: it was used already, has expired or is wrong."})
}

// notMePage asks the owner to confirm before anything is done: a mail
// scanner that opens links must not freeze an account.
func (s *Shop) notMePage(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	t, err := s.store.validToken(r.Context(), tok, purposeNotMe, s.now())
	if errors.Is(err, ErrNotFound) {
		s.linkInvalid(w, r)
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "notme.html", notMeData{Status: pageNotMeConfirm, Token: tok, Email: t.Email})
}

// notMe acts on a confirmed "this wasn't me": the token is used up, the
// account's pending orders are frozen, every session of it ends, its next
// login needs a new password (reset links go to the address that
// reported it), and the guard hears password.reset_requested.
func (s *Shop) notMe(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	now := s.now()
	t, err := s.store.useToken(ctx, r.PathValue("token"), purposeNotMe, now)
	if errors.Is(err, ErrNotFound) {
		s.linkInvalid(w, r)
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	d := notMeData{Status: pageNotMeDone, Email: t.Email}
	if d.OrdersFrozen, err = s.store.freezeOrders(ctx, s.store.db, t.AccountID); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.forceReset(ctx, s.store.db, t.AccountID, t.Email, now); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.SessionsEnded, err = s.store.endSessions(ctx, s.store.db, t.AccountID); err != nil {
		s.fail(w, r, err)
		return
	}
	ev := s.event(r, client.PasswordResetRequested)
	ev.User = &client.User{ID: t.AccountID}
	s.assess(ctx, ev)
	// The one following this link controls the mailbox: it may set the
	// new password now; a copy of the link goes to that mailbox.
	link, err := s.mailResetLink(r, t.AccountID, t.Email)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.ResetLink = link
	d.ResetExpiresAt = now.Add(resetTTL).In(jst).Format("15:04 MST")
	// This browser's own session may have been one of those ended.
	s.newSessionSecret(w, r, visitOf(r))
	s.render(w, r, http.StatusOK, "notme.html", d)
}

// mailResetLink mails a new password reset link for the account to
// email and returns its path.
func (s *Shop) mailResetLink(r *http.Request, accountID, email string) (string, error) {
	m, path := s.resetMail(r, accountID, email)
	if err := s.store.addMails(r.Context(), s.store.db, []outMail{m}); err != nil {
		return "", err
	}
	return path, nil
}

// resetMail is a mail of a new password reset link for the account to
// email, and the link's path.
func (s *Shop) resetMail(r *http.Request, accountID, email string) (outMail, string) {
	now := s.now()
	tok := randomToken(32)
	path := "/reset-password/" + tok
	link := s.publicURL(r) + path
	body := fmt.Sprintf(`パスワードの再設定をお願いします。次のリンクから新しいパスワードを設定してください (有効期限: %s)。
それまでこのアカウントにはログインできません。

Please set a new password with this link (valid until %s). Until then the account cannot be logged in to.

%s
`, now.Add(resetTTL).In(jst).Format("2006-01-02 15:04 MST"), now.Add(resetTTL).In(jst).Format("2 Jan 2006 15:04 MST"), link)
	m := outMail{Mail: Mail{At: now, To: email, AccountID: accountID,
		Subject: "パスワードの再設定 / Set a new password", Body: body},
		MailLink: MailLink{Source: "shop.password_reset", Link: link},
		token:    tok, purpose: purposeReset, ttl: resetTTL}
	return m, path
}

// honourForcedReset stops a login with the right password on an account
// whose owner said "this wasn't me": no session, the guard hears
// login.failed (locked), and a reset link goes to the address that
// reported it, not to one an attacker may have put on file since. It
// reports whether it answered the request.
func (s *Shop) honourForcedReset(w http.ResponseWriter, r *http.Request, ev client.Event, acct Account) bool {
	email, required, err := s.store.resetRequired(r.Context(), acct.ID)
	if err != nil {
		s.fail(w, r, err)
		return true
	}
	if !required {
		return false
	}
	ev.Type = client.LoginFailed
	ev.User = &client.User{ID: acct.ID, Email: acct.Email}
	ev.Properties = &client.Properties{Reason: client.ReasonLocked}
	s.assess(r.Context(), ev)
	if _, err := s.mailResetLink(r, acct.ID, email); err != nil {
		s.fail(w, r, err)
		return true
	}
	s.render(w, r, http.StatusForbidden, "error.html", errorPage{Status: pageResetRequired,
		JA: "このアカウントはパスワードの再設定が必要です。登録されていたメールアドレスに再設定用のリンクをお送りしました。",
		EN: "This account needs a new password. We sent a reset link to the email address on file before the recent changes."})
	return true
}

type resetData struct {
	Status string
	Token  string
	Error  string
}

func (s *Shop) resetPage(w http.ResponseWriter, r *http.Request) {
	tok := r.PathValue("token")
	if _, err := s.store.validToken(r.Context(), tok, purposeReset, s.now()); errors.Is(err, ErrNotFound) {
		s.linkInvalid(w, r)
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "reset.html", resetData{Status: pageResetForm, Token: tok})
}

// resetPassword sets the new password of a reset link, once: the forced
// reset is lifted, every session ends and the guard hears
// password.changed.
func (s *Shop) resetPassword(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	tok := r.PathValue("token")
	if _, err := s.store.validToken(ctx, tok, purposeReset, s.now()); errors.Is(err, ErrNotFound) {
		s.linkInvalid(w, r)
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	pw := r.PostFormValue("password")
	if utf8.RuneCountInString(pw) < minPasswordRunes || len(pw) > maxPasswordBytes {
		s.render(w, r, http.StatusOK, "reset.html", resetData{Status: pageResetForm, Token: tok,
			Error: "パスワードは8文字以上にしてください / Use a password of at least 8 characters."})
		return
	}
	if pw != r.PostFormValue("confirm") {
		s.render(w, r, http.StatusOK, "reset.html", resetData{Status: pageResetForm, Token: tok,
			Error: "確認用のパスワードが一致しません / The two passwords differ."})
		return
	}
	hash, err := s.hasher.Hash(pw)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	t, err := s.store.useToken(ctx, tok, purposeReset, s.now())
	if errors.Is(err, ErrNotFound) {
		s.linkInvalid(w, r)
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.setPassword(ctx, t.AccountID, hash); err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.store.endSessions(ctx, s.store.db, t.AccountID); err != nil {
		s.fail(w, r, err)
		return
	}
	ev := s.event(r, client.PasswordChanged)
	ev.User = &client.User{ID: t.AccountID}
	ev.Credential = &client.Credential{PasswordSHA1: client.PasswordSHA1(pw)}
	s.assess(ctx, ev)
	s.newSessionSecret(w, r, visitOf(r))
	s.render(w, r, http.StatusOK, "reset.html", resetData{Status: pageResetDone})
}
