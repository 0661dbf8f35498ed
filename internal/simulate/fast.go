package simulate

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/traffic"
)

// Assessor is what fast mode needs of the guard: *client.Client.
type Assessor interface {
	AssessRaw(ctx context.Context, evs []json.RawMessage) ([]client.Result, error)
}

var _ Assessor = (*client.Client)(nil)

// pending is one event of a fast-mode batch: generated (fu == nil) or a
// follow-up.
type pending struct {
	it  *item
	fu  *followUp
	ev  client.Event // the follow-up's event
	raw json.RawMessage
}

const maxBatch = 1000

// runFast sends the stream and its follow-ups straight to the guard API in
// batches, each spanning less than minDelay of event time, so every
// follow-up falls in a later batch. With g nil (guard off) nothing is sent
// and every decision is allow.
func runFast(ctx context.Context, items []item, g Assessor, p *planner, sc *scorer, progress func(int)) error {
	i := 0
	for i < len(items) || len(p.q) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		start, ok := p.peek()
		if i < len(items) && (!ok || !items[i].ev.OccurredAt.After(start)) {
			start = items[i].ev.OccurredAt
		}
		end := start.Add(minDelay)
		var batch []pending
		consumed := 0
		for len(batch) < maxBatch {
			fuAt, fuOK := p.peek()
			genOK := i < len(items) && items[i].ev.OccurredAt.Before(end)
			fuOK = fuOK && fuAt.Before(end)
			switch {
			case genOK && (!fuOK || !fuAt.Before(items[i].ev.OccurredAt)):
				batch = append(batch, pending{it: &items[i], raw: items[i].raw})
				i++
				consumed++
			case fuOK:
				fu := p.pop()
				ev := p.event(fu)
				raw, err := json.Marshal(&ev)
				if err != nil {
					return fmt.Errorf("encoding follow-up: %w", err)
				}
				batch = append(batch, pending{fu: &fu, ev: ev, raw: raw})
			}
			if !genOK && !fuOK {
				break
			}
		}
		results, err := assessAll(ctx, g, batch)
		if err != nil {
			return err
		}
		if g != nil {
			sc.s.Events += len(batch)
		}
		for k := range batch {
			scoreFast(&batch[k], results[k], p, sc)
		}
		if progress != nil {
			progress(consumed)
		}
	}
	return nil
}

func assessAll(ctx context.Context, g Assessor, batch []pending) ([]client.Result, error) {
	if g == nil {
		out := make([]client.Result, len(batch))
		for i := range out {
			out[i].Decision = client.Allow
		}
		return out, nil
	}
	raws := make([]json.RawMessage, len(batch))
	for i := range batch {
		raws[i] = batch[i].raw
	}
	rs, err := g.AssessRaw(ctx, raws)
	if err != nil {
		return nil, fmt.Errorf("assessing a batch of %d events: %w", len(batch), err)
	}
	return rs, nil
}

func scoreFast(b *pending, r client.Result, p *planner, sc *scorer) {
	if fu := b.fu; fu != nil {
		switch fu.kind {
		case fuEmail:
			sc.emailChange(b.ev.User.ID, r.Decision)
		case fuOrder:
			sc.fraudOrder(r.Decision, b.ev.Properties.Order.Amount)
		}
		return
	}
	ev, l := &b.it.ev, b.it.label
	switch {
	case ev.Type == client.OrderAttempt && l.Actor == traffic.ActorOwner:
		sc.ownerOrder(l, r.Decision)
	case ev.Type == client.LoginSucceeded || ev.Type == client.LoginFailed:
		sc.login(ev, l, r.Decision)
		if ev.Type != client.LoginSucceeded {
			return
		}
		switch {
		case l.Actor == traffic.ActorAttacker && (r.Decision == outAllow || r.Decision == outReview):
			p.takeover(*ev, l, nil)
		case l.Actor == traffic.ActorAttacker && r.Decision == outChallenge:
			p.abandoned(*ev, l, r.Challenge)
		case l.Actor == traffic.ActorOwner && r.Decision == outChallenge:
			p.passed(*ev, l, r.Challenge)
			sc.stepUpPassed(l)
		}
	}
}
