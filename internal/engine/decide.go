package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/atoguard/atoguard/internal/challenge"
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/ids"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/store"
)

// ActionRequirePasswordChange asks the shop to make the user change the
// password before the session continues: the login used a breached one,
// or one a peer saw on a combo list or taken over.
const ActionRequirePasswordChange = "require_password_change"

// decide applies the policy to what observe found and makes what the
// decision asks for: the event's id, a review for a held order, a
// challenge offering the methods the user can answer, and the actions the
// shop is asked to take. received is when the request arrived (ids sort
// by it).
func (e *Engine) decide(ctx context.Context, ev *event.Event, obs *observation, received time.Time) (Result, error) {
	in := obs.in // the policy keeps a pointer: let only the input escape, not obs
	pr, err := e.policy.Evaluate(&in)
	if err != nil {
		return Result{}, fmt.Errorf("evaluating policy: %w", err)
	}
	res := Result{
		EventID: ids.New("ev", received), Decision: pr.Decision, Risk: pr.Risk,
		Reasons: pr.Reasons, Rules: pr.Rules, facts: obs.facts,
	}
	if res.Reasons == nil {
		res.Reasons = []policy.Reason{}
	}
	if res.Decision == policy.Review && ev.Type == event.OrderAttempt && ev.Properties.Order != nil {
		res.ReviewID = ids.New("rv", received)
	}
	if res.Decision == policy.Challenge && ev.User.ID != "" {
		methods, err := e.methods(ctx, ev.User.ID)
		if err != nil {
			return Result{}, err
		}
		ch := challenge.New(challenge.Request{
			UserID: ev.User.ID, SessionID: ev.SessionID, Purpose: string(ev.Type), Methods: methods,
			EventID: res.EventID, IncidentID: obs.in.Campaign.IncidentID,
			IP: ev.Context.IP, DeviceID: ev.Context.DeviceID, UserAgent: ev.Context.UserAgent, Received: received,
		}, e.challenges, obs.now)
		res.Challenge = &ch
	}
	res.Actions = actions(ev, res)
	return res, nil
}

// methods returns the configured step-up methods userID can answer.
func (e *Engine) methods(ctx context.Context, userID string) ([]string, error) {
	methods := e.challenges.Methods
	if e.factors == nil {
		return methods, nil
	}
	enrolled, err := e.factors.Methods(ctx, userID, methods)
	switch {
	case err == nil:
		return enrolled, nil
	case e.outage == nil:
		return nil, fmt.Errorf("listing step-up methods: %w", err)
	}
	// Shared records out of reach: offer what is configured; the answer
	// is checked against the factors once they can be read.
	return methods, nil
}

// actions are what the decision asks of the shop besides itself: a login
// that used a breached password, or one a peer saw on a combo list or
// taken over, must change it (a denied login has no session to hold).
func actions(ev *event.Event, res Result) []string {
	if ev.Type != event.LoginSucceeded || res.Decision == policy.Deny {
		return nil
	}
	for _, rs := range res.Reasons {
		switch rs.Code {
		case "credential.breached", "peer.credential_compromised", "peer.combo_listed":
			return []string{ActionRequirePasswordChange}
		}
	}
	return nil
}

// outcome is what an attempt attributed to an incident came to.
func outcome(t event.Type, d policy.Decision) string {
	switch {
	case d == policy.Deny:
		return store.OutcomeDenied
	case t == event.LoginFailed:
		return "failed"
	case d == policy.Challenge || d == policy.Review:
		return store.OutcomeChallenged
	}
	return store.OutcomeAllowed
}
