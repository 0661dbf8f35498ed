package demoshop

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/webhook"
)

// The guard operators' bulk actions (the dashboard's incident page),
// received by the same signed webhook as owner notifications, one
// notification per account:
//
//   - action.force_password_reset: every session of the account ends, its
//     next login needs a new password, and a reset link is mailed to the
//     address on file before any recent change (the first the guard
//     names);
//   - action.notify_owner: the guard's notice is mailed to every address
//     it names, the one before a recent change first, with a "this
//     wasn't me" link;
//   - action.freeze_orders: the account's orders that have not shipped
//     (accepted or held) are frozen: the order history shows them so.
//
// Each is done once per notification id, in one transaction with the
// record of who asked (guard_actions).

const actionSchema = `
CREATE TABLE IF NOT EXISTS guard_actions (
  notification_id TEXT PRIMARY KEY,
  kind TEXT NOT NULL,
  account_id TEXT NOT NULL,
  operator TEXT NOT NULL DEFAULT '',
  incident TEXT NOT NULL DEFAULT '',
  effect TEXT NOT NULL DEFAULT '',
  received_at INTEGER NOT NULL
);
`

// GuardAction is an operator action the shop carried out.
type GuardAction struct {
	NotificationID string
	Kind           string // e.g. action.freeze_orders
	AccountID      string
	Operator       string // the guard operator who asked
	Incident       string
	Effect         string // what was done, e.g. "2 orders frozen"
	ReceivedAt     time.Time
}

// GuardActions returns the latest operator actions carried out on the
// account, newest first; every account's when accountID is empty.
func (s *Store) GuardActions(ctx context.Context, accountID string, n int) ([]GuardAction, error) {
	q := `SELECT notification_id, kind, account_id, operator, incident, effect, received_at FROM guard_actions`
	var args []any
	if accountID != "" {
		q += ` WHERE account_id = ?`
		args = append(args, accountID)
	}
	q += ` ORDER BY received_at DESC, notification_id DESC LIMIT ?`
	args = append(args, n)
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("reading guard actions: %w", err)
	}
	defer rows.Close()
	var out []GuardAction
	for rows.Next() {
		var a GuardAction
		var at int64
		if err := rows.Scan(&a.NotificationID, &a.Kind, &a.AccountID, &a.Operator, &a.Incident, &a.Effect, &at); err != nil {
			return nil, fmt.Errorf("reading guard actions: %w", err)
		}
		a.ReceivedAt = fromMS(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// receiveAction carries out an operator action for p.Account, once per
// notification id. An action on an account the shop does not have, or of
// a kind it does not know, is acknowledged and recorded without effect.
func (s *Shop) receiveAction(w http.ResponseWriter, r *http.Request, p webhook.Payload, now time.Time) {
	ctx := r.Context()
	if p.Account == "" {
		hookError(w, http.StatusBadRequest, "an action needs an account")
		return
	}
	var d webhook.ActionData
	_ = json.Unmarshal(p.Data, &d) // best effort: who asked is for the record
	acct, err := s.store.AccountByID(ctx, p.Account)
	known := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.log.Error("webhook: reading account", "id", p.ID, "err", err)
		hookError(w, http.StatusInternalServerError, "try again")
		return
	}
	// Where the owner is reached: the address before a recent change,
	// which the guard names first; else the one on file.
	email := ""
	for _, a := range p.To {
		if a = limit(strings.TrimSpace(a), 254); a != "" {
			email = a
			break
		}
	}
	if email == "" {
		email = acct.Email
	}
	var effect func(execer) error
	var mails []outMail
	var done string
	switch {
	case !known:
		done = "no such account"
	case p.Kind == webhook.KindForcePasswordReset:
		m, _ := s.resetMail(r, acct.ID, email)
		m.Source = limit(p.Kind, 64)
		m.Note = "atoguard 運用者の依頼 / asked by an atoguard operator"
		mails = []outMail{m}
		effect = func(ex execer) error {
			if err := s.store.forceReset(ctx, ex, acct.ID, email, now); err != nil {
				return err
			}
			n, err := s.store.endSessions(ctx, ex, acct.ID)
			done = fmt.Sprintf("password reset required, %d sessions ended, reset link to %s", n, email)
			return err
		}
	case p.Kind == webhook.KindNotifyOwner:
		if mails, err = s.ownerMails(r, p, now); err != nil {
			s.log.Error("webhook: building mails", "id", p.ID, "err", err)
			hookError(w, http.StatusInternalServerError, "try again")
			return
		}
		done = fmt.Sprintf("%d mails", len(mails))
	case p.Kind == webhook.KindFreezeOrders:
		effect = func(ex execer) error {
			n, err := s.store.freezeOrders(ctx, ex, acct.ID)
			done = fmt.Sprintf("%d orders frozen", n)
			return err
		}
	default:
		done = "unknown action"
	}
	record := func(ex execer) error {
		if effect != nil {
			if err := effect(ex); err != nil {
				return err
			}
		}
		_, err := ex.ExecContext(ctx, `INSERT INTO guard_actions (notification_id, kind, account_id, operator, incident, effect, received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, p.ID, limit(p.Kind, 64), p.Account, limit(d.Operator, 120), limit(d.Incident, 120), done, ms(now))
		if err != nil {
			return fmt.Errorf("recording guard action: %w", err)
		}
		return nil
	}
	first, err := s.store.addGuardAction(ctx, p.ID, p.Kind, p.Account, now, record, mails)
	if err != nil {
		s.log.Error("webhook: carrying out action", "id", p.ID, "kind", p.Kind, "err", err)
		hookError(w, http.StatusInternalServerError, "try again")
		return
	}
	if first {
		s.log.Info("guard operator action", "kind", p.Kind, "account", p.Account, "operator", d.Operator, "incident", d.Incident, "effect", done)
	}
	w.WriteHeader(http.StatusNoContent)
}

var statusLabels = map[string]string{
	StatusAccepted:  "受付済み / Accepted",
	StatusHeld:      "確認のため保留中 / Held for review",
	StatusRefused:   "お受けできませんでした / Refused",
	StatusNeedsStep: "本人確認待ち / Waiting for verification",
	StatusFrozen:    "凍結中: 発送を停止しています / Frozen: not shipped until checked",
}

// statusLabel names an order status in the order history.
func statusLabel(status string) string {
	if l, ok := statusLabels[status]; ok {
		return l
	}
	return status
}

var actionLabels = map[string]string{
	webhook.KindForcePasswordReset: "パスワードの強制リセット / Force password reset",
	webhook.KindNotifyOwner:        "所有者に通知 / Notify owner",
	webhook.KindFreezeOrders:       "注文の凍結 / Freeze orders",
}

// actionLabel names an operator action kind.
func actionLabel(kind string) string {
	if l, ok := actionLabels[kind]; ok {
		return l
	}
	return kind
}
