package demoshop

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/webhook"
)

// The guard's owner notifications, received by webhook (POST HookPath)
// and mailed from the shop's outbox to every address the guard names (the
// one on file before a recent change first), each with a "this wasn't
// me" link: a single-use, expiring token bound to the account, kept only
// as its SHA-256.

// HookPath is where the shop receives the guard's signed webhooks.
const HookPath = "/hooks/atoguard"

// Token purposes and lifetimes.
const (
	purposeNotMe = "not_me"
	purposeReset = "password_reset"
	notMeTTL     = 7 * 24 * time.Hour
	resetTTL     = time.Hour
	maxHookBody  = 64 << 10
)

// StatusFrozen is an order frozen because its owner said the account was
// not theirs: it is neither shipped nor billed until someone looks at it.
const StatusFrozen = "frozen"

const noticeSchema = `
CREATE TABLE IF NOT EXISTS account_tokens (
  hash BLOB PRIMARY KEY,
  purpose TEXT NOT NULL,
  account_id TEXT NOT NULL,
  email TEXT NOT NULL DEFAULT '',
  ref TEXT NOT NULL DEFAULT '',
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS forced_resets (
  account_id TEXT PRIMARY KEY,
  email TEXT NOT NULL,
  since INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS guard_notices (
  notification_id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  account_id TEXT NOT NULL,
  received_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox_links (
  mail_id INTEGER PRIMARY KEY,
  source TEXT NOT NULL,
  note TEXT NOT NULL DEFAULT '',
  link TEXT NOT NULL DEFAULT ''
);
`

// MailLink is what the outbox shows beside a mail the guard asked for.
type MailLink struct {
	Source string // the notification kind, e.g. owner.contact_changed
	Note   string // e.g. that the recipient is the address before a change
	Link   string // the "this wasn't me" URL; empty: none
}

type execer interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}

func (s *Store) insertToken(ctx context.Context, ex execer, token, purpose, accountID, email, ref string, now time.Time, ttl time.Duration) error {
	_, err := ex.ExecContext(ctx, `INSERT INTO account_tokens (hash, purpose, account_id, email, ref, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		hashSecret(token), purpose, accountID, email, ref, ms(now), ms(now.Add(ttl)))
	if err != nil {
		return fmt.Errorf("storing %s token: %w", purpose, err)
	}
	return nil
}

// accountToken is a stored token, looked up by its secret.
type accountToken struct {
	AccountID string
	Email     string
	Ref       string
	ExpiresAt time.Time
}

// validToken returns the unused, unexpired token of purpose whose secret
// is token; ErrNotFound otherwise.
func (s *Store) validToken(ctx context.Context, token, purpose string, now time.Time) (accountToken, error) {
	var t accountToken
	var exp int64
	err := s.db.QueryRowContext(ctx, `SELECT account_id, email, ref, expires_at FROM account_tokens
		WHERE hash = ? AND purpose = ? AND used_at = 0 AND expires_at > ?`, hashSecret(token), purpose, ms(now)).
		Scan(&t.AccountID, &t.Email, &t.Ref, &exp)
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, fmt.Errorf("reading token: %w", err)
	}
	t.ExpiresAt = fromMS(exp)
	return t, nil
}

// useToken marks the token used, once: ErrNotFound when it is unknown,
// used or expired.
func (s *Store) useToken(ctx context.Context, token, purpose string, now time.Time) (accountToken, error) {
	t, err := s.validToken(ctx, token, purpose, now)
	if err != nil {
		return t, err
	}
	res, err := s.db.ExecContext(ctx, `UPDATE account_tokens SET used_at = ? WHERE hash = ? AND purpose = ? AND used_at = 0 AND expires_at > ?`,
		ms(now), hashSecret(token), purpose, ms(now))
	if err != nil {
		return t, fmt.Errorf("using token: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return t, ErrNotFound
	}
	return t, nil
}

// freezeOrders freezes the account's orders that are not final yet
// (accepted or held) and returns how many.
func (s *Store) freezeOrders(ctx context.Context, ex execer, accountID string) (int64, error) {
	res, err := ex.ExecContext(ctx, `UPDATE orders SET status = ? WHERE account_id = ? AND status IN (?, ?)`,
		StatusFrozen, accountID, StatusAccepted, StatusHeld)
	if err != nil {
		return 0, fmt.Errorf("freezing orders: %w", err)
	}
	return res.RowsAffected()
}

// endSessions deletes every session of the account and returns how many.
func (s *Store) endSessions(ctx context.Context, ex execer, accountID string) (int64, error) {
	res, err := ex.ExecContext(ctx, `DELETE FROM sessions WHERE account_id = ?`, accountID)
	if err != nil {
		return 0, fmt.Errorf("ending sessions: %w", err)
	}
	return res.RowsAffected()
}

// forceReset makes the account's next login require a new password;
// reset links then go to email.
func (s *Store) forceReset(ctx context.Context, ex execer, accountID, email string, now time.Time) error {
	_, err := ex.ExecContext(ctx, `INSERT INTO forced_resets (account_id, email, since) VALUES (?, ?, ?)
		ON CONFLICT (account_id) DO UPDATE SET email = excluded.email, since = excluded.since`, accountID, email, ms(now))
	if err != nil {
		return fmt.Errorf("forcing a password reset: %w", err)
	}
	return nil
}

// resetRequired reports whether the account must set a new password, and
// where its reset links go.
func (s *Store) resetRequired(ctx context.Context, accountID string) (email string, required bool, err error) {
	err = s.db.QueryRowContext(ctx, `SELECT email FROM forced_resets WHERE account_id = ?`, accountID).Scan(&email)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return "", false, nil
	case err != nil:
		return "", false, fmt.Errorf("reading forced reset: %w", err)
	}
	return email, true, nil
}

// setPassword replaces the account's password hash and lifts a forced
// reset.
func (s *Store) setPassword(ctx context.Context, accountID, hash string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("setting password: %w", err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `UPDATE accounts SET password_hash = ? WHERE id = ?`, hash, accountID); err != nil {
		return fmt.Errorf("setting password: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM forced_resets WHERE account_id = ?`, accountID); err != nil {
		return fmt.Errorf("lifting forced reset: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("setting password: %w", err)
	}
	return nil
}

// outMail is a mail to write with its outbox details.
type outMail struct {
	Mail
	MailLink
	token, purpose, ref string // a token to store with it; empty: none
	ttl                 time.Duration
}

// addMails writes mails, their outbox details and tokens in one
// transaction.
func (s *Store) addMails(ctx context.Context, ex execer, mails []outMail) error {
	for _, m := range mails {
		res, err := ex.ExecContext(ctx, `INSERT INTO outbox (at, to_addr, account_id, subject, body) VALUES (?, ?, ?, ?, ?)`,
			ms(m.At), m.To, m.AccountID, m.Subject, m.Body)
		if err != nil {
			return fmt.Errorf("writing outbox: %w", err)
		}
		id, err := res.LastInsertId()
		if err != nil {
			return fmt.Errorf("writing outbox: %w", err)
		}
		if _, err := ex.ExecContext(ctx, `INSERT INTO outbox_links (mail_id, source, note, link) VALUES (?, ?, ?, ?)`,
			id, m.Source, m.Note, m.Link); err != nil {
			return fmt.Errorf("writing outbox: %w", err)
		}
		if m.token != "" {
			if err := s.insertToken(ctx, ex, m.token, m.purpose, m.AccountID, m.To, m.ref, m.At, m.ttl); err != nil {
				return err
			}
		}
	}
	return nil
}

// addGuardNotice records notification id and its mails at once; it
// reports false, writing nothing, when the id was received before.
func (s *Store) addGuardNotice(ctx context.Context, id, kind, accountID string, now time.Time, mails []outMail) (bool, error) {
	return s.addGuardAction(ctx, id, kind, accountID, now, nil, mails)
}

// addGuardAction records notification id, applies effect and writes the
// mails, all in one transaction; it reports false, doing nothing, when
// the id was received before. effect may be nil.
func (s *Store) addGuardAction(ctx context.Context, id, kind, accountID string, now time.Time, effect func(execer) error, mails []outMail) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("recording notification: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO guard_notices (notification_id, kind, account_id, received_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (notification_id) DO NOTHING`, id, kind, accountID, ms(now))
	if err != nil {
		return false, fmt.Errorf("recording notification: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return false, err
	}
	if effect != nil {
		if err := effect(tx); err != nil {
			return false, err
		}
	}
	if err := s.addMails(ctx, tx, mails); err != nil {
		return false, err
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("recording notification: %w", err)
	}
	return true, nil
}

// mailLinks returns the outbox details of the mails among ids that have
// some.
func (s *Store) mailLinks(ctx context.Context, mails []Mail) (map[int64]MailLink, error) {
	out := map[int64]MailLink{}
	if len(mails) == 0 {
		return out, nil
	}
	lo, hi := mails[0].ID, mails[0].ID
	for _, m := range mails {
		lo, hi = min(lo, m.ID), max(hi, m.ID)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT mail_id, source, note, link FROM outbox_links WHERE mail_id BETWEEN ? AND ?`, lo, hi)
	if err != nil {
		return nil, fmt.Errorf("reading outbox links: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var l MailLink
		if err := rows.Scan(&id, &l.Source, &l.Note, &l.Link); err != nil {
			return nil, fmt.Errorf("reading outbox links: %w", err)
		}
		out[id] = l
	}
	return out, rows.Err()
}

// ---- the webhook receiver ----

// hookError answers a webhook with a status and a short plain-text reason.
func hookError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintln(w, msg)
}

// receiveHook takes one signed notification from the guard. An unsigned,
// forged, altered or stale delivery is refused with 401 and changes
// nothing; a body that is signed but not a notification is 400. Owner
// notifications become mails to each address the guard named, the address
// before a recent change first, each with its own "this wasn't me" link;
// operator actions are carried out (receiveAction).
// A notification received before (a retry) is acknowledged again without
// a second mail; other kinds are acknowledged and ignored.
func (s *Shop) receiveHook(w http.ResponseWriter, r *http.Request) {
	if len(s.opts.HookSecret) == 0 {
		hookError(w, http.StatusNotFound, "webhooks are not configured")
		return
	}
	now := s.now()
	body, err := client.VerifyWebhookRequest(r, s.opts.HookSecret, now, 0, maxHookBody)
	switch {
	case errors.Is(err, client.ErrNoSignature), errors.Is(err, client.ErrMalformedSignature),
		errors.Is(err, client.ErrSignatureMismatch), errors.Is(err, client.ErrSignatureExpired):
		s.log.Warn("webhook refused", "err", err, "peer", r.RemoteAddr)
		hookError(w, http.StatusUnauthorized, "signature refused")
		return
	case err != nil:
		hookError(w, http.StatusBadRequest, "unreadable body")
		return
	}
	var p webhook.Payload
	if err := json.Unmarshal(body, &p); err != nil || p.ID == "" || p.Kind == "" || len(p.ID) > 128 {
		hookError(w, http.StatusBadRequest, "not a notification")
		return
	}
	if strings.HasPrefix(p.Kind, "action.") {
		s.receiveAction(w, r, p, now)
		return
	}
	if !strings.HasPrefix(p.Kind, "owner.") || p.Account == "" {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	mails, err := s.ownerMails(r, p, now)
	if err != nil {
		s.log.Error("webhook: building mails", "id", p.ID, "err", err)
		hookError(w, http.StatusInternalServerError, "try again")
		return
	}
	if _, err := s.store.addGuardNotice(r.Context(), p.ID, p.Kind, p.Account, now, mails); err != nil {
		s.log.Error("webhook: storing", "id", p.ID, "err", err)
		hookError(w, http.StatusInternalServerError, "try again")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// publicURL is the shop's address in links it mails.
func (s *Shop) publicURL(r *http.Request) string {
	if s.opts.PublicURL != "" {
		return strings.TrimRight(s.opts.PublicURL, "/")
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// ownerMails turns an owner notification into one mail per recipient.
func (s *Shop) ownerMails(r *http.Request, p webhook.Payload, now time.Time) ([]outMail, error) {
	acct, err := s.store.AccountByID(r.Context(), p.Account)
	known := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	to := p.To
	if len(to) == 0 && known {
		to = []string{acct.Email}
	}
	base := s.publicURL(r)
	var out []outMail
	for i, addr := range to {
		addr = limit(strings.TrimSpace(addr), 254)
		if addr == "" {
			continue
		}
		m := outMail{Mail: Mail{At: now, To: addr, AccountID: p.Account, Subject: limit(p.Subject, 300)},
			MailLink: MailLink{Source: limit(p.Kind, 64)}}
		if len(to) > 1 {
			if i == 0 {
				m.Note = "変更前のアドレス / the address before the recent change"
			} else {
				m.Note = "現在のアドレス / the current address"
			}
		}
		// No greeting by name: whoever took the account over may have
		// changed it, and it must not put words in the owner's mail.
		var b strings.Builder
		b.WriteString(limit(p.Text, 8000))
		if known {
			m.token, m.purpose, m.ref, m.ttl = randomToken(32), purposeNotMe, p.ID, notMeTTL
			m.Link = base + "/not-me/" + m.token
			fmt.Fprintf(&b, "\n\n-----\n\n身に覚えがない場合は、次のリンクを開いてください。保留中のご注文を止め、すべてのログインを終了し、パスワードの再設定をお願いします (有効期限: %s)。\n"+
				"If this wasn't you, open this link: we will freeze your pending orders, sign out every session and ask for a new password (valid until %s).\n\n%s\n",
				now.Add(notMeTTL).In(jst).Format("2006-01-02 15:04 MST"), now.Add(notMeTTL).In(jst).Format("2 Jan 2006 15:04 MST"), m.Link)
		}
		m.Body = b.String()
		out = append(out, m)
	}
	return out, nil
}
