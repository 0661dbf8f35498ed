package ssf

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/atoguard/atoguard/internal/federation"
)

// RFC 8935 section 2.3 error codes, the reasons a SET is refused.
const (
	ErrInvalidRequest       = "invalid_request"
	ErrInvalidKey           = "invalid_key"
	ErrInvalidIssuer        = "invalid_issuer"
	ErrInvalidAudience      = "invalid_audience"
	ErrAuthenticationFailed = "authentication_failed"
	ErrAccessDenied         = "access_denied"
)

// SETError is why a SET was refused: an RFC 8935 error code and a
// description for the transmitter.
type SETError struct {
	Code        string `json:"err"`
	Description string `json:"description"`
}

func (e *SETError) Error() string { return e.Code + ": " + e.Description }

func refuse(code, format string, args ...any) *SETError {
	return &SETError{Code: code, Description: fmt.Sprintf(format, args...)}
}

// algorithms are the signature algorithms a SET may use.
var algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// jwksCache holds a peer's public keys, from a file or a URL, fetched
// again when a SET names a key it lacks (at most every refetchEvery).
type jwksCache struct {
	url, file string
	client    *http.Client

	mu      sync.Mutex
	set     jose.JSONWebKeySet
	fetched time.Time
	tried   bool
}

const refetchEvery = 30 * time.Second

// maxJWKSBytes bounds a peer's JWKS document.
const maxJWKSBytes = 256 << 10

// refresh reads the keys again unless they were read less than
// refetchEvery ago (force: read anyway).
func (c *jwksCache) refresh(ctx context.Context, now time.Time, force bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !force && c.tried && now.Sub(c.fetched) < refetchEvery {
		return nil
	}
	c.tried, c.fetched = true, now
	var data []byte
	var err error
	if c.file != "" {
		data, err = os.ReadFile(c.file)
	} else {
		data, err = c.fetch(ctx)
	}
	if err != nil {
		return fmt.Errorf("reading the peer's JWKS: %w", err)
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return fmt.Errorf("parsing the peer's JWKS: %w", err)
	}
	c.set = set
	return nil
}

func (c *jwksCache) fetch(ctx context.Context) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s answered %s", c.url, resp.Status)
	}
	return io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes))
}

// keys returns the public keys that may have signed a SET with kid (all
// of them when kid is empty), fetching the set again once when none has.
func (c *jwksCache) keys(ctx context.Context, kid string, now time.Time) []jose.JSONWebKey {
	find := func() []jose.JSONWebKey {
		c.mu.Lock()
		defer c.mu.Unlock()
		if kid == "" {
			return slices.Clone(c.set.Keys)
		}
		return c.set.Key(kid)
	}
	if k := find(); len(k) > 0 {
		return k
	}
	_ = c.refresh(ctx, now, false) // a peer out of reach: no key, invalid_key
	return find()
}

// verifySET checks token as a SET from p at now: signature, typ, iss,
// aud, iat, the envelope; it returns the claims.
func (s *Service) verifySET(ctx context.Context, p *peerState, token string, now time.Time) (claims, *SETError) {
	jws, err := jose.ParseSignedCompact(token, algorithms)
	if err != nil {
		return claims{}, refuse(ErrInvalidRequest, "not a compact JWS signed RS256 or ES256: %v", err)
	}
	if len(jws.Signatures) != 1 {
		return claims{}, refuse(ErrInvalidRequest, "want exactly one signature")
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); typ != SETType && typ != "application/"+SETType {
		return claims{}, refuse(ErrInvalidRequest, "typ header %q, want %s", typ, SETType)
	}
	if p.jwks == nil {
		return claims{}, refuse(ErrInvalidKey, "no keys are configured for this peer")
	}
	var payload []byte
	for _, k := range p.jwks.keys(ctx, h.KeyID, now) {
		if k.Use != "" && k.Use != "sig" || k.Algorithm != "" && k.Algorithm != h.Algorithm {
			continue
		}
		if payload, err = jws.Verify(k.Key); err == nil {
			break
		}
	}
	if payload == nil {
		return claims{}, refuse(ErrInvalidKey, "no key of the peer's JWKS verifies the signature (kid %q)", h.KeyID)
	}
	var c claims
	dec := json.NewDecoder(bytes.NewReader(payload))
	if err := dec.Decode(&c); err != nil {
		return claims{}, refuse(ErrInvalidRequest, "claims: %v", err)
	}
	switch {
	case c.Sub != nil || c.Exp != nil:
		return claims{}, refuse(ErrInvalidRequest, "a SET carries neither sub nor exp")
	case c.Issuer != p.Issuer:
		return claims{}, refuse(ErrInvalidIssuer, "iss %q is not the peer's issuer", c.Issuer)
	case !slices.Contains(c.Audience, p.audience):
		return claims{}, refuse(ErrInvalidAudience, "aud does not name %q", p.audience)
	case c.ID == "" || len(c.ID) > 256:
		return claims{}, refuse(ErrInvalidRequest, "jti missing or over 256 bytes")
	case c.IssuedAt > now.Add(s.cfg.MaxSkew).Unix():
		return claims{}, refuse(ErrInvalidRequest, "iat is in the future")
	case c.IssuedAt < now.Add(-s.cfg.MaxAge).Unix():
		return claims{}, refuse(ErrInvalidRequest, "iat is older than %v", s.cfg.MaxAge)
	}
	return c, nil
}

// take verifies one SET from p and returns its jti, refusing one already
// received; fact is nil for a SET that carries nothing to keep (a
// verification, a kind the peer is not accepted for). The jti is marked
// seen by keep, once what the SET carried is kept: a crash in between
// leaves it unmarked, so the transmitter's retry is taken.
func (s *Service) take(ctx context.Context, p *peerState, token string, now time.Time) (*federation.Fact, string, *SETError, error) {
	c, serr := s.verifySET(ctx, p, token, now)
	if serr != nil {
		return nil, "", serr, nil
	}
	var f *federation.Fact
	if _, ok := c.Events[EventVerification]; ok && len(c.Events) == 1 {
		s.log.Info("federation stream verified by peer", "peer", p.Name, "jti", c.ID)
	} else {
		fact, err := factOf(c, p.Name, now, s.cfg.TTLCap)
		if err != nil {
			return nil, "", refuse(ErrInvalidRequest, "%v", err), nil
		}
		if slices.Contains(p.Accept, fact.Kind) {
			f = &fact
		} else {
			s.met.rejected.WithLabelValues(p.Name, "not_accepted").Inc()
		}
	}
	seen, err := s.state.seen(ctx, p.Name, c.ID)
	if err != nil {
		return nil, "", nil, err
	}
	if seen {
		return nil, "", refuse(ErrInvalidRequest, "duplicate jti %q: already received", c.ID), nil
	}
	return f, c.ID, nil, nil
}

// keep hands facts to the sink and then marks the SETs' jtis seen. On a
// failure nothing more is marked, so the transmitter's retry is taken; a
// fact kept twice that way is merged by the sink (one per peer, kind and
// subject).
func (s *Service) keep(ctx context.Context, p *peerState, facts []federation.Fact, jtis []string, now time.Time) error {
	if len(facts) > 0 {
		if err := s.sink.Receive(ctx, facts); err != nil {
			return fmt.Errorf("keeping facts from %s: %w", p.Name, err)
		}
		s.met.received.WithLabelValues(p.Name).Add(float64(len(facts)))
	}
	for _, jti := range jtis {
		if _, err := s.state.markSeen(ctx, p.Name, jti, now); err != nil {
			return fmt.Errorf("recording SET %s from %s: %w", jti, p.Name, err)
		}
	}
	return nil
}

// refused counts a refused SET against the peer's budget for the minute
// and logs it (the first few of a minute, then one a minute).
func (s *Service) refused(p *peerState, e *SETError, now time.Time) {
	s.met.rejected.WithLabelValues(p.Name, e.Code).Inc()
	p.mu.Lock()
	if now.Sub(p.badWindow) >= time.Minute {
		p.badWindow, p.bad = now, 0
	}
	p.bad++
	logIt := now.Sub(p.lastLogged) >= time.Minute || p.bad <= 3
	if logIt {
		p.lastLogged = now
	}
	p.mu.Unlock()
	if logIt {
		s.log.Warn("refused a SET from a peer", "peer", p.Name, "err", e.Code, "description", e.Description)
	}
}

// limited reports whether p sent more refused SETs this minute than it
// may, and how long until the minute ends.
func (s *Service) limited(p *peerState, now time.Time) (bool, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now.Sub(p.badWindow) >= time.Minute || p.bad < s.cfg.BadPerMinute {
		return false, 0
	}
	return true, p.badWindow.Add(time.Minute).Sub(now)
}

// writeSETError answers an RFC 8935 error.
func writeSETError(w http.ResponseWriter, status int, e *SETError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(e)
}

// servePush takes a SET pushed by a peer (RFC 8935): 202 when it is
// taken (or ignored: a paused peer, a kind not accepted), 400 with an
// error code when it is refused, 401 for a wrong bearer token, 429 when
// the peer sent too much garbage lately, 503 when the facts could not be
// kept (the transmitter retries). Bad input never gets a 5xx.
func (s *Service) servePush(w http.ResponseWriter, r *http.Request) {
	p, ok := s.peers[r.PathValue("peer")]
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || p.pushToken == nil || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), p.pushToken) != 1 {
		writeSETError(w, http.StatusUnauthorized, refuse(ErrAuthenticationFailed, "unknown peer or wrong bearer token"))
		return
	}
	now := s.wall()
	if over, wait := s.limited(p, now); over {
		s.met.rejected.WithLabelValues(p.Name, "rate_limited").Inc()
		w.Header().Set("Retry-After", strconv.Itoa(max(1, int(wait.Seconds()+0.999))))
		writeSETError(w, http.StatusTooManyRequests, refuse(ErrAccessDenied, "too many refused SETs from this peer; wait"))
		return
	}
	if p.Paused {
		s.met.rejected.WithLabelValues(p.Name, "paused").Inc()
		w.WriteHeader(http.StatusAccepted)
		return
	}
	body, serr := s.readSET(w, r)
	if serr != nil {
		s.refused(p, serr, now)
		writeSETError(w, http.StatusBadRequest, serr)
		return
	}
	f, jti, serr, err := s.take(r.Context(), p, body, now)
	if err == nil && serr == nil {
		var facts []federation.Fact
		if f != nil {
			facts = append(facts, *f)
		}
		err = s.keep(r.Context(), p, facts, []string{jti}, now)
	}
	switch {
	case err != nil:
		s.log.Error("taking a pushed SET", "peer", p.Name, "err", err)
		w.Header().Set("Retry-After", "5")
		writeSETError(w, http.StatusServiceUnavailable, &SETError{Code: "temporarily_unavailable", Description: "try again later"})
	case serr != nil:
		s.refused(p, serr, now)
		writeSETError(w, http.StatusBadRequest, serr)
	default:
		w.WriteHeader(http.StatusAccepted)
	}
}

// readSET reads a pushed body: Content-Type application/secevent+jwt,
// at most max_body_bytes.
func (s *Service) readSET(w http.ResponseWriter, r *http.Request) (string, *SETError) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/secevent+jwt" {
		return "", refuse(ErrInvalidRequest, "Content-Type must be application/secevent+jwt")
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return "", refuse(ErrInvalidRequest, "SET larger than %d bytes", s.cfg.MaxBodyBytes)
	case err != nil:
		return "", refuse(ErrInvalidRequest, "reading the SET: %v", err)
	}
	return string(bytes.TrimSpace(data)), nil
}

// poll polls p's transmitter until ctx is done (RFC 8936): each answer's
// SETs are verified, their facts kept, and the next poll acknowledges
// them (or reports why they were refused).
func (s *Service) poll(ctx context.Context, p *peerState) {
	var ack []string
	errs := map[string]setErr{}
	failures := 0
	for ctx.Err() == nil {
		start := s.wall()
		resp, err := s.pollOnce(ctx, p, ack, errs)
		if err == nil {
			ack, errs, err = s.takePolled(ctx, p, resp)
		}
		var rest time.Duration
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			failures++
			rest = min(s.cfg.PollEvery<<min(failures-1, 4), 10*s.cfg.PollEvery)
			s.log.Warn("polling a peer failed", "peer", p.Name, "failures", failures, "retry_in", rest, "err", err)
		case resp.MoreAvailable || len(ack)+len(errs) > 0:
			failures = 0
		case s.wall().Sub(start) < time.Second:
			failures = 0
			rest = s.cfg.PollEvery // the peer did not hold the poll: rest
		default:
			failures = 0
		}
		if rest > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(rest):
			}
		}
	}
}

// pollOnce sends one poll with acknowledgements and errors.
func (s *Service) pollOnce(ctx context.Context, p *peerState, ack []string, errs map[string]setErr) (pollResponse, error) {
	n := 100
	body, err := json.Marshal(pollRequest{MaxEvents: &n, Ack: ack, SetErrs: errs})
	if err != nil {
		return pollResponse{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.PollURL, bytes.NewReader(body))
	if err != nil {
		return pollResponse{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.pollToken)
	resp, err := s.client.Do(req)
	if err != nil {
		return pollResponse{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return pollResponse{}, fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return decodePoll(io.LimitReader(resp.Body, int64(maxPollEvents)*s.cfg.MaxBodyBytes))
}

// takePolled verifies the SETs of a poll answer and keeps their facts;
// it returns what the next poll acknowledges and reports refused. When
// the facts cannot be kept, nothing is acknowledged (the SETs come back).
func (s *Service) takePolled(ctx context.Context, p *peerState, resp pollResponse) ([]string, map[string]setErr, error) {
	now := s.wall()
	var ack []string
	errs := map[string]setErr{}
	var facts []federation.Fact
	var jtis []string
	for jti, tok := range resp.Sets {
		if int64(len(tok)) > s.cfg.MaxBodyBytes {
			e := refuse(ErrInvalidRequest, "SET larger than %d bytes", s.cfg.MaxBodyBytes)
			s.refused(p, e, now)
			errs[jti] = setErr{Err: e.Code, Description: e.Description}
			continue
		}
		f, id, serr, err := s.take(ctx, p, tok, now)
		switch {
		case err != nil:
			return nil, nil, err
		case serr != nil && strings.HasPrefix(serr.Description, "duplicate jti"):
			ack = append(ack, jti) // had it already: acknowledge again
		case serr != nil:
			s.refused(p, serr, now)
			errs[jti] = setErr{Err: serr.Code, Description: serr.Description}
		default:
			ack = append(ack, jti)
			jtis = append(jtis, id)
			if f != nil {
				facts = append(facts, *f)
			}
		}
	}
	if err := s.keep(ctx, p, facts, jtis, now); err != nil {
		return nil, nil, err
	}
	return ack, errs, nil
}
