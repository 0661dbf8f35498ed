package engine_test

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/stepup"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
)

// The benchmarks of this file price what a fleet of instances does per
// event (docs/scaling.md): the audit record's sealing, an own event that
// is told to the other instances, and a peer's event replayed.

// benchEngine is newBenchEngine with deps changed by edit.
func benchEngine(b *testing.B, st *memory.Store, edit func(*engine.Deps)) *engine.Engine {
	b.Helper()
	pol, err := policy.Default()
	if err != nil {
		b.Fatal(err)
	}
	deps := engine.Deps{Clock: clock.New(clock.Event, nil), Policy: pol, Records: st, Writer: st, Key: benchKey}
	if edit != nil {
		edit(&deps)
	}
	eng, err := engine.New(engine.Config{}, deps)
	if err != nil {
		b.Fatal(err)
	}
	return eng
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter reports the process's CPU time per operation (garbage
// collection included) beside the wall-clock ns/op: on a machine shared
// with other work, the CPU time moves much less than the wall clock.
type cpuMeter struct{ start time.Duration }

func startCPU(b *testing.B) cpuMeter { return cpuMeter{cpuTime(b)} }

func (m cpuMeter) report(b *testing.B) {
	b.ReportMetric(float64(cpuTime(b)-m.start)/float64(b.N), "cpu-ns/op")
	reportRate(b)
}

// assessFrom assesses b.N events one at a time, from the nth of the pool.
func assessFrom(b *testing.B, eng *engine.Engine, evs []event.Event, n uint64) {
	b.Helper()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU(b)
	for range b.N {
		if _, err := eng.Assess(ctx, benchEventAt(evs, n)); err != nil {
			b.Fatal(err)
		}
		n++
	}
	cpu.report(b)
}

// BenchmarkAssessSealer is BenchmarkAssess without and with the sealer
// `atoguard serve` gives the engine (the factor keys, AES-256-GCM): with
// it, each audit record's event is sealed, and an unknown account's login
// is kept as a keyed pseudonym. Run with -count N, the two alternate.
func BenchmarkAssessSealer(b *testing.B) {
	keys, err := stepup.ParseKeys(stepup.NewKeyEntry("k1"))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		sealer engine.Sealer
	}{{"sealer=off", nil}, {"sealer=on", keys}} {
		b.Run(c.name, func(b *testing.B) {
			evs := benchEvents(b)
			st := memory.New()
			eng := benchEngine(b, st, func(d *engine.Deps) { d.Sealer = c.sealer })
			assessFrom(b, eng, evs, warm(b, eng, evs))
		})
	}
}

// streamPeers is the engine's side of package hot without Redis: Publish
// seals each event as hot.Hub.Publish does (AES-256-GCM, a random nonce)
// and keeps it, where the hub would queue it for XADD.
type streamPeers struct {
	aead cipher.AEAD
	ad   []byte
	keep bool
	out  [][]byte
	size int // bytes published, sealed
}

func newStreamPeers(b *testing.B) *streamPeers {
	b.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		b.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		b.Fatal(err)
	}
	return &streamPeers{aead: aead, ad: []byte("atoguard:events")}
}

func (p *streamPeers) Publish(data []byte) {
	nonce := make([]byte, p.aead.NonceSize(), p.aead.NonceSize()+len(data)+p.aead.Overhead())
	_, _ = rand.Read(nonce)
	sealed := p.aead.Seal(nonce, nonce, data, p.ad)
	p.size += len(sealed)
	if p.keep {
		p.out = append(p.out, sealed)
	}
}

func (p *streamPeers) open(sealed []byte) ([]byte, error) {
	n := p.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("too short")
	}
	return p.aead.Open(nil, sealed[:n], sealed[n:], p.ad)
}

func (p *streamPeers) Claim(_ context.Context, _, id string, since time.Time) (string, time.Time, error) {
	return id, since, nil
}

func (p *streamPeers) Release(context.Context, string, string) (bool, error) { return true, nil }

// BenchmarkAssessPeers is an instance's own event, alone and in a fleet:
// with peers, each event is also encoded for the others and sealed as the
// Redis stream carries it (the stream's round trip itself is not here;
// it is off the answer's path). It reports the sealed bytes per event, the
// stream's payload.
func BenchmarkAssessPeers(b *testing.B) {
	for _, withPeers := range []bool{false, true} {
		name := "alone"
		if withPeers {
			name = "publishing"
		}
		b.Run(name, func(b *testing.B) {
			evs := benchEvents(b)
			st := memory.New()
			var peers *streamPeers
			eng := benchEngine(b, st, func(d *engine.Deps) {
				if withPeers {
					peers = newStreamPeers(b)
					d.Peers = peers
				}
			})
			n := warm(b, eng, evs)
			if peers != nil {
				peers.size = 0
			}
			assessFrom(b, eng, evs, n)
			if peers != nil {
				b.ReportMetric(float64(peers.size)/float64(b.N), "stream-B/event")
			}
		})
	}
}

// BenchmarkApply is a peer's event replayed: the sealed stream entry
// opened and engine.Apply run on it (decode, observe, incident
// attribution, what a replay writes). The events are those of
// BenchmarkAssess, assessed beforehand by another engine that published
// them; the replaying engine first replays one round of the pool, so that
// its detectors are as warm as BenchmarkAssess's.
func BenchmarkApply(b *testing.B) {
	evs := benchEvents(b)
	src := newStreamPeers(b)
	src.keep = true
	// The replaying instance shares the records the origin wrote, as
	// instances on one PostgreSQL do.
	st := memory.New()
	origin := benchEngine(b, st, func(d *engine.Deps) { d.Peers = src })
	ctx := context.Background()
	total := uint64(len(evs) + b.N)
	for n := uint64(0); n < total; n++ {
		if _, err := origin.Assess(ctx, benchEventAt(evs, n)); err != nil {
			b.Fatal(err)
		}
	}
	writes := &countingWriter{w: st}
	replica := benchEngine(b, st, func(d *engine.Deps) {
		d.Peers = newStreamPeers(b)
		d.Writer = writes
	})
	apply := func(sealed []byte) {
		data, err := src.open(sealed)
		if err != nil {
			b.Fatal(err)
		}
		if err := replica.Apply(ctx, data); err != nil {
			b.Fatal(err)
		}
	}
	for _, sealed := range src.out[:len(evs)] {
		apply(sealed)
	}
	rest := src.out[len(evs):]
	writes.n = 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU(b)
	for i := range b.N {
		apply(rest[i])
	}
	cpu.report(b)
	// Each write is a transaction of its own: the hub replays the
	// stream one event after the other.
	b.ReportMetric(float64(writes.n)/float64(b.N), "writes/event")
}

// countingWriter counts the writes it passes on.
type countingWriter struct {
	w engine.Writer
	n int
}

func (c *countingWriter) Write(ctx context.Context, b store.Batch) error {
	c.n++
	return c.w.Write(ctx, b)
}

// BenchmarkAuditSeal is the sealer's part of an event alone, which
// BenchmarkAssessSealer measures inside the whole assessment: sealing the
// redacted event (AES-256-GCM under the factor keys) and, for an event of
// an unknown account, its login's keyed pseudonym. It reports the
// redacted event's size.
func BenchmarkAuditSeal(b *testing.B) {
	keys, err := stepup.ParseKeys(stepup.NewKeyEntry("k1"))
	if err != nil {
		b.Fatal(err)
	}
	evs := benchEvents(b)
	eng := benchEngine(b, memory.New(), nil)
	redacted := make([][]byte, len(evs))
	size := 0
	for i := range evs {
		if redacted[i], err = evs[i].MarshalRedacted(); err != nil {
			b.Fatal(err)
		}
		size += len(redacted[i])
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU(b)
	for i := range b.N {
		j := i % len(evs)
		_ = keys.Seal(redacted[j], []byte("atoguard audit event\x00ev_0123456789abcdef"))
		if evs[j].User.ID == "" {
			_ = eng.AuditAccount(evs[j].Account())
		}
	}
	cpu.report(b)
	b.ReportMetric(float64(size)/float64(len(evs)), "event-B")
}
