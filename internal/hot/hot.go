// Package hot joins several instances of the guard into one through Redis.
//
// Each instance keeps its detectors (windows, sketches, familiarity cache,
// campaign baseline, sessions) in memory, where an event is answered
// without a network round trip, and tells the others what it assessed:
// every event, with its decision, goes into one Redis stream, sealed with
// a key derived from the guard's secret, and every instance replays the
// others' events into its own detectors. A campaign spread over instances
// behind a load balancer is thus one campaign to each of them. The
// instances also agree in Redis on one incident per campaign (Claim) and
// hold locks for answers to challenges (Lock).
//
// Round trips: publishing is pipelined, one XADD round trip per batch of
// up to 512 events queued while the previous one was in flight; reading is
// one blocking XREAD per batch of up to 1,000 peers' events, replayed
// together. Neither is on the path of an event's answer.
//
// When Redis is out of reach the instance keeps answering on its own
// state, queues what it publishes (up to Config.Backlog events, the oldest
// dropped beyond it, counted) and says so (Status); when Redis is back it
// publishes the backlog and reads on from where it stopped.
package hot

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Outage policies: what the guard does while Redis is out of reach.
const (
	FailOpen   = "open"   // answer on local state, as usual
	FailClosed = "closed" // answer on local state, and the policy's guard.degraded rule steps up unfamiliar logins
)

// Config is the hot section of the configuration.
type Config struct {
	// URL is the Redis server, e.g. redis://127.0.0.1:6379/0; empty: this
	// instance is alone.
	URL string `yaml:"url"`
	// OnOutage is open (default) or closed.
	OnOutage string `yaml:"on_outage"`
	// Prefix of the Redis keys (default "atoguard"); instances of one
	// guard share it.
	Prefix string `yaml:"prefix"`
	// StreamMax is about the number of events the stream keeps (default
	// 100,000, about 100 MB in Redis); an instance that falls further
	// behind misses the oldest.
	StreamMax int64 `yaml:"stream_max"`
	// Backlog is the number of events queued for publishing while Redis is
	// out of reach (default 200,000).
	Backlog int `yaml:"backlog"`
	// ProbeEvery is how often Redis is pinged, with half that long to
	// answer (at most 500ms), so a hung server is noticed within about
	// this long (default 1s).
	ProbeEvery time.Duration `yaml:"probe_every"`
}

// Validate checks the section.
func (c Config) Validate() error {
	switch c.OnOutage {
	case "", FailOpen, FailClosed:
	default:
		return fmt.Errorf("hot.on_outage: %q is neither open nor closed", c.OnOutage)
	}
	if c.URL == "" {
		return nil
	}
	if _, err := redis.ParseURL(c.URL); err != nil {
		return fmt.Errorf("hot.url: %w", err)
	}
	if c.StreamMax < 0 || c.Backlog < 0 {
		return errors.New("hot.stream_max and hot.backlog must not be negative")
	}
	if c.ProbeEvery < 0 || c.ProbeEvery > time.Minute {
		return fmt.Errorf("hot.probe_every: %v is not within 0-1m (0: the default, 1s)", c.ProbeEvery)
	}
	return nil
}

func (c Config) withDefaults() Config {
	if c.OnOutage == "" {
		c.OnOutage = FailOpen
	}
	if c.Prefix == "" {
		c.Prefix = "atoguard"
	}
	if c.StreamMax == 0 {
		c.StreamMax = 100_000
	}
	if c.Backlog == 0 {
		c.Backlog = 200_000
	}
	if c.ProbeEvery == 0 {
		c.ProbeEvery = time.Second
	}
	return c
}

// Applier replays peers' events in the stream's order
// (engine.Engine.ApplyBatch), the events of one read at a time, so that
// what replaying them writes is one write; it returns one error per
// event, nil for each one replayed.
type Applier func(ctx context.Context, batch [][]byte) []error

// Hub is this instance's connection to the others. It is safe for
// concurrent use.
type Hub struct {
	cfg      Config
	rdb      *redis.Client
	log      *slog.Logger
	instance string
	aead     cipher.AEAD
	stream   string

	mu      sync.Mutex
	backlog [][]byte
	wake    chan struct{}

	up        atomic.Bool // the last round trip to Redis worked
	published atomic.Int64
	applied   atomic.Int64
	dropped   atomic.Int64
	failed    atomic.Int64 // peers' events that did not apply
	trips     atomic.Int64 // round trips to Redis
	lastErr   atomic.Pointer[string]
}

// Open connects to Redis. secret is the guard's secret key: every instance
// must have the same one. The connection is checked, but a Redis out of
// reach is not an error: the hub starts degraded and joins when it can.
func Open(ctx context.Context, cfg Config, secret []byte, log *slog.Logger) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.URL == "" {
		return nil, errors.New("hot: no Redis URL")
	}
	cfg = cfg.withDefaults()
	opts, err := redis.ParseURL(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("hot.url: %w", err)
	}
	// Redis 7.0 knows neither CLIENT SETINFO nor maintenance notifications;
	// asking logs an error on every connection.
	opts.DisableIdentity = true
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	opts.DialTimeout = 2 * time.Second
	opts.ReadTimeout = 2 * time.Second
	opts.WriteTimeout = 2 * time.Second
	opts.MaxRetries = 0               // the hub retries itself, without blocking answers
	opts.ContextTimeoutEnabled = true // a caller's deadline (the probe's) bounds the wait for an answer

	m := hmac.New(sha256.New, secret)
	m.Write([]byte("atoguard hot stream v1"))
	block, err := aes.NewCipher(m.Sum(nil))
	if err != nil {
		return nil, fmt.Errorf("hot: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("hot: %w", err)
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	h := &Hub{
		cfg: cfg, rdb: redis.NewClient(opts), log: log, instance: hex.EncodeToString(id[:]),
		aead: aead, stream: cfg.Prefix + ":events", wake: make(chan struct{}, 1),
	}
	quietLibrary.Do(func() { redis.SetLogger(debugLogger{log}) })
	pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	h.roundTrip(h.rdb.Ping(pctx).Err())
	return h, nil
}

// Close closes the connection to Redis.
func (h *Hub) Close() error { return h.rdb.Close() }

// OnOutage returns the configured outage policy.
func (h *Hub) OnOutage() string { return h.cfg.OnOutage }

// Instance is this instance's random name in the stream.
func (h *Hub) Instance() string { return h.instance }

func (h *Hub) roundTrip(err error) error {
	h.trips.Add(1)
	if err != nil && !errors.Is(err, redis.Nil) {
		if h.up.Swap(false) || h.lastErr.Load() == nil {
			h.log.Warn("Redis out of reach; answering on this instance's own state", "err", err)
		}
		msg := err.Error()
		h.lastErr.Store(&msg)
		return err
	}
	if !h.up.Swap(true) {
		h.log.Info("Redis reachable; sharing state with the other instances")
	}
	return err
}

// Status is the hub's health, for /readyz and metrics.
type Status struct {
	Connected  bool   `json:"connected"`
	Instance   string `json:"instance"`
	OnOutage   string `json:"on_outage"`
	Backlog    int    `json:"backlog"`   // events waiting to be published
	Published  int64  `json:"published"` // events published
	Applied    int64  `json:"applied"`   // peers' events replayed
	Dropped    int64  `json:"dropped"`   // events dropped from a full backlog
	Failed     int64  `json:"failed"`    // peers' events that could not be replayed
	RoundTrips int64  `json:"round_trips"`
	LastError  string `json:"last_error,omitempty"`
}

// Status returns the hub's health.
func (h *Hub) Status() Status {
	h.mu.Lock()
	n := len(h.backlog)
	h.mu.Unlock()
	st := Status{
		Connected: h.up.Load(), Instance: h.instance, OnOutage: h.cfg.OnOutage, Backlog: n,
		Published: h.published.Load(), Applied: h.applied.Load(), Dropped: h.dropped.Load(),
		Failed: h.failed.Load(), RoundTrips: h.trips.Load(),
	}
	if e := h.lastErr.Load(); e != nil && !st.Connected {
		st.LastError = *e
	}
	return st
}

// Degraded reports whether this instance is on its own: Redis out of
// reach.
func (h *Hub) Degraded() bool { return !h.up.Load() }

// Publish queues an event for the other instances (engine.Peers).
func (h *Hub) Publish(data []byte) {
	nonce := make([]byte, h.aead.NonceSize(), h.aead.NonceSize()+len(data)+h.aead.Overhead())
	_, _ = rand.Read(nonce)
	sealed := h.aead.Seal(nonce, nonce, data, []byte(h.stream))
	h.mu.Lock()
	if len(h.backlog) >= h.cfg.Backlog {
		h.backlog = h.backlog[1:]
		h.dropped.Add(1)
	}
	h.backlog = append(h.backlog, sealed)
	h.mu.Unlock()
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *Hub) open(sealed []byte) ([]byte, error) {
	n := h.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("sealed event too short")
	}
	return h.aead.Open(nil, sealed[:n], sealed[n:], []byte(h.stream))
}

// Run publishes this instance's events and replays the others' with apply
// until ctx is done.
func (h *Hub) Run(ctx context.Context, apply Applier) error {
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); h.publishLoop(ctx) }()
	go func() { defer wg.Done(); h.readLoop(ctx, apply) }()
	go func() { defer wg.Done(); h.probeLoop(ctx) }()
	wg.Wait()
	return nil
}

// probeLoop pings Redis every ProbeEvery with a short deadline: a server
// that hangs (stopped, swapping, a network that drops packets) answers no
// blocking read either, and without the probe would be noticed only when
// that read times out, seconds later.
func (h *Hub) probeLoop(ctx context.Context) {
	every := h.cfg.ProbeEvery
	wait := min(every/2, 500*time.Millisecond)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pctx, cancel := context.WithTimeout(ctx, wait)
		err := h.rdb.Ping(pctx).Err()
		cancel()
		if ctx.Err() != nil {
			return
		}
		h.roundTrip(err)
	}
}

const maxPipeline = 512

func (h *Hub) publishLoop(ctx context.Context) {
	backoff := newBackoff()
	for {
		h.mu.Lock()
		n := min(len(h.backlog), maxPipeline)
		batch := append([][]byte(nil), h.backlog[:n]...)
		h.mu.Unlock()
		if n == 0 {
			select {
			case <-ctx.Done():
				return
			case <-h.wake:
				continue
			}
		}
		pipe := h.rdb.Pipeline()
		for _, d := range batch {
			pipe.XAdd(ctx, &redis.XAddArgs{
				Stream: h.stream, MaxLen: h.cfg.StreamMax, Approx: true,
				Values: []any{"i", h.instance, "d", d},
			})
		}
		_, err := pipe.Exec(ctx)
		if ctx.Err() != nil {
			return
		}
		if h.roundTrip(err) != nil {
			if !backoff.wait(ctx) {
				return
			}
			continue
		}
		backoff.reset()
		h.mu.Lock()
		// Publish may have dropped the oldest meanwhile; drop what was sent.
		sent := min(n, len(h.backlog))
		h.backlog = h.backlog[sent:]
		h.mu.Unlock()
		h.published.Add(int64(n))
	}
}

func (h *Hub) readLoop(ctx context.Context, apply Applier) {
	backoff := newBackoff()
	last := ""
	for ctx.Err() == nil {
		if last == "" {
			// Start at the end: what came before is in the shared records
			// and in the campaign baseline saved there.
			msgs, err := h.rdb.XRevRangeN(ctx, h.stream, "+", "-", 1).Result()
			if h.roundTrip(err) != nil {
				if !backoff.wait(ctx) {
					return
				}
				continue
			}
			last = "0-0"
			if len(msgs) > 0 {
				last = msgs[0].ID
			}
		}
		res, err := h.rdb.XRead(ctx, &redis.XReadArgs{Streams: []string{h.stream, last}, Count: 1000, Block: time.Second}).Result()
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, redis.Nil) { // nothing new within Block
			h.roundTrip(nil)
			continue
		}
		if h.roundTrip(err) != nil {
			if !backoff.wait(ctx) {
				return
			}
			continue
		}
		backoff.reset()
		h.replay(ctx, res, &last, apply)
	}
}

// replay opens the peers' events of one read and applies them together;
// last moves to the read's last entry.
func (h *Hub) replay(ctx context.Context, res []redis.XStream, last *string, apply Applier) {
	var ids []string
	var batch [][]byte
	for _, s := range res {
		for _, m := range s.Messages {
			*last = laterID(*last, m.ID)
			if m.Values["i"] == h.instance {
				continue
			}
			d, _ := m.Values["d"].(string)
			data, err := h.open([]byte(d))
			if err != nil {
				h.failed.Add(1)
				h.log.Warn("replaying a peer's event", "id", m.ID, "err", err)
				continue
			}
			ids = append(ids, m.ID)
			batch = append(batch, data)
		}
	}
	if len(batch) == 0 {
		return
	}
	for i, err := range apply(ctx, batch) {
		if err != nil {
			h.failed.Add(1)
			h.log.Warn("replaying a peer's event", "id", ids[i], "err", err)
			continue
		}
		h.applied.Add(1)
	}
}

// laterID returns the later of two stream ids: a Redis that restarted
// empty numbers its entries from its clock again.
func laterID(a, b string) string {
	am, as := splitID(a)
	bm, bs := splitID(b)
	if bm > am || bm == am && bs > as {
		return b
	}
	return a
}

func splitID(id string) (uint64, uint64) {
	ms, seq, _ := strings.Cut(id, "-")
	m, _ := strconv.ParseUint(ms, 10, 64)
	s, _ := strconv.ParseUint(seq, 10, 64)
	return m, s
}

// Claim makes id, started at since, kind's open incident unless another
// instance claimed one (engine.Peers). The claim lapses after a day
// without Release.
func (h *Hub) Claim(ctx context.Context, kind, id string, since time.Time) (string, time.Time, error) {
	key := h.cfg.Prefix + ":incident:" + kind
	val := id + " " + strconv.FormatInt(since.UnixNano(), 10)
	prev, err := h.rdb.SetArgs(ctx, key, val, redis.SetArgs{Mode: "NX", Get: true, TTL: 24 * time.Hour}).Result()
	if errors.Is(err, redis.Nil) {
		h.roundTrip(nil)
		return id, since, nil // claimed
	}
	if h.roundTrip(err) != nil {
		return "", time.Time{}, fmt.Errorf("claiming the %s incident: %w", kind, err)
	}
	pid, ns, ok := strings.Cut(prev, " ")
	n, perr := strconv.ParseInt(ns, 10, 64)
	if !ok || perr != nil {
		return "", time.Time{}, fmt.Errorf("claiming the %s incident: malformed claim %q", kind, prev)
	}
	return pid, time.Unix(0, n).UTC(), nil
}

var releaseScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and string.sub(v, 1, string.len(ARGV[1]) + 1) == ARGV[1] .. ' ' then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// Release ends the claim on kind's incident id (engine.Peers); it reports
// whether this call ended it.
func (h *Hub) Release(ctx context.Context, kind, id string) (bool, error) {
	n, err := releaseScript.Run(ctx, h.rdb, []string{h.cfg.Prefix + ":incident:" + kind}, id).Int()
	if h.roundTrip(err) != nil {
		return false, fmt.Errorf("releasing the %s incident: %w", kind, err)
	}
	return n == 1, nil
}

var unlockScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)

// Lock takes the lock name across instances, waiting up to ctx's deadline
// (at most 5 s); it lapses after ttl if never released. It returns the
// function that releases it.
func (h *Hub) Lock(ctx context.Context, name string, ttl time.Duration) (func(), error) {
	key := h.cfg.Prefix + ":lock:" + name
	var tok [12]byte
	_, _ = rand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	wait := 2 * time.Millisecond
	for {
		ok, err := h.rdb.SetNX(ctx, key, token, ttl).Result()
		if h.roundTrip(err) != nil {
			return nil, fmt.Errorf("taking lock %s: %w", name, err)
		}
		if ok {
			return func() {
				uctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				h.roundTrip(unlockScript.Run(uctx, h.rdb, []string{key}, token).Err())
			}, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("taking lock %s: %w", name, ctx.Err())
		case <-time.After(wait):
		}
		wait = min(wait*2, 100*time.Millisecond)
	}
}

// quietLibrary sends go-redis's own log lines (a failed dial each retry)
// to the first hub's logger at debug level: the hub reports Redis going
// and coming back once, at warn and info. go-redis has one logger per
// process.
var quietLibrary sync.Once

type debugLogger struct{ log *slog.Logger }

func (d debugLogger) Printf(ctx context.Context, format string, v ...any) {
	d.log.DebugContext(ctx, "go-redis: "+fmt.Sprintf(format, v...))
}

type backoff struct{ d time.Duration }

func newBackoff() *backoff { return &backoff{d: 50 * time.Millisecond} }

func (b *backoff) reset() { b.d = 50 * time.Millisecond }

// wait sleeps for the next delay, doubling up to 2 s; false when ctx ends.
func (b *backoff) wait(ctx context.Context) bool {
	t := time.NewTimer(b.d)
	defer t.Stop()
	b.d = min(b.d*2, 2*time.Second)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
