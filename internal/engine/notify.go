package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/signal/familiarity"
	"github.com/atoguard/atoguard/internal/store"
)

// UseNotifications makes the engine enqueue owner and operator
// notifications (package notify) in the same durable write as each
// decision. Call it before the first event; nil turns them off.
func (e *Engine) UseNotifications(p *notify.Planner) { e.notes = p }

// contactsKey is where an account's contact history is kept: a profile
// record under a key no user id can take (user ids are valid UTF-8
// without NUL).
func contactsKey(userID string) string { return "contacts\x00" + userID }

// loadContacts returns the account's contact history: as an earlier event
// of the same batch left it (not yet written), else as stored.
func (e *Engine) loadContacts(ctx context.Context, userID string, b *store.Batch) (notify.ContactHistory, error) {
	var h notify.ContactHistory
	key := contactsKey(userID)
	for i := len(b.Profiles) - 1; i >= 0; i-- {
		if b.Profiles[i].Account == key {
			if err := json.Unmarshal(b.Profiles[i].Data, &h); err != nil {
				return h, fmt.Errorf("decoding contact history of %q: %w", userID, err)
			}
			return h, nil
		}
	}
	rec, err := e.records.GetProfile(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return h, nil
	case err != nil:
		return h, fmt.Errorf("loading contact history: %w", err)
	}
	if err := json.Unmarshal(rec.Data, &h); err != nil {
		return h, fmt.Errorf("decoding contact history of %q: %w", userID, err)
	}
	return h, nil
}

// notifyOwner tracks the account's email addresses and enqueues what the
// owner is owed: a new device or network login, a contact change, every
// order — on the addresses on file before any recent change, so an
// attacker who changes the email cannot silence it.
func (e *Engine) notifyOwner(ctx context.Context, ev *event.Event, now, received time.Time, in *policy.Input, res Result, b *store.Batch) error {
	uid := ev.User.ID
	if e.notes == nil || uid == "" {
		return nil
	}
	unfamiliarLogin := ev.Type == event.LoginSucceeded && in.Account.HasHistory && (!in.Account.DeviceKnown || !in.Account.NetworkKnown)
	if ev.User.Email == "" && ev.Type != event.ProfileUpdated && ev.Type != event.OrderAttempt && !unfamiliarLogin {
		return nil
	}
	h, err := e.loadContacts(ctx, uid, b)
	if err != nil {
		return err
	}
	oldEmail := h.Email
	changed := ev.User.Email != "" && h.Observe(ev.User.Email, now)
	if h.Email != oldEmail { // the first address seen, or a change
		data, err := json.Marshal(h)
		if err != nil {
			return fmt.Errorf("encoding contact history: %w", err)
		}
		b.Profiles = append(b.Profiles, store.Profile{Account: contactsKey(uid), Data: data, UpdatedAt: now})
	}
	owner := notify.Owner{Account: uid, Contacts: h}
	agent := familiarity.AgentFamily(ev.Context.UserAgent)
	ip := ""
	if ev.Context.IP.IsValid() {
		ip = ev.Context.IP.String()
	}
	// An event can owe several notices (an order that first carries a new
	// address owes the contact change and the order).
	var ns []store.Notification
	if ev.Type == event.ProfileUpdated || (changed && oldEmail != "") {
		cu := notify.ContactUpdate{Ref: res.EventID, At: now, Fields: ev.Properties.Fields, IP: ip, Agent: agent}
		if changed && oldEmail != "" {
			cu.OldEmail, cu.NewEmail = oldEmail, ev.User.Email
			if len(cu.Fields) == 0 {
				cu.Fields = []string{"email"}
			}
		}
		ns = append(ns, e.notes.ContactChanged(owner, cu, received)...)
	}
	if unfamiliarLogin {
		ns = append(ns, e.notes.NewDeviceLogin(owner, notify.Login{
			Ref: res.EventID, At: now, Decision: string(res.Decision), NewDevice: !in.Account.DeviceKnown,
			NewNetwork: !in.Account.NetworkKnown, IP: ip, Country: in.Geo.Country, Agent: agent,
		}, received)...)
	}
	if ev.Type == event.OrderAttempt && ev.Properties.Order != nil {
		ns = append(ns, e.notes.OrderPlaced(owner, notify.Order{Ref: res.EventID, At: now, Decision: string(res.Decision), Order: *ev.Properties.Order}, received)...)
	}
	b.Notifications = append(b.Notifications, ns...)
	return nil
}
