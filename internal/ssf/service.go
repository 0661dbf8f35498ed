// Package ssf speaks OpenID Shared Signals (SSF 1.0) between guards: it
// transmits this guard's federation facts as signed Security Event Tokens
// (RFC 8417; RISC, CAEP and atoguard's campaign-indicator events) through
// a durable outbox, by push (RFC 8935) or poll (RFC 8936), to the peers
// each kind of fact is switched on for; and it receives its peers' SETs,
// verifies them and hands the facts they carry to a Sink.
package ssf

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/atoguard/atoguard/internal/federation"
)

// Sink takes the facts of verified SETs (package federation's store).
type Sink interface {
	Receive(ctx context.Context, facts []federation.Fact) error
}

// Deps are what the service is given besides its configuration.
type Deps struct {
	Log *slog.Logger // required
	// Sink takes received facts; required when a peer accepts any.
	Sink Sink
	// DataDir holds the signing keys (KeyFileName) and the state
	// (StateFileName); required.
	DataDir string
	// Wall is the wall clock (never the event clock: SETs carry wall
	// times); nil means time.Now.
	Wall func() time.Time
	// Client sends pushes, polls and fetches peers' JWKS; nil: a client
	// with timeouts.
	Client *http.Client
	// Getenv reads the peers' tokens named by *_env; nil means os.Getenv.
	Getenv func(string) string
}

// Service is a guard's Shared Signals transmitter and receiver.
type Service struct {
	cfg    Config
	log    *slog.Logger
	sink   Sink
	wall   func() time.Time
	client *http.Client
	keys   *Keys
	state  *state
	peers  map[string]*peerState
	met    *metrics

	holds    map[string]hold // push streams held after failures; the push loop's own
	quit     chan struct{}   // closed when Run returns: long polls end
	quitOnce sync.Once

	mu      sync.Mutex
	changed chan struct{} // closed and replaced whenever the outbox grows
	lastVer map[string]time.Time
}

// peerState is a configured peer with what the receiver keeps of it.
type peerState struct {
	Peer
	audience  string
	pushToken []byte // nil: the peer cannot push
	pollToken string
	jwks      *jwksCache

	mu         sync.Mutex
	badWindow  time.Time // start of the minute bad counts
	bad        int
	lastLogged time.Time
}

// New opens the service of cfg (validated; Enabled): its signing keys
// and state in deps.DataDir, and the peers' tokens and key files.
func New(cfg Config, deps Deps) (*Service, error) {
	if deps.Log == nil || deps.DataDir == "" {
		return nil, errors.New("ssf: no logger or data directory")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled() {
		return nil, errors.New("ssf: no issuer: federation is off")
	}
	cfg = cfg.withDefaults()
	s := &Service{cfg: cfg, log: deps.Log, sink: deps.Sink, wall: deps.Wall, client: deps.Client,
		changed: make(chan struct{}), quit: make(chan struct{}), holds: map[string]hold{}, lastVer: map[string]time.Time{}, peers: map[string]*peerState{}}
	if s.wall == nil {
		s.wall = time.Now
	}
	if s.client == nil {
		// No redirects: a peer's endpoint cannot send the guard's
		// requests (and their tokens) elsewhere.
		s.client = &http.Client{Timeout: cfg.LongPoll + 30*time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	getenv := deps.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	for _, p := range cfg.Peers {
		ps, err := s.newPeer(p, getenv)
		if err != nil {
			return nil, fmt.Errorf("ssf: peer %s: %w", p.Name, err)
		}
		if len(p.Accept) > 0 && s.sink == nil {
			return nil, fmt.Errorf("ssf: peer %s accepts facts, but nothing takes them (no sink)", p.Name)
		}
		s.peers[p.Name] = ps
	}
	keys, created, err := LoadKeys(filepath.Join(deps.DataDir, KeyFileName), s.wall())
	if err != nil {
		return nil, err
	}
	if created {
		s.log.Info("created the federation signing key", "file", filepath.Join(deps.DataDir, KeyFileName))
	}
	s.keys = keys
	if s.state, err = openState(filepath.Join(deps.DataDir, StateFileName)); err != nil {
		return nil, err
	}
	s.met = newMetrics(s)
	return s, nil
}

func (s *Service) newPeer(p Peer, getenv func(string) string) (*peerState, error) {
	ps := &peerState{Peer: p, audience: s.cfg.audienceFor(p)}
	tok, err := secret(p.PushTokenEnv, p.PushTokenFile, getenv)
	if err != nil {
		return nil, fmt.Errorf("push token: %w", err)
	}
	if tok != "" {
		ps.pushToken = []byte(tok)
	}
	if p.PollURL != "" {
		if ps.pollToken, err = secret(p.PollTokenEnv, p.PollTokenFile, getenv); err != nil {
			return nil, fmt.Errorf("poll token: %w", err)
		}
		if ps.pollToken == "" {
			return nil, errors.New("poll token: empty")
		}
	}
	if p.JWKSURL != "" || p.JWKSFile != "" {
		ps.jwks = &jwksCache{url: p.JWKSURL, file: p.JWKSFile, client: s.client}
		if p.JWKSFile != "" {
			if err := ps.jwks.refresh(context.Background(), s.wall(), true); err != nil {
				return nil, err
			}
		}
	}
	return ps, nil
}

// secret reads a token from the environment variable env or the file.
func secret(env, file string, getenv func(string) string) (string, error) {
	switch {
	case env != "":
		if v := strings.TrimSpace(getenv(env)); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("environment variable %s is unset or empty", env)
	case file != "":
		data, err := os.ReadFile(file)
		if err != nil {
			return "", err
		}
		if v := strings.TrimSpace(string(data)); v != "" {
			return v, nil
		}
		return "", fmt.Errorf("%s is empty", file)
	}
	return "", nil
}

// Close closes the state file; call it after Run has returned.
func (s *Service) Close() error { return s.state.close() }

// Issuer returns this guard's issuer.
func (s *Service) Issuer() string { return s.cfg.Issuer }

// Run delivers pushed SETs, polls the peers that are polled and prunes
// the outbox and the replay memory, until ctx is done.
func (s *Service) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, p := range s.peers {
		if p.PollURL != "" && !p.Paused {
			wg.Add(1)
			go func() { defer wg.Done(); s.poll(ctx, p) }()
		}
	}
	s.pushLoop(ctx)
	s.quitOnce.Do(func() { close(s.quit) })
	wg.Wait()
}

// notify wakes long polls and the push loop: the outbox grew.
func (s *Service) notify() {
	s.mu.Lock()
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

// changes returns a channel closed when the outbox next grows.
func (s *Service) changes() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// Publish signs a SET for each fact and each peer stream that fact is
// switched on for (the peer's send list, the stream's events), and queues
// them durably: when it returns nil they are delivered even across a
// restart, until they age out (retain). It satisfies the engine's
// Publisher.
func (s *Service) Publish(ctx context.Context, facts []federation.Fact) error {
	if len(facts) == 0 {
		return nil
	}
	streams, err := s.state.streams(ctx, "")
	if err != nil {
		return fmt.Errorf("publishing facts: %w", err)
	}
	now := s.wall()
	var sets []queued
	for _, st := range streams {
		p, ok := s.peers[st.Peer]
		if !ok || p.Paused || st.Status == StatusDisabled {
			continue
		}
		events := delivered(st.EventsRequested, p)
		for _, f := range facts {
			if !p.sends(f) || !slices.Contains(events, EventType(f.Kind)) {
				continue
			}
			jti := randomID(16)
			c, err := factClaims(f, s.cfg.Issuer, st.Audience, jti, now)
			if err != nil {
				s.log.Warn("fact not sent", "peer", st.Peer, "kind", f.Kind, "err", err)
				continue
			}
			body, err := json.Marshal(c)
			if err != nil {
				return fmt.Errorf("publishing facts: %w", err)
			}
			sets = append(sets, queued{Stream: st.ID, JTI: jti, Claims: body})
		}
	}
	if err := s.state.enqueue(ctx, sets, now); err != nil {
		return fmt.Errorf("publishing facts: %w", err)
	}
	if len(sets) > 0 {
		s.notify()
	}
	return nil
}

// sends reports whether f may go to the peer.
func (p *peerState) sends(f federation.Fact) bool {
	if !slices.Contains(p.Send, f.Kind) {
		return false
	}
	return f.SubjectFormat != federation.SubjectEmail || p.SendEmail
}

// sign makes the compact JWS of the claims of q, issued at now, with
// the current key: typ secevent+jwt, RS256. The fact's ttl counts from
// when it was queued, so it is shortened by the time it waited.
func (s *Service) sign(q queued, now time.Time) (string, error) {
	var c claims
	if err := json.Unmarshal(q.Claims, &c); err != nil {
		return "", fmt.Errorf("queued SET %s: %w", q.JTI, err)
	}
	if waited := now.Unix() - c.IssuedAt; waited > 0 {
		if err := shortenTTL(&c, waited); err != nil {
			return "", fmt.Errorf("queued SET %s: %w", q.JTI, err)
		}
	}
	c.IssuedAt = now.Unix()
	key := s.keys.current(now)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key},
		(&jose.SignerOptions{}).WithType(SETType))
	if err != nil {
		return "", fmt.Errorf("signing SET: %w", err)
	}
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(body)
	if err != nil {
		return "", fmt.Errorf("signing SET: %w", err)
	}
	return jws.CompactSerialize()
}

// shortenTTL takes waited seconds off the ttl of c's event (at least 1
// is left), so that a SET delivered late does not make its fact live
// longer than the sender meant.
func shortenTTL(c *claims, waited int64) error {
	for typ, raw := range c.Events {
		var p payload
		if err := json.Unmarshal(raw, &p); err != nil {
			return err
		}
		if p.TTL == 0 {
			continue
		}
		p.TTL = max(1, p.TTL-waited)
		ev, err := json.Marshal(p)
		if err != nil {
			return err
		}
		c.Events[typ] = ev
	}
	return nil
}

// SETType is the typ header of every SET (RFC 8417 section 2.3).
const SETType = "secevent+jwt"

func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails
	return hex.EncodeToString(b)
}
