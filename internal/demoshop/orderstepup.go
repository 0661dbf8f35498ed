package demoshop

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/atoguard/atoguard/client"
)

// maxPendingOrders bounds the orders waiting for a step-up; the oldest
// is forgotten first (it stays "needs step-up" in the history).
const maxPendingOrders = 10000

// pendingOrder is an order the guard challenged, waiting for its step-up.
type pendingOrder struct {
	OrderID   string
	AccountID string
	Session   string // public id of the session that placed it
	Challenge string
	Methods   []string
	Expires   time.Time
	Order     Order
}

// orderSteps keeps the orders waiting for a step-up, in memory: a restart
// forgets them, and the customer orders again.
type orderSteps struct {
	mu      sync.Mutex
	pending map[string]pendingOrder // by order id
	order   []string                // ids, oldest first
}

func (o *orderSteps) put(p pendingOrder) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pending == nil {
		o.pending = map[string]pendingOrder{}
	}
	for len(o.order) >= maxPendingOrders {
		delete(o.pending, o.order[0])
		o.order = o.order[1:]
	}
	o.pending[p.OrderID] = p
	o.order = append(o.order, p.OrderID)
}

func (o *orderSteps) get(id string) (pendingOrder, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	p, ok := o.pending[id]
	return p, ok
}

func (o *orderSteps) drop(id string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.pending, id)
}

// pendingOrder returns the order id waiting for a step-up in the
// visitor's session.
func (s *Shop) pendingOrder(v *visit, id string) (pendingOrder, bool) {
	p, ok := s.orderSteps.get(id)
	if !ok || p.AccountID != v.account.ID || p.Session != v.sess.PublicID || !p.Expires.After(s.now()) {
		return pendingOrder{}, false
	}
	return p, true
}

// challengeOrder starts the step-up of an order the guard challenged and
// reports whether it did: only a StepUp that can verify, and a challenge
// with methods the customer can answer, make it worth asking.
func (s *Shop) challengeOrder(w http.ResponseWriter, r *http.Request, v *visit, o Order, res client.Result) bool {
	if _, none := s.stepUp.(NoStepUp); none || res.Challenge == nil || len(res.Challenge.Methods) == 0 {
		return false
	}
	exp := res.Challenge.ExpiresAt
	if exp.IsZero() {
		exp = s.now().Add(s.opts.StepUpTTL)
	}
	o.Status, o.Decision = StatusNeedsStep, res.Decision
	if err := s.store.createOrder(r.Context(), o); err != nil {
		s.fail(w, r, err)
		return true
	}
	s.orderSteps.put(pendingOrder{OrderID: o.ID, AccountID: v.account.ID, Session: v.sess.PublicID,
		Challenge: res.Challenge.ID, Methods: res.Challenge.Methods, Expires: exp, Order: o})
	http.Redirect(w, r, "/stepup/order?id="+urlEscape(o.ID), http.StatusSeeOther)
	return true
}

func (s *Shop) orderStepUpRoutes(m *http.ServeMux) {
	m.HandleFunc("GET /stepup/order", s.orderStepUpPage)
	m.HandleFunc("POST /stepup/order/verify", s.orderStepUpVerify)
	m.HandleFunc("POST /stepup/send", s.stepUpSend)
}

func (s *Shop) renderOrderStepUp(w http.ResponseWriter, r *http.Request, p pendingOrder, msg string) {
	_, passkey := s.stepUp.(passkeyOptions)
	s.render(w, r, http.StatusOK, "stepup.html", stepUpData{
		Status: pageStepUp, Methods: p.Methods, ExpiresAt: p.Expires.In(jst).Format("15:04 MST"),
		Available: true, Passkey: passkey, Error: msg, OrderID: p.OrderID,
	})
}

func (s *Shop) orderStepUpPage(w http.ResponseWriter, r *http.Request) {
	v, ok := s.requireLogin(w, r)
	if !ok {
		return
	}
	p, ok := s.pendingOrder(v, r.URL.Query().Get("id"))
	if !ok {
		http.Redirect(w, r, "/orders", http.StatusSeeOther)
		return
	}
	s.renderOrderStepUp(w, r, p, "")
}

func (s *Shop) orderStepUpVerify(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, ok := s.requireLogin(w, r)
	if !ok {
		return
	}
	p, ok := s.pendingOrder(v, r.PostFormValue("order_id"))
	if !ok {
		http.Redirect(w, r, "/orders", http.StatusSeeOther)
		return
	}
	method, code := stepUpAnswer(r)
	passed, err := s.stepUp.Verify(ctx, p.Challenge, method, code)
	switch {
	case errors.Is(err, ErrChallengeClosed):
		s.orderSteps.drop(p.OrderID)
		s.finishOrder(w, r, p.Order, StatusRefused, "確認を完了できなかったため、ご注文は確定していません。", "The second factor was not confirmed in time: the order was not placed.")
		return
	case err != nil:
		s.fail(w, r, err)
		return
	case !passed:
		s.renderOrderStepUp(w, r, p, "確認できませんでした / That did not match.")
		return
	}
	s.orderSteps.drop(p.OrderID)
	s.finishOrder(w, r, p.Order, StatusAccepted, "ご注文ありがとうございます。", "Thank you for your order.")
}

// finishOrder settles an order that waited for a step-up.
func (s *Shop) finishOrder(w http.ResponseWriter, r *http.Request, o Order, status, ja, en string) {
	if err := s.store.setOrderStatus(r.Context(), o.ID, status); err != nil {
		s.fail(w, r, err)
		return
	}
	if status == StatusAccepted {
		if err := s.store.clearCart(r.Context(), o.AccountID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	o.Status = status
	s.render(w, r, http.StatusOK, "order.html", orderResult{Status: status, Order: o, JA: ja, EN: en})
}

func (s *Store) setOrderStatus(ctx context.Context, id, status string) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE orders SET status = ? WHERE id = ?`, status, id); err != nil {
		return fmt.Errorf("updating order: %w", err)
	}
	return nil
}

// stepUpAnswer reads the method and answer of a step-up form: a code, or
// for a passkey the assertion /static/passkey.js (internal/passkeyjs) put in the form.
func stepUpAnswer(r *http.Request) (method, code string) {
	method = limit(r.PostFormValue("method"), 32)
	if method == client.MethodWebAuthn {
		return method, limit(r.PostFormValue("assertion"), 32<<10)
	}
	return method, limit(r.PostFormValue("code"), 64)
}

// codeSender is a StepUp that can send an emailed one-time code.
type codeSender interface {
	SendCode(ctx context.Context, challengeID, method string) (client.CodeSent, error)
}

var _ codeSender = GuardStepUp{}

// stepUpSend asks the guard to email a one-time code for the pending
// login's (or order's) challenge, then shows the step-up page again.
func (s *Shop) stepUpSend(w http.ResponseWriter, r *http.Request) {
	v := visitOf(r)
	challenge := s.pendingChallenge(r, v)
	cs, ok := s.stepUp.(codeSender)
	if challenge == "" || !ok {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	msg := "コードをメールで送りました / A code was sent to your email address."
	if sent, err := cs.SendCode(r.Context(), challenge, client.MethodEmailOTP); err == nil && sent.To != "" {
		msg = "コードを " + sent.To + " に送りました / A code was sent to " + sent.To + "."
	} else if err != nil {
		s.log.Warn("sending an email code", "err", err)
		msg = "コードを送れませんでした。しばらくしてからお試しください / The code could not be sent; wait a little and try again."
	}
	if v.pending {
		s.renderStepUp(w, r, v, msg)
		return
	}
	p, _ := s.pendingOrder(v, r.PostFormValue("order_id"))
	s.renderOrderStepUp(w, r, p, msg)
}
