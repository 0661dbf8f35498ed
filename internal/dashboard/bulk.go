package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/store"
)

// Bulk actions on the incident page: the operator picks accounts the
// incident reached and an action; the shop is told by signed webhook (the
// notify.Kind* action kinds), one notification per account, written to the
// store's outbox in one batch and delivered by the notify dispatcher.

// bulkAction is an action the incident page offers.
type bulkAction struct {
	Value  string // the form value: the kind without "action."
	Kind   string
	JA, EN string
}

var bulkActions = []bulkAction{
	{"force_password_reset", notify.KindForcePasswordReset, "パスワードの強制リセット", "force password reset"},
	{"notify_owner", notify.KindNotifyOwner, "所有者に通知", "notify owners"},
	{"freeze_orders", notify.KindFreezeOrders, "注文の凍結", "freeze orders"},
}

func findBulkAction(value string) (bulkAction, bool) {
	for _, a := range bulkActions {
		if a.Value == value {
			return a, true
		}
	}
	return bulkAction{}, false
}

// Scopes: which accounts a bulk action covers. Every scope but
// scopeSelected covers every known account of the incident that matches,
// also those the page does not list.
const (
	scopeSelected = "selected" // the ticked accounts
	scopeAtRisk   = "at_risk"  // allowed or challenge passed: the attacker got in
	scopeAllKnown = "all"      // every account that exists
)

// batchPattern is a bulk action form's request id: random, made with the
// page, so that the same form posted twice enqueues once.
var batchPattern = regexp.MustCompile(`^[A-Za-z0-9_-]{16,64}$`)

// bulkRow is an action shown on the page and whether it can be used.
type bulkRow struct {
	bulkAction
	Enabled bool // a webhook takes its kind
}

// bulkRows returns the actions the page shows.
func (s *Server) bulkRows() []bulkRow {
	var out []bulkRow
	for _, a := range bulkActions {
		out = append(out, bulkRow{a, s.planner.TakesKind(a.Kind)})
	}
	return out
}

// bulkDone is the confirmation shown after a bulk action.
type bulkDone struct {
	Action   bulkAction
	Accounts int
}

// doneOf reads the confirmation from the incident page's query.
func doneOf(q url.Values) *bulkDone {
	a, ok := findBulkAction(q.Get("done"))
	if !ok {
		return nil
	}
	n, err := strconv.Atoi(q.Get("n"))
	if err != nil || n <= 0 {
		return nil
	}
	return &bulkDone{Action: a, Accounts: n}
}

func badBulk(msg string) error { return &httpError{status: http.StatusBadRequest, msg: msg} }

// bulkAct carries out a bulk action: POST /ui/incidents/{id}/actions with
// action, scope, the ticked account values and batch. Nothing is sent
// unless every account named is a known account of the incident.
func (s *Server) bulkAct(w http.ResponseWriter, r *http.Request) error {
	act, ok := findBulkAction(r.PostForm.Get("action"))
	if !ok {
		return badBulk("unknown action: choose force password reset, notify owners or freeze orders / 操作が不正です")
	}
	if !s.planner.TakesKind(act.Kind) {
		return &httpError{status: http.StatusConflict, msg: fmt.Sprintf(
			"no webhook takes %s: add it (or action.*) to the kinds of a webhook in notify.webhooks / この操作の送信先 (webhook) が設定されていません", act.Kind)}
	}
	inc, err := s.incident(r)
	if err != nil {
		return err
	}
	accts, err := s.records.ListIncidentAccounts(r.Context(), inc.ID)
	if err != nil {
		return fmt.Errorf("listing incident accounts: %w", err)
	}
	known := make(map[string]store.IncidentAccount, len(accts))
	for _, a := range accts {
		if a.Known {
			known[a.Account] = a
		}
	}
	var targets []store.IncidentAccount
	switch scope := r.PostForm.Get("scope"); scope {
	case "", scopeSelected:
		names := r.PostForm["account"]
		if len(names) > maxAccountRows {
			return badBulk(fmt.Sprintf("at most %d accounts at once / 一度に選べるのは %d 件までです", maxAccountRows, maxAccountRows))
		}
		seen := map[string]bool{}
		for _, name := range names {
			a, ok := known[name]
			if !ok {
				return badBulk(fmt.Sprintf("account %q is not a known account of incident %s; nothing was sent / アカウント %q はこのインシデントの対象ではありません。何も送信していません",
					clip(name), inc.ID, clip(name)))
			}
			if !seen[name] {
				seen[name] = true
				targets = append(targets, a)
			}
		}
	case scopeAtRisk, scopeAllKnown:
		for _, a := range accts {
			if a.Known && (scope == scopeAllKnown || compromised(a.Outcome)) {
				targets = append(targets, a)
			}
		}
	default:
		return badBulk("unknown scope / 対象の指定が不正です")
	}
	if len(targets) == 0 {
		return badBulk("no accounts selected: tick at least one account / アカウントが選択されていません")
	}
	batch := r.PostForm.Get("batch")
	if !batchPattern.MatchString(batch) {
		batch = randomToken()
	}
	op := sessionOf(r).operator
	a := notify.Action{Kind: act.Kind, Operator: op, Incident: inc.ID, Batch: batch, Accounts: len(targets), At: s.clock.Now().UTC()}
	now := s.clock.Wall().UTC()
	var b store.Batch
	for _, t := range targets {
		h, err := s.contacts(r.Context(), t.Account)
		if err != nil {
			return err
		}
		b.Notifications = append(b.Notifications, s.planner.OperatorAction(a,
			notify.ActionTarget{Owner: notify.Owner{Account: t.Account, Contacts: h}, Outcome: t.Outcome}, now)...)
	}
	if err := s.records.Write(r.Context(), b); err != nil {
		return fmt.Errorf("enqueueing %s: %w", act.Kind, err)
	}
	if t, ok := s.eng.(Teller); ok && act.Kind == notify.KindForcePasswordReset {
		ids := make([]string, len(targets))
		for i, a := range targets {
			ids[i] = a.Account
		}
		t.SessionsRevoked(ids) // the federation hears of it at the engine's next tick
	}
	s.log.Info("bulk action from the dashboard", "action", act.Kind, "incident", inc.ID, "accounts", len(targets),
		"notifications", len(b.Notifications), "batch", batch, "operator", op)
	http.Redirect(w, r, fmt.Sprintf("/ui/incidents/%s?done=%s&n=%d#bulk", url.PathEscape(inc.ID), act.Value, len(targets)), http.StatusSeeOther)
	return nil
}

// contacts returns the account's contact history; none is known when the
// engine had no notifications configured.
func (s *Server) contacts(ctx context.Context, account string) (notify.ContactHistory, error) {
	var h notify.ContactHistory
	c, err := s.records.GetContacts(ctx, account)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return h, nil
	case err != nil:
		return h, fmt.Errorf("loading contact history: %w", err)
	}
	h.Email = c.Email
	for _, ch := range c.Changes {
		h.Changes = append(h.Changes, notify.ContactChange{From: ch.From, At: ch.At})
	}
	return h, nil
}

// clip shortens what a form sent before it goes into a message.
func clip(s string) string {
	s = strings.ToValidUTF8(s, "")
	if r := []rune(s); len(r) > 80 {
		return string(r[:80]) + "…"
	}
	return s
}

// sentAction is one bulk action request as the outbox holds it: its
// notifications and how far their delivery got.
type sentAction struct {
	Batch                 string
	Action                bulkAction
	Operator              string
	At                    time.Time // when the operator asked
	Accounts              int
	Sent, Pending, Failed int
}

// historyScan is how many of the outbox's newest notifications the
// incident page looks through for its bulk actions.
const historyScan = 2000

// sentActions returns the bulk actions of incident id among the outbox's
// newest notifications, newest first.
func (s *Server) sentActions(ctx context.Context, id string) ([]sentAction, error) {
	ns, err := s.records.ListNotifications(ctx, store.NotificationQuery{Limit: historyScan})
	if err != nil {
		return nil, fmt.Errorf("listing notifications: %w", err)
	}
	var out []sentAction
	index := map[string]int{}
	for _, n := range ns {
		if !strings.HasPrefix(n.Kind, "action.") {
			continue
		}
		var p struct {
			Data struct {
				Action, Operator, Incident, Batch string
				Accounts                          int
				At                                time.Time
			} `json:"data"`
		}
		if json.Unmarshal(n.Payload, &p) != nil || p.Data.Incident != id {
			continue
		}
		d := p.Data
		key := d.Batch + "\x00" + n.Kind
		i, ok := index[key]
		if !ok {
			act, _ := findBulkAction(d.Action)
			out = append(out, sentAction{Batch: d.Batch, Action: act, Operator: d.Operator, At: d.At, Accounts: d.Accounts})
			i = len(out) - 1
			index[key] = i
		}
		switch n.State {
		case store.NotificationSent:
			out[i].Sent++
		case store.NotificationFailed:
			out[i].Failed++
		default:
			out[i].Pending++
		}
	}
	return out, nil
}
