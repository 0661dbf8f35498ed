package guard

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/config"
	"github.com/atoguard/atoguard/internal/federation"
	"github.com/atoguard/atoguard/internal/simulate"
	"github.com/atoguard/atoguard/internal/ssf"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/sqlite"
	"github.com/atoguard/atoguard/internal/traffic"
)

// twoShopsTick is how often (wall time) the guards of the two-shop test
// tick: their engines publish what their incidents learned at each tick.
const twoShopsTick = 50 * time.Millisecond

// TestTwoShopsOverTheWire is "two shops, one crew" with two guards as two
// organizations: separate data directories, records and signing keys,
// each with its own owners, the same federation key, federated both ways
// over Shared Signals on loopback (A pushes to B; A polls B), each peer
// managing its stream at the other with an API key of the federation
// scope. A third guard is shop B alone. The crew hits shop A, then an
// hour later shop B with the same combo list; A and B are played in step,
// ten minutes of event time at a time, and A's SETs are delivered to B
// before B plays the same ten minutes. With the wiring cut (no fact
// reaching B's store, or B's engine not reading it), B federated is B
// alone and the test fails.
func TestTwoShopsOverTheWire(t *testing.T) {
	if testing.Short() || raceOn {
		t.Skip("three guards and a day of traffic over HTTP: minutes under -race; .ci/run runs it without")
	}
	sc, err := simulate.FederatedScenario()
	if err != nil {
		t.Fatal(err)
	}
	shrinkTwoShops(&sc)
	trafA, trafB, err := simulate.TwoShopsTraffic(simulate.Federated{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	fk := filepath.Join(t.TempDir(), "federation.key")
	if err := os.WriteFile(fk, []byte("two shops over the wire: the federation's key"), 0o600); err != nil {
		t.Fatal(err)
	}
	lnA, lnB := listen(t), listen(t)
	urlA, urlB := "http://"+lnA.Addr().String(), "http://"+lnB.Addr().String()
	const (
		keyOfBAtA = "agk_shop-b-manages-its-stream-at-a" // A's API key for B (scope federation)
		keyOfAAtB = "agk_shop-a-manages-its-stream-at-b" // B's API key for A
		pushAToB  = "push-secret-from-shop-a"            // what A's pushes to B carry
	)
	env := func(k string) string {
		return map[string]string{"PUSH_FROM_A": pushAToB, "POLL_KEY_AT_B": keyOfAAtB}[k]
	}
	cfgFor := func(issuer string, peer ssf.Peer) config.Config {
		c := config.Default()
		c.Data, c.Clock, c.TickEvery, c.Synchronous = t.TempDir(), string(clock.Event), twoShopsTick, "NORMAL"
		c.Federation.KeyFile = fk
		peer.Send, peer.Accept = federation.Kinds, federation.Kinds
		c.SSF = ssf.Config{Issuer: issuer, PollEvery: twoShopsTick, LongPoll: time.Second, Peers: []ssf.Peer{peer}}
		return c
	}
	log := slog.New(slog.DiscardHandler)

	// Shop B first: A's poll stream at B must exist before A starts.
	cfgB := cfgFor(urlB, ssf.Peer{Name: "shop-a", Issuer: urlA, JWKSURL: urlA + ssf.PathJWKS, PushTokenEnv: "PUSH_FROM_A"})
	putFederationKey(t, cfgB.Data, "shop-a", keyOfAAtB)
	b := startShop(t, cfgB, Options{Log: log, Listener: lnB, Getenv: env, BootstrapKey: multiBootstrap})
	var pollStream ssf.Stream
	if code := callAs(t, keyOfAAtB, "POST", urlB+ssf.PathStream, map[string]any{"delivery": map[string]any{"method": ssf.MethodPoll}},
		&pollStream); code != 201 {
		t.Fatalf("shop A creating its poll stream at B: %d", code)
	}
	cfgA := cfgFor(urlA, ssf.Peer{Name: "shop-b", Issuer: urlB, JWKSURL: urlB + ssf.PathJWKS,
		PollURL: pollStream.Delivery.EndpointURL, PollTokenEnv: "POLL_KEY_AT_B"})
	putFederationKey(t, cfgA.Data, "shop-b", keyOfBAtA)
	a := startShop(t, cfgA, Options{Log: log, Listener: lnA, Getenv: env, BootstrapKey: multiBootstrap})
	if code := callAs(t, keyOfBAtA, "POST", urlA+ssf.PathStream, map[string]any{"delivery": map[string]any{
		"method": ssf.MethodPush, "endpoint_url": urlB + ssf.PathPush + "shop-a", "authorization_header": "Bearer " + pushAToB}}, nil); code != 201 {
		t.Fatalf("shop B creating its push stream at A: %d", code)
	}
	cfgAlone := config.Default()
	cfgAlone.Data, cfgAlone.Listen, cfgAlone.Clock, cfgAlone.TickEvery = t.TempDir(), "127.0.0.1:0", string(clock.Event), twoShopsTick
	cfgAlone.Synchronous = "NORMAL"
	alone := startShop(t, cfgAlone, Options{Log: log, BootstrapKey: multiBootstrap})

	playA := simulate.NewShopPlayer(apiClient(t, a.URL()), trafA)
	playB := simulate.NewShopPlayer(apiClient(t, b.URL()), trafB)
	playAlone := simulate.NewShopPlayer(apiClient(t, alone.URL()), trafB)
	crewFrom, crewTo := crewSpan(t, trafA)
	const step = 10 * time.Minute
	// Before the crew, nobody has anything to tell: the three play at once.
	start := crewFrom.Truncate(step)
	if err := playAll(ctx, start, playA, playB, playAlone); err != nil {
		t.Fatal(err)
	}
	for until := start.Add(step); ; until = until.Add(step) {
		if err := playA.PlayUntil(ctx, until); err != nil {
			t.Fatal(err)
		}
		if !until.After(crewTo.Add(step)) {
			delivered(t, urlA, urlB)
		}
		if err := playAll(ctx, until, playB, playAlone); err != nil {
			t.Fatal(err)
		}
		if playA.Done() && playB.Done() && playAlone.Done() {
			break
		}
	}
	delivered(t, urlA, urlB)

	outA, fed, lone := playA.Outcome(), playB.Outcome(), playAlone.Outcome()
	out, _ := json.MarshalIndent(map[string]any{"shop_a": outA, "shop_b_alone": lone, "shop_b_federated": fed}, "", "  ")
	t.Logf("two shops over the wire (%d events at A, %d at B):\n%s", len(trafA), len(trafB), out)

	checkTwoShops(t, metricsOf(t, urlA), metricsOf(t, urlB), fed, lone)
}

// checkTwoShops checks the goals of "two shops, one crew" on what the
// guards' metrics say and on shop B's outcomes, federated and alone.
func checkTwoShops(t *testing.T, metA, metB map[string]float64, fed, lone simulate.ShopOutcome) {
	t.Helper()
	if got := metB[`atoguard_ssf_received_total{peer="shop-a"}`]; got == 0 {
		t.Fatalf("shop B received no fact from shop A over Shared Signals")
	} else {
		t.Logf("shop B took %v facts from shop A (pushed); shop A took %v from shop B (polled)", got, metA[`atoguard_ssf_received_total{peer="shop-b"}`])
	}
	if metA[`atoguard_ssf_received_total{peer="shop-b"}`] == 0 {
		t.Errorf("shop A polled no fact from shop B: federated one way only")
	}
	if lone.StolenLetIn == 0 {
		t.Fatalf("shop B alone let in no stolen login: the test measures nothing")
	}
	if fed.StolenLetIn*10 > lone.StolenLetIn {
		t.Errorf("stolen logins let in at shop B: federated %d, alone %d; want at most a tenth", fed.StolenLetIn, lone.StolenLetIn)
	}
	if fed.PeerReasons == 0 {
		t.Errorf("no answer of shop B named a peer's fact")
	}
	// As in simulate's TestTwoShopsOneCrew: at most half a point more than
	// alone (first logins on the crew's list are stepped up federated),
	// and within an attack day's budget of 1.5%.
	extra := fed.OwnerChallenged - lone.OwnerChallenged
	if extra*1000 > 5*fed.OwnerLogins || fed.OwnerChallenged*1000 > 15*fed.OwnerLogins || fed.OwnerLogins != lone.OwnerLogins {
		t.Errorf("owners' friction at shop B: federated %.2f%% (%d of %d), alone %.2f%% (%d of %d); want at most alone + 0.5 points, and 1.5%%",
			fed.OwnerFriction, fed.OwnerChallenged, fed.OwnerLogins, lone.OwnerFriction, lone.OwnerChallenged, lone.OwnerLogins)
	}
	after, err := time.ParseDuration(fed.IncidentAfter)
	if err != nil || after > 2*time.Minute || fed.AttemptsBefore > 10 || fed.AttemptsBefore >= lone.AttemptsBefore {
		t.Errorf("shop B's incident opened %s after the crew's first attempt, after %d attempts (alone: %s, %d); want within 2m and 10 attempts",
			fed.IncidentAfter, fed.AttemptsBefore, lone.IncidentAfter, lone.AttemptsBefore)
	}
}

// playAll plays each of ps until until, at once.
func playAll(ctx context.Context, until time.Time, ps ...*simulate.ShopPlayer) error {
	errs := make(chan error, len(ps))
	for _, p := range ps {
		go func() { errs <- p.PlayUntil(ctx, until) }()
	}
	var first error
	for range ps {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// shrinkTwoShops makes the two-shop day small enough to play over HTTP
// in well under a minute: fewer owners and a shorter history and attack,
// the crew's pace unchanged.
func shrinkTwoShops(sc *traffic.Scenario) {
	sc.Owners.Accounts = 5000
	sc.Warmup = traffic.Duration(168 * time.Hour)
	sc.Duration = traffic.Duration(16 * time.Hour)
	crew := &sc.Attacks[0]
	crew.Duration = traffic.Duration(3 * time.Hour)
	crew.SourceIPs = crew.SourceIPs * 3 / 8
}

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func startShop(t *testing.T, cfg config.Config, opts Options) *Guard {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	g, err := Start(context.Background(), cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Stop() })
	return g
}

func apiClient(t *testing.T, url string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{BaseURL: url, APIKey: multiBootstrap, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// putFederationKey records, in the guard's records under dir, an API key
// of the federation scope named after the peer that holds it.
func putFederationKey(t *testing.T, dir, peer, secret string) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dir, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(secret))
	if err := st.PutKey(ctx, store.APIKey{ID: "key_" + peer, Name: peer, Hash: sum[:],
		Scopes: []string{store.ScopeFederation}, CreatedAt: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
}

// crewSpan is the event time of the crew's first and last event in evs.
func crewSpan(t *testing.T, evs []traffic.Labeled) (from, to time.Time) {
	t.Helper()
	for _, l := range evs {
		if l.Label.Actor != traffic.ActorAttacker {
			continue
		}
		var ev client.Event
		if err := json.Unmarshal(l.Event, &ev); err != nil {
			t.Fatal(err)
		}
		if from.IsZero() {
			from = ev.OccurredAt
		}
		to = ev.OccurredAt
	}
	return from, to
}

// delivered waits until what shop A's engine published has reached shop
// B: a few of A's ticks pass (its engine publishes at each), then A's
// outbox for B is empty and B has taken or refused every SET A delivered.
func delivered(t *testing.T, urlA, urlB string) {
	t.Helper()
	time.Sleep(3 * twoShopsTick)
	for range 1000 {
		ma, mb := metricsOf(t, urlA), metricsOf(t, urlB)
		heard := mb[`atoguard_ssf_received_total{peer="shop-a"}`]
		for k, v := range mb {
			if strings.HasPrefix(k, `atoguard_ssf_rejected_total{peer="shop-a",`) {
				heard += v
			}
		}
		if ma[`atoguard_ssf_outbox_depth{peer="shop-b"}`] == 0 && heard >= ma[`atoguard_ssf_delivered_total{peer="shop-b"}`] {
			return
		}
		time.Sleep(twoShopsTick / 2)
	}
	t.Fatal("shop A's facts never reached shop B")
}

// metricsOf reads a guard's /metrics into series → value.
func metricsOf(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			out[line[:i]] = v
		}
	}
	return out
}
