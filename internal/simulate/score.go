package simulate

import (
	"time"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/traffic"
)

// Outcomes of an action as the simulator saw it: the guard's decision in
// fast mode, what the shop's page said in live mode.
const (
	outAllow     = client.Allow
	outChallenge = client.Challenge
	outDeny      = client.Deny
	outReview    = client.Review
	// outFailed is a login the shop answered with its failure page. For a
	// correct password that means the guard refused it.
	outFailed = "failed"
	// outSkipped is an owner action that could not happen (the login before
	// it was stopped).
	outSkipped = "skipped"
)

// Summary is the outcome of one run, guard off or on.
type Summary struct {
	Guard string `json:"guard"` // off or on
	// Events is the number of events the guard assessed (0 with the guard off).
	Events      int `json:"events_assessed"`
	GuardErrors int `json:"guard_errors"` // answers that were the shop client's fail mode

	AttackerAttempts       int `json:"attacker_login_attempts"`
	AttackerAttemptsDenied int `json:"attacker_login_attempts_denied"`
	// AttackerValid counts attacker logins with a correct (stolen or
	// sprayed) password: each one is an account taken over unless stopped.
	AttackerValid       int     `json:"attacker_valid_credentials"`
	TakeoversAllowed    int     `json:"takeovers_allowed"` // let in without a step-up
	TakeoversChallenged int     `json:"takeovers_challenged"`
	TakeoversDenied     int     `json:"takeovers_denied"`
	TakeoverAllowedRate float64 `json:"takeovers_allowed_rate"`
	// PerIPJailTakeovers is what a fail2ban-style jail (an IP with 5
	// failures in 10 minutes is blocked) would have let in, for scale.
	PerIPJailTakeovers int `json:"per_ip_jail_takeovers"`

	EmailChanges         int   `json:"attacker_email_changes"` // contact email changed by the attacker
	FraudOrdersAttempted int   `json:"fraud_orders_attempted"`
	FraudOrdersAccepted  int   `json:"fraud_orders_accepted"`
	FraudOrdersHeld      int   `json:"fraud_orders_held"`    // review
	FraudOrdersStopped   int   `json:"fraud_orders_stopped"` // challenge or deny
	FraudValueAccepted   int64 `json:"fraud_value_accepted_jpy"`

	OwnerLogins     int `json:"owner_logins"` // owners' correct-password logins in the evaluated span
	OwnerChallenged int `json:"owner_logins_challenged"`
	OwnerDenied     int `json:"owner_logins_denied"`
	// OwnerStepUpsPassed counts owners' challenged logins whose step-up
	// the owner passed (part of OwnerChallenged: friction all the same).
	OwnerStepUpsPassed int     `json:"owner_step_ups_passed"`
	OwnerFrictionRate  float64 `json:"owner_friction_rate"`
	OwnersStopped      int     `json:"owners_challenged_or_denied"` // distinct owners
	// Owners of accounts whose password the attack had already used: their
	// logins and how many of those were challenged or denied (part of the
	// counts above). Stepping these up is protection, not a false alarm.
	OwnerLoginsStolen   int `json:"owner_logins_of_stolen_accounts"`
	OwnerFrictionStolen int `json:"owner_friction_on_stolen_accounts"`
	OwnerNewDevice      int `json:"owner_new_device_logins"`
	// OwnerLockedOut counts owners' logins that failed because the
	// attacker had changed the account's email (live mode): the attack's
	// doing, not the guard's.
	OwnerLockedOut     int `json:"owner_logins_locked_out_by_attacker"`
	OwnerOrders        int `json:"owner_orders"`
	OwnerOrdersStopped int `json:"owner_orders_not_accepted"`

	AttackStart     time.Time  `json:"attack_start"`
	AttackEnd       time.Time  `json:"attack_end"`
	Incidents       int        `json:"incidents"`
	IncidentStart   *time.Time `json:"incident_start,omitempty"`
	IncidentEnd     *time.Time `json:"incident_end,omitempty"`
	IncidentAfter   string     `json:"time_to_incident,omitempty"`
	IncidentSeconds *float64   `json:"time_to_incident_seconds,omitempty"`
	IncidentReached int64      `json:"incident_accounts_targeted,omitempty"`
	IncidentCompr   int64      `json:"incident_accounts_compromised,omitempty"`
}

// Bucket is one step of the timeline.
type Bucket struct {
	Start          time.Time `json:"start"`
	Logins         int       `json:"logins"`          // login attempts, everyone
	Failures       int       `json:"failures"`        // failed logins
	Unknown        int       `json:"unknown_account"` // failed for accounts that do not exist
	AttackerLogins int       `json:"attacker_logins"`
	Allowed        int       `json:"allowed"` // correct-password logins let in
	Challenged     int       `json:"challenged"`
	Denied         int       `json:"denied"` // login attempts denied
	Takeovers      int       `json:"takeovers"`
}

// scorer turns observed outcomes into a Summary and a timeline.
type scorer struct {
	s        Summary
	from, to time.Time
	step     time.Duration
	timeline []Bucket
	jail     map[string][]time.Time
	stolen   map[string]bool // accounts an attacker logged in to with the right password
	hijacked map[string]bool // accounts whose email the attacker changed
	bothered map[string]bool // owners challenged or denied at least once
}

func newScorer(guard string, from, to time.Time, step time.Duration) *scorer {
	sc := &scorer{s: Summary{Guard: guard}, from: from, to: to, step: step, jail: map[string][]time.Time{}, stolen: map[string]bool{}, hijacked: map[string]bool{}, bothered: map[string]bool{}}
	for t := from; t.Before(to); t = t.Add(step) {
		sc.timeline = append(sc.timeline, Bucket{Start: t})
	}
	return sc
}

func (sc *scorer) bucket(at time.Time) *Bucket {
	if at.Before(sc.from) || !at.Before(sc.to) {
		return nil
	}
	return &sc.timeline[int(at.Sub(sc.from)/sc.step)]
}

func stopped(out string) bool {
	return out == outChallenge || out == outDeny || out == outFailed
}

// login scores a login event of the generated stream.
func (sc *scorer) login(ev *client.Event, l traffic.Label, out string) {
	at := ev.OccurredAt
	failed := ev.Type == client.LoginFailed
	b := sc.bucket(at)
	if b != nil && l.Phase == traffic.PhaseEval {
		b.Logins++
		if failed {
			b.Failures++
			if ev.User == nil {
				b.Unknown++
			}
		}
		switch {
		case out == outDeny || (out == outFailed && !failed):
			b.Denied++
		case out == outChallenge:
			b.Challenged++
		case !failed && (out == outAllow || out == outReview):
			b.Allowed++
		}
	}
	ip := ev.Context.IP
	jailed := sc.jailed(ip, at)
	if failed {
		sc.jail[ip] = append(sc.jail[ip], at)
	}
	switch {
	case l.Actor == traffic.ActorAttacker:
		if sc.s.AttackStart.IsZero() || at.Before(sc.s.AttackStart) {
			sc.s.AttackStart = at
		}
		if at.After(sc.s.AttackEnd) {
			sc.s.AttackEnd = at
		}
		sc.s.AttackerAttempts++
		if b != nil {
			b.AttackerLogins++
		}
		if out == outDeny || (out == outFailed && l.ValidCredential) {
			sc.s.AttackerAttemptsDenied++
		}
		if !l.ValidCredential {
			return
		}
		sc.s.AttackerValid++
		if ev.User != nil {
			sc.stolen[ev.User.ID] = true
		}
		if !jailed {
			sc.s.PerIPJailTakeovers++
		}
		switch out {
		case outChallenge:
			sc.s.TakeoversChallenged++
		case outDeny, outFailed:
			sc.s.TakeoversDenied++
		default:
			sc.s.TakeoversAllowed++
			if b != nil {
				b.Takeovers++
			}
		}
	case l.Phase == traffic.PhaseEval && !failed:
		if out == outFailed && ev.User != nil && sc.hijacked[ev.User.ID] {
			sc.s.OwnerLockedOut++
			return
		}
		sc.s.OwnerLogins++
		if l.NewDevice {
			sc.s.OwnerNewDevice++
		}
		switch out {
		case outChallenge:
			sc.s.OwnerChallenged++
		case outDeny, outFailed:
			sc.s.OwnerDenied++
		}
		if ev.User != nil && stopped(out) {
			sc.bothered[ev.User.ID] = true
		}
		if ev.User != nil && sc.stolen[ev.User.ID] {
			sc.s.OwnerLoginsStolen++
			if stopped(out) {
				sc.s.OwnerFrictionStolen++
			}
		}
	}
}

// jailed reports whether a per-IP jail (5 failures in 10 minutes) blocks ip.
func (sc *scorer) jailed(ip string, at time.Time) bool {
	ts := sc.jail[ip]
	k := 0
	for _, t := range ts {
		if at.Sub(t) < 10*time.Minute {
			ts[k] = t
			k++
		}
	}
	sc.jail[ip] = ts[:k]
	return k >= 5
}

// stepUpPassed scores an owner's step-up passed after a challenged login.
func (sc *scorer) stepUpPassed(l traffic.Label) {
	if l.Phase == traffic.PhaseEval {
		sc.s.OwnerStepUpsPassed++
	}
}

func (sc *scorer) ownerOrder(l traffic.Label, out string) {
	if l.Phase != traffic.PhaseEval {
		return
	}
	sc.s.OwnerOrders++
	if out != outAllow {
		sc.s.OwnerOrdersStopped++
	}
}

func (sc *scorer) emailChange(userID, out string) {
	if out == outAllow || out == outReview {
		sc.s.EmailChanges++
		sc.hijacked[userID] = true
	}
}

func (sc *scorer) fraudOrder(out string, amount int64) {
	sc.s.FraudOrdersAttempted++
	switch out {
	case outAllow:
		sc.s.FraudOrdersAccepted++
		sc.s.FraudValueAccepted += amount
	case outReview:
		sc.s.FraudOrdersHeld++
	default:
		sc.s.FraudOrdersStopped++
	}
}

// finish computes the rates and the incident figures.
func (sc *scorer) finish(incs []client.Incident) Summary {
	s := sc.s
	if s.AttackerValid > 0 {
		s.TakeoverAllowedRate = round4(float64(s.TakeoversAllowed) / float64(s.AttackerValid))
	}
	if s.OwnerLogins > 0 {
		s.OwnerFrictionRate = round4(float64(s.OwnerChallenged+s.OwnerDenied) / float64(s.OwnerLogins))
	}
	s.OwnersStopped = len(sc.bothered)
	s.Incidents = len(incs)
	var first *client.Incident
	for i := range incs {
		if first == nil || incs[i].StartedAt.Before(first.StartedAt) {
			first = &incs[i]
		}
	}
	if first != nil {
		st := first.StartedAt.UTC()
		s.IncidentStart, s.IncidentReached, s.IncidentCompr = &st, first.AccountsTargeted, first.AccountsCompromised
		if first.EndedAt != nil {
			e := first.EndedAt.UTC()
			s.IncidentEnd = &e
		}
		if !s.AttackStart.IsZero() {
			d := st.Sub(s.AttackStart)
			s.IncidentAfter = d.Round(time.Second).String()
			secs := d.Seconds()
			s.IncidentSeconds = &secs
		}
	}
	return s
}

func round4(x float64) float64 { return float64(int64(x*10000+0.5)) / 10000 }
