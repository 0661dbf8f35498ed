package engine

import (
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/signal/campaign"
	"github.com/atoguard/atoguard/internal/signal/window"
)

// deniedAtDoor reports a login.attempt the policy denied: the shop never
// checks its password, so no login.failed follows it.
func deniedAtDoor(ev *event.Event, d policy.Decision) bool {
	return ev.Type == event.LoginAttempt && d == policy.Deny
}

// countAtDoor counts a login denied at the door as a failed login at its
// sources and in the campaign detector, as the login.failed it replaces
// would have been, so that a burst stopped at the door still opens an
// incident (and joins the open one) and its next tries meet the source
// rules. An attempt the policy let through is not counted: its outcome
// (login.succeeded or login.failed) will be.
func (e *Engine) countAtDoor(ev *event.Event, obs *observation) {
	unknown := ev.Properties.Reason == event.ReasonUnknownAccount
	e.sources.Observe(obs.keys, obs.now, window.Obs{Failed: true, Unknown: unknown, Login: loginHash(ev.Login)})
	camp := e.campaign.Observe(obs.now, campaign.Obs{Failed: true, Unknown: unknown})
	e.campaignTransition(camp, &obs.trans)
	if camp.Active && obs.in.Campaign.IncidentID == "" {
		obs.in.Campaign.IncidentID = e.tracker.OpenID()
	}
}
