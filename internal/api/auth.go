package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/hashicorp/golang-lru/v2/simplelru"
)

// KeyStore looks up API keys by the SHA-256 of their secret.
type KeyStore interface {
	KeyByHash(ctx context.Context, hash []byte) (store.APIKey, error)
}

// keyring authenticates bearer secrets: the bootstrap key from the
// environment, then stored keys, cached briefly.
type keyring struct {
	bootstrap []byte // SHA-256 of ATOGUARD_API_KEY, or nil
	keys      KeyStore
	ttl       time.Duration

	mu sync.Mutex
	// known and unknown cache what the key store said of a secret's hash,
	// apart, each bounded (least recently used out): a flood of made-up
	// secrets neither pushes the shop's keys out nor costs a store lookup
	// each time the same one comes back.
	known   *simplelru.LRU[[32]byte, cachedKey]
	unknown *simplelru.LRU[[32]byte, time.Time] // until when it is known to be unknown
}

type cachedKey struct {
	key     store.APIKey
	found   bool
	expires time.Time
}

const maxCachedKeys = 10000 // per cache: known and unknown secrets

// staleKeyFor is how long past its cache expiry a key is still accepted
// while the key store cannot be read.
const staleKeyFor = 15 * time.Minute

func newKeyring(bootstrap string, keys KeyStore) *keyring {
	known, _ := simplelru.NewLRU[[32]byte, cachedKey](maxCachedKeys, nil) // size > 0
	unknown, _ := simplelru.NewLRU[[32]byte, time.Time](maxCachedKeys, nil)
	k := &keyring{keys: keys, ttl: 30 * time.Second, known: known, unknown: unknown}
	if bootstrap != "" {
		h := sha256.Sum256([]byte(bootstrap))
		k.bootstrap = h[:]
	}
	return k
}

// authenticate returns the key for a bearer secret; a *Problem 401 when
// there is none or it is unknown.
func (k *keyring) authenticate(ctx context.Context, header string, now time.Time) (store.APIKey, error) {
	secret, ok := strings.CutPrefix(header, "Bearer ")
	secret = strings.TrimSpace(secret)
	if !ok || secret == "" {
		return store.APIKey{}, problem(http.StatusUnauthorized, "unauthorized", "missing Authorization: Bearer <api key>")
	}
	sum := sha256.Sum256([]byte(secret))
	if k.bootstrap != nil && subtle.ConstantTimeCompare(sum[:], k.bootstrap) == 1 {
		return store.APIKey{ID: "bootstrap", Name: "ATOGUARD_API_KEY", Scopes: []string{store.ScopeEvents, store.ScopeChallenges, store.ScopeFactors, store.ScopeAdmin, store.ScopeFederation}}, nil
	}
	k.mu.Lock()
	c, hit := k.known.Get(sum)
	until, gone := k.unknown.Get(sum)
	k.mu.Unlock()
	if !hit && gone && now.Before(until) {
		return store.APIKey{}, problem(http.StatusUnauthorized, "unauthorized", "unknown API key")
	}
	if !hit || now.After(c.expires) {
		key, err := k.keys.KeyByHash(ctx, sum[:])
		switch {
		case errors.Is(err, store.ErrNotFound):
			k.mu.Lock()
			k.known.Remove(sum)
			k.unknown.Add(sum, now.Add(k.ttl))
			k.mu.Unlock()
			return store.APIKey{}, problem(http.StatusUnauthorized, "unauthorized", "unknown API key")
		case err != nil && hit && c.found && now.Before(c.expires.Add(staleKeyFor)):
			// The key store is out of reach (shared records down): a key
			// seen recently keeps working meanwhile, so events are still
			// answered; a revoked key stops within staleKeyFor at worst.
			// c stays as cached.
		case err != nil:
			p := problem(http.StatusServiceUnavailable, "not-ready", "key store unavailable")
			p.RetryAfter = 1
			p.Cause = fmt.Errorf("looking up key: %w", err)
			return store.APIKey{}, p
		default:
			// The index found it; compare the full hash in constant time too.
			c = cachedKey{key: key, found: subtle.ConstantTimeCompare(key.Hash, sum[:]) == 1, expires: now.Add(k.ttl)}
		}
		k.mu.Lock()
		k.known.Add(sum, c)
		k.unknown.Remove(sum)
		k.mu.Unlock()
	}
	if !c.found || c.key.Disabled {
		return store.APIKey{}, problem(http.StatusUnauthorized, "unauthorized", "unknown API key")
	}
	return c.key, nil
}

type ctxKey struct{}

// requireScope authenticates the request and checks that its key carries
// scope.
func (s *Server) requireScope(scope string, h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		key, err := s.keys.authenticate(r.Context(), r.Header.Get("Authorization"), time.Now())
		if err != nil {
			return err
		}
		if !slices.Contains(key.Scopes, scope) {
			return problem(http.StatusForbidden, "forbidden", fmt.Sprintf("API key %q lacks the %q scope", key.Name, scope))
		}
		if wait := s.quota.take(key.ID, time.Now()); wait > 0 {
			p := problem(http.StatusTooManyRequests, "rate-limited", fmt.Sprintf("API key %q is over its quota of %g requests per second", key.Name, s.cfg.QuotaPerSecond))
			p.RetryAfter = int(math.Ceil(wait.Seconds()))
			return p
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, key)))
	}
}

// quotas limits each API key to its own request rate (token bucket).
type quotas struct {
	rate  rate.Limit // 0: unlimited
	burst int

	mu       sync.Mutex
	limiters *simplelru.LRU[string, *rate.Limiter] // bounded: least recently used out
}

func newQuotas(perSecond float64, burst int) *quotas {
	if burst <= 0 {
		burst = max(1, int(perSecond))
	}
	limiters, _ := simplelru.NewLRU[string, *rate.Limiter](maxCachedKeys, nil) // size > 0
	return &quotas{rate: rate.Limit(perSecond), burst: burst, limiters: limiters}
}

// take spends one request of key's quota at now; a positive wait means
// the key is over it and may retry after that long.
func (q *quotas) take(keyID string, now time.Time) time.Duration {
	if q.rate <= 0 {
		return 0
	}
	q.mu.Lock()
	l, ok := q.limiters.Get(keyID)
	if !ok {
		l = rate.NewLimiter(q.rate, q.burst)
		q.limiters.Add(keyID, l)
	}
	q.mu.Unlock()
	if l.AllowN(now, 1) {
		return 0
	}
	r := l.ReserveN(now, 1)
	wait := r.DelayFrom(now)
	r.CancelAt(now)
	return max(wait, time.Second)
}
