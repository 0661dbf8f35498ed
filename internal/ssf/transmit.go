package ssf

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/problem"
)

// Delivery method URNs (SSF 1.0).
const (
	MethodPush = "urn:ietf:rfc:8935"
	MethodPoll = "urn:ietf:rfc:8936"
)

// Stream statuses (SSF 1.0 section 8.1.2).
const (
	StatusEnabled  = "enabled"
	StatusPaused   = "paused" // SETs are kept, not delivered
	StatusDisabled = "disabled"
)

// Paths this service serves.
const (
	PathConfiguration = "/.well-known/ssf-configuration"
	PathJWKS          = "/ssf/jwks.json"
	PathStream        = "/v1/ssf/stream"
	PathStatus        = "/v1/ssf/status"
	PathVerify        = "/v1/ssf/verify"
	PathPoll          = "/v1/ssf/poll/" // + stream id
	PathPush          = "/v1/ssf/push/" // + peer name
)

// Stream is a stream's configuration as SSF 1.0 section 8.1.1 shows it.
type Stream struct {
	ID                      string   `json:"stream_id"`
	Issuer                  string   `json:"iss"`
	Audience                string   `json:"aud"`
	EventsSupported         []string `json:"events_supported"`
	EventsRequested         []string `json:"events_requested"`
	EventsDelivered         []string `json:"events_delivered"`
	Delivery                Delivery `json:"delivery"`
	MinVerificationInterval int      `json:"min_verification_interval"`
	Description             string   `json:"description,omitempty"`
}

// Delivery is how a stream's SETs reach the receiver.
type Delivery struct {
	Method      string `json:"method"`
	EndpointURL string `json:"endpoint_url,omitempty"`
	// AuthorizationHeader is what a push sends in Authorization; written
	// by the receiver, never shown back.
	AuthorizationHeader string `json:"authorization_header,omitempty"`
}

// minVerificationInterval is how long a receiver waits between two
// verification requests of a stream, in seconds.
const minVerificationInterval = 15

// Route is an HTTP route of the service. Authorized routes are for API
// keys with the federation scope: the caller mounting them authenticates
// the request and passes the key's name, which names the peer.
type Route struct {
	Pattern    string // http.ServeMux pattern
	Authorized bool
	Serve      func(w http.ResponseWriter, r *http.Request, caller string)
}

// Routes returns the service's routes.
func (s *Service) Routes() []Route {
	public := func(pattern string, h handler) Route {
		return Route{Pattern: pattern, Serve: func(w http.ResponseWriter, r *http.Request, _ string) { s.adapt(w, r, h, "") }}
	}
	auth := func(pattern string, h handler) Route {
		return Route{Pattern: pattern, Authorized: true, Serve: func(w http.ResponseWriter, r *http.Request, caller string) {
			s.adapt(w, r, h, caller)
		}}
	}
	return []Route{
		public("GET "+PathConfiguration, s.configuration),
		public("GET "+PathJWKS, s.jwksDoc),
		auth("POST "+PathStream, s.createStream),
		auth("GET "+PathStream, s.readStream),
		auth("PATCH "+PathStream, s.updateStream),
		auth("PUT "+PathStream, s.replaceStream),
		auth("DELETE "+PathStream, s.deleteStream),
		auth("GET "+PathStatus, s.readStatus),
		auth("POST "+PathStatus, s.updateStatus),
		auth("POST "+PathVerify, s.verify),
		auth("POST "+PathPoll+"{stream_id}", s.servePoll),
		{Pattern: "POST " + PathPush + "{peer}", Serve: func(w http.ResponseWriter, r *http.Request, _ string) { s.servePush(w, r) }},
	}
}

// handler serves a request for caller (the API key's name) and returns
// its error to adapt.
type handler func(w http.ResponseWriter, r *http.Request, caller string) error

// fail returns an RFC 9457 problem for the client, shaped as the API's.
func fail(status int, kind, format string, args ...any) error {
	return problem.New(status, kind, fmt.Sprintf(format, args...))
}

// adapt runs h and answers its error as problem JSON (the API's shape);
// an error that is no problem is a 500, logged.
func (s *Service) adapt(w http.ResponseWriter, r *http.Request, h handler, caller string) {
	err := h(w, r, caller)
	if err == nil {
		return
	}
	p := problem.From(err)
	if p.Cause != nil {
		s.log.Error("federation request failed", "method", r.Method, "path", r.URL.Path, "err", p.Cause)
	}
	problem.Write(w, p)
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(data, '\n'))
	return nil
}

// readJSON decodes a JSON body of at most the configured size into v,
// strictly.
func (s *Service) readJSON(w http.ResponseWriter, r *http.Request, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return fail(http.StatusUnsupportedMediaType, "unsupported-media-type", "Content-Type must be application/json")
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		return fail(http.StatusRequestEntityTooLarge, "body-too-large", "body is larger than %d bytes", s.cfg.MaxBodyBytes)
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fail(http.StatusBadRequest, "invalid-json", "invalid JSON: %v", err)
	}
	return nil
}

// configuration serves the transmitter's metadata (SSF 1.0 section 7.1).
func (s *Service) configuration(w http.ResponseWriter, _ *http.Request, _ string) error {
	iss := s.cfg.Issuer
	return writeJSON(w, http.StatusOK, map[string]any{
		"spec_version":               "1_0",
		"issuer":                     iss,
		"jwks_uri":                   iss + PathJWKS,
		"delivery_methods_supported": []string{MethodPush, MethodPoll},
		"configuration_endpoint":     iss + PathStream,
		"status_endpoint":            iss + PathStatus,
		"verification_endpoint":      iss + PathVerify,
		"authorization_schemes":      []map[string]string{{"spec_urn": "urn:ietf:rfc:6750"}},
		"default_subjects":           "ALL",
	})
}

// jwksDoc serves the public signing keys: the current one and the
// retired ones whose SETs may still be queued or checked.
func (s *Service) jwksDoc(w http.ResponseWriter, _ *http.Request, _ string) error {
	set := s.keys.Public(s.wall(), s.keyKeep())
	w.Header().Set("Cache-Control", "max-age=300")
	return writeJSON(w, http.StatusOK, set)
}

// keyKeep is how long a retired key stays published: its last SET may
// wait in the outbox for Retain and then be checked for MaxAge.
func (s *Service) keyKeep() time.Duration { return s.cfg.Retain + s.cfg.MaxAge }

// callerPeer is the configured peer the API key caller stands for.
func (s *Service) callerPeer(caller string) (*peerState, error) {
	p, ok := s.peers[caller]
	if !ok {
		return nil, fail(http.StatusForbidden, "forbidden", "API key %q names no configured peer (ssf.peers[].name)", caller)
	}
	return p, nil
}

// eventsFor are the event types the peer may get.
func eventsFor(p *peerState) []string {
	out := []string{}
	for _, e := range SupportedEvents {
		for _, k := range p.Send {
			if EventType(k) == e {
				out = append(out, e)
				break
			}
		}
	}
	return out
}

// delivered are the event types a stream that requested requested
// carries to p: those p is sent (its send list, as configured now) and
// requested; all of those when none were requested.
func delivered(requested []string, p *peerState) []string {
	out := []string{}
	for _, e := range eventsFor(p) {
		if len(requested) == 0 || slices.Contains(requested, e) {
			out = append(out, e)
		}
	}
	return out
}

// fill completes a stream the receiver described: supported and
// delivered events, the poll endpoint, the fixed members.
func (s *Service) fill(st *Stream, p *peerState) error {
	switch st.Delivery.Method {
	case MethodPush:
		if !absoluteURL(st.Delivery.EndpointURL) {
			return fail(http.StatusBadRequest, "invalid-field", "delivery.endpoint_url: push needs an absolute http(s) URL")
		}
	case MethodPoll:
		st.Delivery.EndpointURL = s.cfg.Issuer + PathPoll + st.ID
		st.Delivery.AuthorizationHeader = ""
	default:
		return fail(http.StatusBadRequest, "invalid-field", "delivery.method: %q is not %s (push) or %s (poll)", st.Delivery.Method, MethodPush, MethodPoll)
	}
	for _, e := range st.EventsRequested {
		if !slices.Contains(SupportedEvents, e) {
			return fail(http.StatusBadRequest, "invalid-field", "events_requested: %q is not an event type this transmitter sends", e)
		}
	}
	st.Issuer, st.Audience = s.cfg.Issuer, p.Issuer
	st.EventsSupported = eventsFor(p)
	st.EventsDelivered = delivered(st.EventsRequested, p)
	if st.EventsRequested == nil {
		st.EventsRequested = []string{}
	}
	st.MinVerificationInterval = minVerificationInterval
	if len(st.Description) > 256 {
		return fail(http.StatusBadRequest, "invalid-field", "description: over 256 bytes")
	}
	return nil
}

// current is a stored stream of peer as answered now: its events as the
// configuration says today.
func (s *Service) current(st Stream, peer string) Stream {
	if p, ok := s.peers[peer]; ok {
		st.EventsSupported, st.EventsDelivered = eventsFor(p), delivered(st.EventsRequested, p)
	}
	return shown(st)
}

// shown is a stream as answered: the push secret is never sent back.
func shown(st Stream) Stream {
	st.Delivery.AuthorizationHeader = ""
	return st
}

// streamRequest is what a receiver sends to create or change a stream.
type streamRequest struct {
	ID              string    `json:"stream_id"`
	Delivery        *Delivery `json:"delivery"`
	EventsRequested []string  `json:"events_requested"`
	Description     *string   `json:"description"`
	// Members a transmitter sets, taken and ignored (a receiver may send
	// back what it read).
	Issuer                  json.RawMessage `json:"iss"`
	Audience                json.RawMessage `json:"aud"`
	EventsSupported         json.RawMessage `json:"events_supported"`
	EventsDelivered         json.RawMessage `json:"events_delivered"`
	MinVerificationInterval json.RawMessage `json:"min_verification_interval"`
}

func (s *Service) createStream(w http.ResponseWriter, r *http.Request, caller string) error {
	p, err := s.callerPeer(caller)
	if err != nil {
		return err
	}
	var req streamRequest
	if err := s.readJSON(w, r, &req); err != nil {
		return err
	}
	if req.Delivery == nil {
		return fail(http.StatusBadRequest, "invalid-field", "delivery: required")
	}
	st := Stream{ID: randomID(12), Delivery: *req.Delivery, EventsRequested: req.EventsRequested}
	if req.Description != nil {
		st.Description = *req.Description
	}
	if err := s.fill(&st, p); err != nil {
		return err
	}
	err = s.state.createStream(r.Context(), storedStream{Stream: st, Peer: p.Name, Status: StatusEnabled}, s.wall())
	if errors.Is(err, errStreamExists) {
		return fail(http.StatusConflict, "conflict", "peer %q already has a stream: read, update or delete it", p.Name)
	}
	if err != nil {
		return err
	}
	s.log.Info("federation stream created", "peer", p.Name, "stream", st.ID, "method", st.Delivery.Method)
	return writeJSON(w, http.StatusCreated, shown(st))
}

// ownStream returns the caller's stream id (the query's stream_id, which
// must be the caller's).
func (s *Service) ownStream(ctx context.Context, caller, id string) (storedStream, error) {
	streams, err := s.state.streams(ctx, caller)
	if err != nil {
		return storedStream{}, err
	}
	for _, st := range streams {
		if id == "" || st.ID == id {
			return st, nil
		}
	}
	return storedStream{}, fail(http.StatusNotFound, "not-found", "no stream %q for this key", id)
}

func (s *Service) readStream(w http.ResponseWriter, r *http.Request, caller string) error {
	if _, err := s.callerPeer(caller); err != nil {
		return err
	}
	id := r.URL.Query().Get("stream_id")
	if id == "" {
		streams, err := s.state.streams(r.Context(), caller)
		if err != nil {
			return err
		}
		out := []Stream{}
		for _, st := range streams {
			out = append(out, s.current(st.Stream, caller))
		}
		return writeJSON(w, http.StatusOK, out)
	}
	st, err := s.ownStream(r.Context(), caller, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.current(st.Stream, caller))
}

func (s *Service) updateStream(w http.ResponseWriter, r *http.Request, caller string) error {
	return s.changeStream(w, r, caller, false)
}

func (s *Service) replaceStream(w http.ResponseWriter, r *http.Request, caller string) error {
	return s.changeStream(w, r, caller, true)
}

// changeStream updates (PATCH: the members given) or replaces (PUT: all
// of them) the caller's stream.
func (s *Service) changeStream(w http.ResponseWriter, r *http.Request, caller string, replace bool) error {
	p, err := s.callerPeer(caller)
	if err != nil {
		return err
	}
	var req streamRequest
	if err := s.readJSON(w, r, &req); err != nil {
		return err
	}
	if req.ID == "" {
		return fail(http.StatusBadRequest, "invalid-field", "stream_id: required")
	}
	cur, err := s.ownStream(r.Context(), caller, req.ID)
	if err != nil {
		return err
	}
	st := cur.Stream
	if replace {
		if req.Delivery == nil {
			return fail(http.StatusBadRequest, "invalid-field", "delivery: required")
		}
		st = Stream{ID: cur.ID, Delivery: *req.Delivery, EventsRequested: req.EventsRequested}
	}
	if req.Delivery != nil {
		d := *req.Delivery
		if !replace && d.AuthorizationHeader == "" && d.Method == st.Delivery.Method {
			d.AuthorizationHeader = st.Delivery.AuthorizationHeader // PATCH without it keeps it
		}
		st.Delivery = d
	}
	if req.EventsRequested != nil {
		st.EventsRequested = req.EventsRequested
	}
	if req.Description != nil {
		st.Description = *req.Description
	}
	if err := s.fill(&st, p); err != nil {
		return err
	}
	cur.Stream = st
	if err := s.state.updateStream(r.Context(), cur); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, shown(st))
}

func (s *Service) deleteStream(w http.ResponseWriter, r *http.Request, caller string) error {
	if _, err := s.callerPeer(caller); err != nil {
		return err
	}
	id := r.URL.Query().Get("stream_id")
	if id == "" {
		return fail(http.StatusBadRequest, "invalid-field", "stream_id: required")
	}
	if _, err := s.ownStream(r.Context(), caller, id); err != nil {
		return err
	}
	if err := s.state.deleteStream(r.Context(), id); err != nil {
		return err
	}
	s.log.Info("federation stream deleted", "peer", caller, "stream", id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// streamStatus is a stream's status (SSF 1.0 section 8.1.2).
type streamStatus struct {
	ID     string `json:"stream_id"`
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
}

func (s *Service) readStatus(w http.ResponseWriter, r *http.Request, caller string) error {
	if _, err := s.callerPeer(caller); err != nil {
		return err
	}
	id := r.URL.Query().Get("stream_id")
	if id == "" {
		return fail(http.StatusBadRequest, "invalid-field", "stream_id: required")
	}
	st, err := s.ownStream(r.Context(), caller, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, streamStatus{ID: st.ID, Status: st.Status, Reason: st.Reason})
}

func (s *Service) updateStatus(w http.ResponseWriter, r *http.Request, caller string) error {
	if _, err := s.callerPeer(caller); err != nil {
		return err
	}
	var req streamStatus
	if err := s.readJSON(w, r, &req); err != nil {
		return err
	}
	if req.ID == "" {
		return fail(http.StatusBadRequest, "invalid-field", "stream_id: required")
	}
	switch req.Status {
	case StatusEnabled, StatusPaused, StatusDisabled:
	default:
		return fail(http.StatusBadRequest, "invalid-field", "status: %q is not enabled, paused or disabled", req.Status)
	}
	if len(req.Reason) > 256 {
		return fail(http.StatusBadRequest, "invalid-field", "reason: over 256 bytes")
	}
	st, err := s.ownStream(r.Context(), caller, req.ID)
	if err != nil {
		return err
	}
	st.Status, st.Reason = req.Status, req.Reason
	if err := s.state.updateStream(r.Context(), st); err != nil {
		return err
	}
	if st.Status == StatusEnabled {
		s.notify()
	}
	return writeJSON(w, http.StatusOK, streamStatus{ID: st.ID, Status: st.Status, Reason: st.Reason})
}

// verify queues a verification event on the caller's stream (SSF 1.0
// section 8.1.4).
func (s *Service) verify(w http.ResponseWriter, r *http.Request, caller string) error {
	if _, err := s.callerPeer(caller); err != nil {
		return err
	}
	var req struct {
		ID    string `json:"stream_id"`
		State string `json:"state"`
	}
	if err := s.readJSON(w, r, &req); err != nil {
		return err
	}
	if req.ID == "" {
		return fail(http.StatusBadRequest, "invalid-field", "stream_id: required")
	}
	if len(req.State) > 256 {
		return fail(http.StatusBadRequest, "invalid-field", "state: over 256 bytes")
	}
	st, err := s.ownStream(r.Context(), caller, req.ID)
	if err != nil {
		return err
	}
	now := s.wall()
	s.mu.Lock()
	last, seen := s.lastVer[st.ID]
	ok := !seen || now.Sub(last) >= minVerificationInterval*time.Second
	if ok {
		s.lastVer[st.ID] = now
	}
	s.mu.Unlock()
	if !ok {
		p := problem.New(http.StatusTooManyRequests, "rate-limited", fmt.Sprintf("one verification per %d seconds", minVerificationInterval))
		p.RetryAfter = minVerificationInterval
		return p
	}
	ev, err := json.Marshal(payload{State: req.State})
	if err != nil {
		return err
	}
	jti := randomID(16)
	body, err := json.Marshal(claims{Issuer: s.cfg.Issuer, Audience: audience{st.Audience}, IssuedAt: now.Unix(), ID: jti,
		Subject: &SubjectID{Format: "opaque", ID: st.ID}, Events: map[string]json.RawMessage{EventVerification: ev}})
	if err != nil {
		return err
	}
	if err := s.state.enqueue(r.Context(), []queued{{Stream: st.ID, JTI: jti, Claims: body}}, now); err != nil {
		return err
	}
	s.notify()
	w.WriteHeader(http.StatusNoContent)
	return nil
}
