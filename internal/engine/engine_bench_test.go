package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/store/groupcommit"
	"github.com/atoguard/atoguard/internal/store/memory"
	"github.com/atoguard/atoguard/internal/store/sqlite"
)

// The benchmark traffic: a shop's owners logging in (mostly from their own
// device and home network, now and then mistyping the password) while a
// credential-stuffing list is replayed against accounts that mostly do not
// exist, from many addresses.
const (
	benchOwners    = 2000
	benchAttackIPs = 5000
	benchPool      = 1 << 14          // distinct events, replayed in rounds
	benchSpan      = 10 * time.Minute // event time one round of the pool covers

	shareSucceeded = 0.55 // owners' correct logins
	shareTypo      = 0.15 // owners' wrong passwords (login.failed, account known)
	// the rest: login.failed for unknown accounts from attack addresses
)

var (
	benchStart = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)
	benchKey   = []byte("bench-key-0123456789abcdef-01234") // 32 bytes
)

const benchUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

// benchEvent returns the API JSON of event i of the pool.
func benchEvent(r *rand.Rand, i int) []byte {
	at := benchStart.Add(time.Duration(i) * benchSpan / benchPool)
	ev := map[string]any{
		"occurred_at": at.Format(time.RFC3339Nano),
		"request_id":  fmt.Sprintf("req-%d", i),
	}
	headers := map[string]string{
		"sec-ch-ua":          `"Chromium";v="131", "Not_A Brand";v="24"`,
		"sec-ch-ua-platform": `"Windows"`,
		"accept":             "text/html,application/xhtml+xml",
	}
	switch p := r.Float64(); {
	case p < shareSucceeded+shareTypo:
		o := r.IntN(benchOwners)
		ev["login"] = fmt.Sprintf("Owner.%d@Example.jp", o)
		ev["user"] = map[string]string{"id": fmt.Sprintf("u-%d", o), "email": fmt.Sprintf("owner.%d@example.jp", o)}
		ev["session_id"] = fmt.Sprintf("s-%d", i)
		ev["context"] = map[string]any{
			"ip":                 fmt.Sprintf("203.%d.%d.%d", 1+o/250, o%250, 10+o%7),
			"user_agent":         benchUA,
			"accept_language":    "ja-JP,ja;q=0.9",
			"device_id":          fmt.Sprintf("d-%06x", o*7919),
			"client_fingerprint": "t13d1516h2_8daaf6152771_b186095e22b6",
			"headers":            headers,
		}
		ev["credential"] = map[string]string{"password_sha1": fmt.Sprintf("%040X", o)}
		if p < shareSucceeded {
			ev["type"] = "login.succeeded"
		} else {
			ev["type"] = "login.failed"
			ev["properties"] = map[string]string{"reason": "bad_password"}
			ev["credential"] = map[string]string{"password_sha1": fmt.Sprintf("%040X", o+1<<20)}
		}
	default:
		a := r.IntN(benchAttackIPs)
		ev["type"] = "login.failed"
		ev["login"] = fmt.Sprintf("victim%d@mail.example", r.IntN(1_000_000))
		ev["context"] = map[string]any{
			"ip":                 fmt.Sprintf("185.%d.%d.%d", 10+a%50, a/50%256, 1+a%200),
			"user_agent":         benchUA,
			"accept_language":    "en-US,en;q=0.9",
			"client_fingerprint": fmt.Sprintf("t13d1516h2_%012x", a%40),
		}
		ev["credential"] = map[string]string{"password_sha1": fmt.Sprintf("%040X", r.Uint64())}
		ev["properties"] = map[string]string{"reason": "unknown_account"}
	}
	data, err := json.Marshal(ev)
	if err != nil {
		panic(err)
	}
	return data
}

// benchEvents decodes the pool once, as the API would.
func benchEvents(b *testing.B) []event.Event {
	b.Helper()
	r := rand.New(rand.NewPCG(1, 2))
	evs := make([]event.Event, benchPool)
	for i := range evs {
		ev, err := event.Decode(benchEvent(r, i))
		if err != nil {
			b.Fatalf("decoding bench event %d: %v", i, err)
		}
		evs[i] = ev
	}
	return evs
}

// benchEventAt returns the nth event assessed: the pool replayed in
// rounds, each round later in event time, so the clock only moves forward.
func benchEventAt(evs []event.Event, n uint64) event.Event {
	ev := evs[n%uint64(len(evs))]
	ev.OccurredAt = ev.OccurredAt.Add(time.Duration(n/uint64(len(evs))) * benchSpan)
	return ev
}

func newBenchEngine(b *testing.B, records engine.Records, w engine.Writer) *engine.Engine {
	b.Helper()
	pol, err := policy.Default()
	if err != nil {
		b.Fatal(err)
	}
	eng, err := engine.New(engine.Config{}, engine.Deps{Clock: clock.New(clock.Event, nil), Policy: pol, Records: records, Writer: w, Key: benchKey})
	if err != nil {
		b.Fatal(err)
	}
	return eng
}

// warm assesses one round of the pool so that owners have history, as
// they would in a running shop.
func warm(b *testing.B, eng *engine.Engine, evs []event.Event) uint64 {
	b.Helper()
	ctx := context.Background()
	const chunk = 512 // few commits, so a durable store warms up fast
	for i := 0; i < len(evs); i += chunk {
		if _, err := eng.AssessBatch(ctx, evs[i:min(i+chunk, len(evs))]); err != nil {
			b.Fatalf("warming up: %v", err)
		}
	}
	return uint64(len(evs))
}

func reportRate(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAssess assesses events one at a time on the memory store: the
// cost of detection, policy and building the records, without disk.
func BenchmarkAssess(b *testing.B) {
	evs := benchEvents(b)
	st := memory.New()
	eng := newBenchEngine(b, st, st)
	n := warm(b, eng, evs)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := eng.Assess(ctx, benchEventAt(evs, n)); err != nil {
			b.Fatal(err)
		}
		n++
	}
	reportRate(b)
}

// BenchmarkAssessParallel is BenchmarkAssess from GOMAXPROCS goroutines.
func BenchmarkAssessParallel(b *testing.B) {
	evs := benchEvents(b)
	st := memory.New()
	eng := newBenchEngine(b, st, st)
	var next atomic.Uint64
	next.Store(warm(b, eng, evs))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := context.Background()
		for pb.Next() {
			if _, err := eng.Assess(ctx, benchEventAt(evs, next.Add(1))); err != nil {
				b.Error(err)
				return
			}
		}
	})
	reportRate(b)
}

// BenchmarkAssessSQLite is the durable path of `atoguard serve`: SQLite
// behind the group committer, with many requests in flight (16 goroutines
// per CPU), so that concurrent events share transactions and fsyncs.
func BenchmarkAssessSQLite(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("synchronous="+sync, func(b *testing.B) {
			evs := benchEvents(b)
			ctx := context.Background()
			st, err := sqlite.Open(ctx, b.TempDir(), sqlite.Options{Synchronous: sync})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			gc := groupcommit.New(st, groupcommit.Options{})
			defer gc.Close()
			eng := newBenchEngine(b, st, gc)
			var next atomic.Uint64
			next.Store(warm(b, eng, evs))
			b.ReportAllocs()
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := eng.Assess(ctx, benchEventAt(evs, next.Add(1))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			reportRate(b)
		})
	}
}
