package ssf

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/federation"
)

// Event type URIs a guard sends and takes.
const (
	// EventCredentialCompromise is RISC credential-compromise: a campaign
	// used the account's correct password.
	EventCredentialCompromise = "https://schemas.openid.net/secevent/risc/event-type/credential-compromise"
	// EventCredentialChange is CAEP credential-change: the owner reset
	// the password after a compromise.
	EventCredentialChange = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
	// EventSessionRevoked is CAEP session-revoked: an operator ended the
	// account's sessions.
	EventSessionRevoked = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
	// EventCampaignIndicator is atoguard's own event type, under the
	// project's GitHub organization: a login on a combo list, a network
	// prefix, a fingerprint cluster, a drop point or a sprayed password
	// a campaign used (member "kind"), with counts, first and last seen,
	// a confidence and a time to live. No standard event says this.
	EventCampaignIndicator = "https://atoguard.github.io/secevent/event-type/campaign-indicator"
	// EventVerification is the SSF stream verification event.
	EventVerification = "https://schemas.openid.net/secevent/ssf/event-type/verification"
)

// SupportedEvents are the event types a stream can carry, in a stable
// order (the verification event is always delivered, never requested).
var SupportedEvents = []string{EventCredentialCompromise, EventCredentialChange, EventSessionRevoked, EventCampaignIndicator}

// EventType returns the event type that carries facts of kind k.
func EventType(k federation.Kind) string {
	switch k {
	case federation.CredentialCompromised:
		return EventCredentialCompromise
	case federation.CredentialChanged:
		return EventCredentialChange
	case federation.SessionRevoked:
		return EventSessionRevoked
	}
	return EventCampaignIndicator
}

// SubjectID is an RFC 9493 subject identifier (the SET's sub_id). A
// guard sends "email" (the normalized address, only to a peer allowed
// it) or "opaque", whose id is a keyed hash of a normalized value (or a
// network prefix); the event's "subject_format" member says which.
type SubjectID struct {
	Format string `json:"format"`
	Email  string `json:"email,omitempty"`
	ID     string `json:"id,omitempty"`
}

// claims are a SET's claims (RFC 8417 and SSF 1.0): no sub, no exp.
type claims struct {
	Issuer   string                     `json:"iss"`
	Audience audience                   `json:"aud"`
	IssuedAt int64                      `json:"iat"`
	ID       string                     `json:"jti"`
	Subject  *SubjectID                 `json:"sub_id,omitempty"`
	TxnID    string                     `json:"txn,omitempty"`
	Events   map[string]json.RawMessage `json:"events"`
	Sub      json.RawMessage            `json:"sub,omitempty"` // refused when present
	Exp      json.RawMessage            `json:"exp,omitempty"` // refused when present
}

// audience is the aud claim: a string or an array of strings.
type audience []string

func (a audience) MarshalJSON() ([]byte, error) {
	if len(a) == 1 {
		return json.Marshal(a[0])
	}
	return json.Marshal([]string(a))
}

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("aud is neither a string nor an array of strings")
	}
	*a = many
	return nil
}

// payload is the event member of every SET a guard sends. The standard
// events carry their required members (credential_type, change_type,
// initiating_entity) and atoguard's as extensions a receiver that does
// not know them ignores.
type payload struct {
	// RISC / CAEP members.
	CredentialType   string `json:"credential_type,omitempty"`
	ChangeType       string `json:"change_type,omitempty"`
	InitiatingEntity string `json:"initiating_entity,omitempty"`
	EventTimestamp   int64  `json:"event_timestamp,omitempty"`
	// atoguard's members.
	Kind          federation.Kind `json:"kind,omitempty"`
	SubjectFormat string          `json:"subject_format,omitempty"`
	Incident      string          `json:"incident,omitempty"`
	Count         int             `json:"count,omitempty"`
	FirstSeen     int64           `json:"first_seen,omitempty"`
	LastSeen      int64           `json:"last_seen,omitempty"`
	Confidence    *float64        `json:"confidence,omitempty"`
	TTL           int64           `json:"ttl,omitempty"` // seconds from iat
	// SSF verification.
	State string `json:"state,omitempty"`
}

// factClaims returns the claims of the SET that carries f, issued by iss
// to aud at iat with id jti.
func factClaims(f federation.Fact, iss, aud, jti string, iat time.Time) (claims, error) {
	sub, err := subjectOf(f)
	if err != nil {
		return claims{}, err
	}
	conf := f.Confidence
	p := payload{
		SubjectFormat: f.SubjectFormat, Incident: f.Incident, Count: f.Count,
		FirstSeen: unix(f.FirstSeen), LastSeen: unix(f.LastSeen), Confidence: &conf,
		EventTimestamp: unix(f.LastSeen),
	}
	if !f.Expires.IsZero() {
		p.TTL = max(1, int64(math.Ceil(f.Expires.Sub(iat).Seconds())))
	}
	typ := EventType(f.Kind)
	switch f.Kind {
	case federation.CredentialCompromised:
		p.CredentialType = "password"
	case federation.CredentialChanged:
		p.CredentialType, p.ChangeType, p.InitiatingEntity = "password", "update", "user"
	case federation.SessionRevoked:
		p.InitiatingEntity = "admin"
	default:
		p.Kind = f.Kind
	}
	ev, err := json.Marshal(p)
	if err != nil {
		return claims{}, err
	}
	return claims{Issuer: iss, Audience: audience{aud}, IssuedAt: iat.Unix(), ID: jti, Subject: &sub,
		TxnID: f.Incident, Events: map[string]json.RawMessage{typ: ev}}, nil
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// subjectOf is the sub_id of f.
func subjectOf(f federation.Fact) (SubjectID, error) {
	switch {
	case f.Subject == "":
		return SubjectID{}, errors.New("fact has no subject")
	case f.SubjectFormat == federation.SubjectEmail:
		return SubjectID{Format: "email", Email: f.Subject}, nil
	}
	return SubjectID{Format: "opaque", ID: f.Subject}, nil
}

// Limits on what a received SET may hold.
const (
	maxSubject  = 512
	maxIncident = 128
	maxCount    = 1 << 30
)

var knownKinds = func() map[federation.Kind]bool {
	m := map[federation.Kind]bool{}
	for _, k := range federation.Kinds {
		m[k] = true
	}
	return m
}()

// errBadSET is a SET whose content (not its envelope) makes no fact.
var errBadSET = errors.New("invalid SET")

// factOf turns verified claims into the fact they carry; maxTTL caps its
// life from now (a peer cannot make a fact live for ever).
func factOf(c claims, peer string, now time.Time, maxTTL time.Duration) (federation.Fact, error) {
	if len(c.Events) != 1 {
		return federation.Fact{}, fmt.Errorf("%w: %d events, want exactly one", errBadSET, len(c.Events))
	}
	var typ string
	var raw json.RawMessage
	for typ, raw = range c.Events {
	}
	var p payload
	if err := json.Unmarshal(raw, &p); err != nil {
		return federation.Fact{}, fmt.Errorf("%w: event %s: %v", errBadSET, typ, err)
	}
	f := federation.Fact{Peer: peer, ID: c.ID, Incident: p.Incident, Count: p.Count}
	switch typ {
	case EventCredentialCompromise:
		f.Kind = federation.CredentialCompromised
	case EventCredentialChange:
		f.Kind = federation.CredentialChanged
	case EventSessionRevoked:
		f.Kind = federation.SessionRevoked
	case EventCampaignIndicator:
		if !knownKinds[p.Kind] || EventType(p.Kind) != EventCampaignIndicator {
			return federation.Fact{}, fmt.Errorf("%w: campaign indicator of unknown kind %q", errBadSET, p.Kind)
		}
		f.Kind = p.Kind
	default:
		return federation.Fact{}, fmt.Errorf("%w: unsupported event type %q", errBadSET, typ)
	}
	if err := subjectInto(&f, c.Subject, p.SubjectFormat); err != nil {
		return federation.Fact{}, err
	}
	if len(f.Incident) > maxIncident || f.Count < 0 || f.Count > maxCount {
		return federation.Fact{}, fmt.Errorf("%w: incident or count out of range", errBadSET)
	}
	f.Confidence = 1
	if p.Confidence != nil {
		if !(*p.Confidence >= 0 && *p.Confidence <= 1) {
			return federation.Fact{}, fmt.Errorf("%w: confidence %v is not within [0, 1]", errBadSET, *p.Confidence)
		}
		f.Confidence = *p.Confidence
	}
	if p.FirstSeen > 0 {
		f.FirstSeen = time.Unix(p.FirstSeen, 0).UTC()
	}
	if p.LastSeen > 0 {
		f.LastSeen = time.Unix(p.LastSeen, 0).UTC()
	}
	life := maxTTL
	if p.TTL < 0 {
		return federation.Fact{}, fmt.Errorf("%w: negative ttl", errBadSET)
	}
	if p.TTL > 0 && p.TTL < int64(maxTTL/time.Second) {
		life = time.Duration(p.TTL) * time.Second
	}
	f.Expires = now.Add(life)
	return f, nil
}

// subjectInto sets f's subject from sub_id and the event's
// subject_format member.
func subjectInto(f *federation.Fact, sub *SubjectID, format string) error {
	if sub == nil {
		return fmt.Errorf("%w: no sub_id", errBadSET)
	}
	switch sub.Format {
	case "email":
		f.Subject, f.SubjectFormat = strings.ToLower(strings.TrimSpace(sub.Email)), federation.SubjectEmail
	case "opaque":
		f.Subject = sub.ID
		switch format {
		case "", federation.SubjectLoginHash:
			f.SubjectFormat = federation.SubjectLoginHash
		case federation.SubjectHash, federation.SubjectPrefix:
			f.SubjectFormat = format
		default:
			return fmt.Errorf("%w: subject_format %q", errBadSET, format)
		}
	default:
		return fmt.Errorf("%w: sub_id format %q (want email or opaque)", errBadSET, sub.Format)
	}
	if f.Subject == "" || len(f.Subject) > maxSubject {
		return fmt.Errorf("%w: empty or oversized subject", errBadSET)
	}
	return nil
}
