package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/atoguard/atoguard/internal/incident"
	"github.com/atoguard/atoguard/internal/signal/familiarity"
	"github.com/atoguard/atoguard/internal/store"
)

// sweepLimit bounds the challenges one Tick sweeps; the rest wait for the
// next tick, oldest expiry first.
const sweepLimit = 256

// sweepAbandoned treats the challenges that expired unanswered by now as
// failed step-ups, without the shop reporting them: each counts against
// its account (account.challenge_abandoned, account.mfa_failures) and
// marks the account challenge_abandoned in the incident that asked for
// it, as of the challenge's expiry. Each is written expired in the same
// batch, so a restart never counts it twice. Records that cannot list
// expired challenges (store.ChallengeSweeper) sweep nothing, and neither
// does an instance with peers: the list and the write are not one
// conditional step, so two instances could count the same challenge, and
// the sweep's changes are not replayed to the peers (with several
// instances, only the shop's own mfa.failed reports count).
func (e *Engine) sweepAbandoned(ctx context.Context, now time.Time) error {
	sw, ok := e.records.(store.ChallengeSweeper)
	if !ok || e.peers != nil {
		return nil
	}
	chs, err := sw.ExpiredChallenges(ctx, now, sweepLimit)
	if err != nil {
		return fmt.Errorf("listing expired challenges: %w", err)
	}
	var b store.Batch
	var t transitions
	for i := range chs {
		p, a, err := e.abandon(ctx, &chs[i], chs[i].ExpiresAt)
		if err != nil {
			return err
		}
		e.walkedAway(&chs[i], now, &t)
		b.Challenges = append(b.Challenges, chs[i])
		if p.Account != "" {
			b.Profiles = append(b.Profiles, store.Profile(p))
		}
		if a.Account != "" {
			b.IncidentAccounts = append(b.IncidentAccounts, a)
		}
	}
	b = t.record(b, e.notes, e.clock.Wall())
	if b.Empty() {
		return nil
	}
	if err := e.writer.Write(ctx, b); err != nil {
		return err
	}
	return e.settle(ctx, &t)
}

// walkedAway tells the campaign detector of a challenge that expired
// unanswered, if it was asked outside any campaign: a crew walking away
// from the step-ups of its correct passwords is evidence of a campaign of
// strangers. One asked during a campaign is that campaign's (its crew's
// challenges expire after it closes).
func (e *Engine) walkedAway(ch *store.Challenge, now time.Time, t *transitions) {
	if ch.IncidentID != "" {
		return
	}
	e.campaignTransition(e.campaign.Abandoned(now), t)
}

// reportAbandoned applies the shop's mfa.failed for a challenge that
// expired unanswered (a shop sweeping its own step-ups): the abandonment
// the guard's sweep would have found, counted here instead, so that the
// sweep does not count it again.
func (e *Engine) reportAbandoned(ctx context.Context, ch *store.Challenge, obs *observation, res *Result, l *learned) (familiarity.Record, error) {
	expired := *ch
	p, a, err := e.abandon(ctx, &expired, expired.ExpiresAt)
	if err != nil {
		return familiarity.Record{}, err
	}
	l.challenge, res.answered = &expired, &expired
	e.walkedAway(&expired, obs.now, &obs.trans)
	if a.Account != "" {
		l.accounts = append(l.accounts, a)
	}
	return p, nil
}

// abandon marks ch expired and counts it against its account and its
// incident as of at (the challenge's expiry): the account's profile and incident row to persist (the zero
// row when the incident is closed or never challenged the account).
func (e *Engine) abandon(ctx context.Context, ch *store.Challenge, at time.Time) (familiarity.Record, store.IncidentAccount, error) {
	ch.State = store.ChallengeExpired
	p, err := e.familiar.ChallengeAbandoned(ctx, ch.UserID, at)
	if err != nil {
		return familiarity.Record{}, store.IncidentAccount{}, err
	}
	if ch.IncidentID == "" {
		return p, store.IncidentAccount{}, nil
	}
	for _, t := range []*incident.Tracker{e.tracker, e.creds.tracker} {
		if a, ok := t.AbandonChallenge(ch.IncidentID, ch.UserID, at); ok {
			return p, a, nil
		}
	}
	return p, store.IncidentAccount{}, nil
}
