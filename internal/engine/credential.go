package engine

import (
	"sync"
	"time"

	"github.com/atoguard/atoguard/internal/incident"
	"github.com/atoguard/atoguard/internal/signal/campaign"
	"github.com/atoguard/atoguard/internal/signal/spray"
)

// credentials are the signals about the event's password: the breach
// corpus, and the spray detector with the password_spraying incident it
// opens (a tracker of its own, so it runs beside a credential-stuffing
// incident).
type credentials struct {
	breached Breached
	spray    *spray.Detector
	tracker  *incident.Tracker

	mu       sync.Mutex
	lastSave time.Time // event time the open incident was last written
}

func newCredentials(cfg Config, secret []byte, breached Breached) (*credentials, error) {
	sc := cfg.Spray
	if len(sc.Key) == 0 {
		sc.Key = spray.DeriveKey(secret)
	}
	d, err := spray.New(sc)
	if err != nil {
		return nil, err
	}
	return &credentials{breached: defaultBreached(breached), spray: d, tracker: incident.New(cfg.Incidents)}, nil
}

// campaignTransition opens or closes the credential-stuffing incident as
// the campaign detector's state changes.
func (e *Engine) campaignTransition(st campaign.State, t *transitions) {
	if e.track(e.tracker, incident.KindCredentialStuffing, st.Opened, st.Closed, st.Since, st.Until, t) {
		e.mu.Lock()
		e.lastIncSave = st.Since
		e.mu.Unlock()
	}
}

// sprayTransition opens or closes the password_spraying incident as the
// spray detector's episode changes.
func (e *Engine) sprayTransition(st spray.State, t *transitions) {
	c := e.creds
	if e.track(c.tracker, spray.IncidentKind, st.Opened, st.Closed, st.Since, st.Until, t) {
		c.mu.Lock()
		c.lastSave = st.Since
		c.mu.Unlock()
	}
}
