package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/atoguard/atoguard/internal/breach"
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/incident"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/signal/source"
	"github.com/atoguard/atoguard/internal/signal/spray"
	"github.com/atoguard/atoguard/internal/store"
)

// Breached tells how often a password digest was seen in breaches
// (package breach). The error is a technical failure, never "not found".
type Breached interface {
	Count(sha1 [20]byte) (n int64, ok bool, err error)
}

// ActionRequirePasswordChange asks the shop to make the user change the
// password before the session continues: the login used a breached one.
const ActionRequirePasswordChange = "require_password_change"

// credentials are the signals about the event's password: the breach
// corpus, and the spray detector with the password_spraying incident it
// opens (a tracker of its own, so it runs beside a credential-stuffing
// incident).
type credentials struct {
	breached Breached // default breach.Builtin(); nil: no breach check
	spray    *spray.Detector
	tracker  *incident.Tracker

	mu       sync.Mutex
	lastSave time.Time // event time the open incident was last written
}

func newCredentials(cfg Config, secret []byte) *credentials {
	sc := cfg.Spray
	if len(sc.Key) == 0 {
		sc.Key = spray.DeriveKey(secret)
	}
	d, err := spray.New(sc)
	if err != nil {
		// Only keys shorter than spray.MinKeyBytes; serve checks them.
		panic(fmt.Sprintf("engine: %v", err))
	}
	return &credentials{breached: breach.Builtin(), spray: d, tracker: incident.New(cfg.Incidents)}
}

// UseBreached makes the engine check the passwords of logins,
// registrations and password changes against b instead of the built-in
// list of common passwords (breach.Builtin); nil turns the check off. Call
// it before the first event.
func (e *Engine) UseBreached(b Breached) { e.creds.breached = b }

// credentialFacts fills in.Credential: the breach count of the event's
// password (login.succeeded, registration, password.changed) and how many
// accounts it failed on site-wide (logins). It opens or closes the
// password_spraying incident as the spray detector says.
func (e *Engine) credentialFacts(ev *event.Event, now time.Time, in *policy.Input, b *store.Batch) (spray.Result, error) {
	c := e.creds
	var r spray.Result
	if !ev.Credential.HasPassword {
		r.State = c.spray.Tick(now)
		e.sprayTransition(r.State, b)
		return r, nil
	}
	f := &in.Credential
	f.Present = true
	switch ev.Type {
	case event.LoginSucceeded, event.Registration, event.PasswordChanged:
		if c.breached != nil {
			n, ok, err := c.breached.Count(ev.Credential.PasswordSHA1)
			if err != nil {
				return r, fmt.Errorf("checking breached passwords: %w", err)
			}
			f.Breached, f.BreachCount = ok, int(n)
		}
	}
	if ev.Type.IsLogin() {
		acct := ev.Login
		if acct == "" {
			acct = ev.User.ID
		}
		r = c.spray.Observe(now, spray.Obs{SHA1: ev.Credential.PasswordSHA1, Account: loginHash(acct), Failed: ev.Type == event.LoginFailed})
		f.SprayAccounts, f.Sprayed = r.Accounts, r.Hot
	} else {
		r.State = c.spray.Tick(now)
	}
	f.SprayActive = r.State.Active
	e.sprayTransition(r.State, b)
	return r, nil
}

// credentialOutcome adds the actions the decision asks of the shop, and
// attributes logins from unfamiliar contexts to the open password_spraying
// incident: those with a password being sprayed, and correct breached
// passwords while the spraying goes on (a spray reaches its first accounts
// before its password counts as sprayed).
func (e *Engine) credentialOutcome(ev *event.Event, r spray.Result, cf policy.CredentialFacts, keys source.Keys, unfamiliar bool, now time.Time, res *Result, b *store.Batch) {
	if ev.Type == event.LoginSucceeded && res.Decision != policy.Deny { // a denied login has no session to hold
		for _, rs := range res.Reasons {
			if rs.Code == "credential.breached" {
				res.Actions = append(res.Actions, ActionRequirePasswordChange)
				break
			}
		}
	}
	c := e.creds
	succeeded := ev.Type == event.LoginSucceeded
	if !(r.Hot || succeeded && cf.SprayActive && cf.Breached) || !unfamiliar || !(succeeded || ev.Type == event.LoginFailed) {
		return
	}
	id := c.tracker.OpenID()
	if id == "" {
		return
	}
	if res.IncidentID == "" {
		res.IncidentID = id
	}
	hit := incident.Hit{
		Account: ev.Account(), Known: ev.User.ID != "", Succeeded: succeeded,
		IP: keys.IP, Prefix: keys.Prefix, UserAgent: ev.Context.UserAgent, Outcome: outcome(ev.Type, res.Decision),
	}
	if a, ok := c.tracker.Record(hit, now); ok {
		b.IncidentAccounts = append(b.IncidentAccounts, a)
	}
	c.mu.Lock()
	due := now.Sub(c.lastSave) >= time.Second
	if due {
		c.lastSave = now
	}
	c.mu.Unlock()
	if due {
		if inc, ok := c.tracker.Snapshot(); ok {
			b.Incidents = append(b.Incidents, inc)
		}
	}
}

// sprayTransition opens or closes the password_spraying incident as the
// spray detector's episode changes.
func (e *Engine) sprayTransition(st spray.State, b *store.Batch) {
	c := e.creds
	switch {
	case st.Opened:
		inc := c.tracker.Open(spray.IncidentKind, st.Since)
		first := e.claimIncident(c.tracker, &inc)
		b.Incidents = append(b.Incidents, inc)
		if first {
			b.Notifications = append(b.Notifications, e.notes.IncidentOpened(inc, e.wall())...)
		}
		c.mu.Lock()
		c.lastSave = st.Since
		c.mu.Unlock()
	case st.Closed:
		if inc, ok := c.tracker.Close(st.Until); ok {
			b.Incidents = append(b.Incidents, inc)
			if e.releaseIncident(inc) {
				b.Notifications = append(b.Notifications, e.notes.IncidentClosed(inc, e.wall())...)
			}
		}
	}
}

const (
	stateSpray         = "spray"
	stateSprayIncident = "incident.password_spraying"
)

// saveCredentials persists the spray detector's counts and the state of
// the open password_spraying incident (Flush writes its counters).
func (e *Engine) saveCredentials(ctx context.Context) error {
	c := e.creds
	snap, err := c.spray.Snapshot(e.clock.Now())
	if err != nil {
		return fmt.Errorf("saving spray counts: %w", err)
	}
	if err := e.records.PutState(ctx, stateSpray, snap); err != nil {
		return fmt.Errorf("saving spray counts: %w", err)
	}
	inc, err := c.tracker.Save()
	if err != nil {
		return err
	}
	if err := e.records.PutState(ctx, stateSprayIncident, inc); err != nil {
		return fmt.Errorf("saving spraying incident: %w", err)
	}
	return nil
}

// restoreCredentials loads what saveCredentials persisted. Counts saved
// under a key that is neither the spray key nor the previous one are
// dropped.
func (e *Engine) restoreCredentials(ctx context.Context) error {
	c := e.creds
	snap, err := e.records.GetState(ctx, stateSpray)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("loading spray counts: %w", err)
	case len(snap) > 0:
		if err := c.spray.Restore(snap, e.clock.Now()); err != nil && !errors.Is(err, spray.ErrOtherKey) {
			return err
		}
	}
	data, err := e.records.GetState(ctx, stateSprayIncident)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fmt.Errorf("loading spraying incident: %w", err)
	case len(data) > 0:
		if err := c.tracker.Restore(data, func(id string) ([]store.IncidentAccount, error) {
			return e.records.ListIncidentAccounts(ctx, id)
		}); err != nil {
			return err
		}
	}
	// The detector's episode follows the incident: open if it is open.
	if inc, ok := c.tracker.Snapshot(); ok {
		c.spray.SetEpisode(true, inc.StartedAt, inc.UpdatedAt)
	} else {
		c.spray.SetEpisode(false, time.Time{}, time.Time{})
	}
	return nil
}
