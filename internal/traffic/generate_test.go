package traffic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// apiEvent is what a consumer of POST /v1/events reads; pointers tell a
// missing field from an empty one.
type apiEvent struct {
	Type       *string     `json:"type"`
	OccurredAt *string     `json:"occurred_at"`
	RequestID  *string     `json:"request_id"`
	Login      *string     `json:"login"`
	User       *apiUser    `json:"user"`
	SessionID  *string     `json:"session_id"`
	Context    *apiContext `json:"context"`
	Credential *struct {
		PasswordSHA1 *string `json:"password_sha1"`
	} `json:"credential"`
	Properties *struct {
		Reason *string   `json:"reason"`
		Order  *apiOrder `json:"order"`
	} `json:"properties"`

	at time.Time // parsed OccurredAt
}

type apiUser struct {
	ID    *string `json:"id"`
	Email *string `json:"email"`
}

type apiContext struct {
	IP                *string           `json:"ip"`
	UserAgent         *string           `json:"user_agent"`
	AcceptLanguage    *string           `json:"accept_language"`
	DeviceID          *string           `json:"device_id"`
	ClientFingerprint *string           `json:"client_fingerprint"`
	Headers           map[string]string `json:"headers"`
}

type apiOrder struct {
	ID       string `json:"id"`
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Items    []struct {
		SKU       string `json:"sku"`
		Quantity  int64  `json:"quantity"`
		UnitPrice int64  `json:"unit_price"`
	} `json:"items"`
	Shipping struct {
		Name       string `json:"name"`
		PostalCode string `json:"postal_code"`
		Country    string `json:"country"`
		Region     string `json:"region"`
		City       string `json:"city"`
		Line1      string `json:"line1"`
		NewForUser bool   `json:"new_for_user"`
	} `json:"shipping"`
	Payment struct {
		Method     string `json:"method"`
		NewForUser bool   `json:"new_for_user"`
	} `json:"payment"`
	Delivery struct {
		Method      string  `json:"method"`
		PickupStore *string `json:"pickup_store"`
	} `json:"delivery"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// decodeAll decodes every event strictly (a field outside the contract is
// an error) and parses its time.
func decodeAll(t *testing.T, evs []Labeled) []apiEvent {
	t.Helper()
	out := make([]apiEvent, len(evs))
	for i, l := range evs {
		dec := json.NewDecoder(bytes.NewReader(l.Event))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&out[i]); err != nil {
			t.Fatalf("event %d: %v\n%s", i, err, l.Event)
		}
		at, err := time.Parse(time.RFC3339Nano, str(out[i].OccurredAt))
		if err != nil {
			t.Fatalf("event %d: occurred_at: %v", i, err)
		}
		out[i].at = at
	}
	return out
}

// generated is a scenario file with its traffic, generated once per test.
type generated struct {
	s   Scenario
	evs []Labeled
	api []apiEvent
}

func generateFile(t *testing.T, name string) generated {
	t.Helper()
	s, err := Load(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	evs, err := Generate(s)
	if err != nil {
		t.Fatal(err)
	}
	return generated{s: s, evs: evs, api: decodeAll(t, evs)}
}

var (
	occurredAtRE = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$`)
	sha1RE       = regexp.MustCompile(`^[0-9A-F]{40}$`)
)

// checkEvent returns what is wrong with one event and its label against
// docs/api.md and the label rules.
func checkEvent(s Scenario, l Label, e apiEvent) []string {
	var bad []string
	fail := func(format string, args ...any) { bad = append(bad, fmt.Sprintf(format, args...)) }
	typ := str(e.Type)

	if !occurredAtRE.MatchString(str(e.OccurredAt)) {
		fail("occurred_at %q is not RFC 3339 UTC with second or millisecond precision", str(e.OccurredAt))
	}
	if str(e.RequestID) == "" {
		fail("no request_id")
	}
	if e.Context == nil {
		fail("no context")
	} else {
		if _, err := netip.ParseAddr(str(e.Context.IP)); err != nil {
			fail("context.ip: %v", err)
		}
		ua := str(e.Context.UserAgent)
		if ua == "" || str(e.Context.ClientFingerprint) == "" {
			fail("context without user_agent or client_fingerprint")
		}
		chromium := strings.Contains(ua, "Chrome/")
		if got := e.Context.Headers["sec-ch-ua"] != ""; got != chromium {
			fail("sec-ch-ua present = %v for %q", got, ua)
		}
		if browser := strings.HasPrefix(ua, "Mozilla/5.0 (") && ua != "Mozilla/5.0 (Hydra)"; browser != (e.Context.AcceptLanguage != nil) {
			fail("accept_language present = %v for %q", e.Context.AcceptLanguage != nil, ua)
		}
		if e.Context.DeviceID != nil && *e.Context.DeviceID == "" {
			fail("empty device_id")
		}
	}
	if e.Properties == nil {
		fail("no properties")
	}
	hasUser := e.User != nil && str(e.User.ID) != "" && str(e.User.Email) != ""
	if e.User != nil && !hasUser {
		fail("user without id or email")
	}
	cred := e.Credential != nil
	if cred && !sha1RE.MatchString(str(e.Credential.PasswordSHA1)) {
		fail("credential.password_sha1 %q is not 40 uppercase hex digits", str(e.Credential.PasswordSHA1))
	}
	reason := ""
	if e.Properties != nil {
		reason = str(e.Properties.Reason)
	}

	switch typ {
	case typeLoginSucceeded:
		if str(e.Login) == "" || !hasUser || str(e.SessionID) == "" || reason != "" {
			fail("login.succeeded needs login, user, session_id and no reason")
		}
		if l.Actor == ActorOwner && !cred {
			fail("owner login.succeeded without credential")
		}
	case typeLoginFailed:
		if str(e.Login) == "" || e.SessionID != nil {
			fail("login.failed needs login and no session_id")
		}
		if (reason == reasonBadPassword) != hasUser || (reason != reasonBadPassword && reason != reasonUnknown) {
			fail("login.failed with reason %q and user present = %v", reason, hasUser)
		}
		if l.Actor == ActorOwner && cred {
			fail("owner login.failed carries a credential")
		}
	case typeOrderAttempt:
		if !hasUser || str(e.SessionID) == "" || e.Properties == nil || e.Properties.Order == nil {
			fail("order.attempt needs user, session_id and properties.order")
		} else {
			o := e.Properties.Order
			var sum int64
			for _, it := range o.Items {
				sum += it.Quantity * it.UnitPrice
			}
			if o.ID == "" || o.Currency != "JPY" || len(o.Items) == 0 || sum != o.Amount || o.Shipping.Country != "JP" || o.Payment.Method == "" {
				fail("bad order %+v", o)
			}
		}
		if l.Actor != ActorOwner {
			fail("an attacker placed an order")
		}
	default:
		fail("unexpected type %q", typ)
	}
	if cred && l.Actor == ActorAttacker && l.Attack != KindSpray {
		fail("credential on a %s attack event", l.Attack)
	}
	if cred && l.Actor == ActorOwner && typ != typeLoginSucceeded {
		fail("credential on an owner %s", typ)
	}

	// Labels.
	switch l.Actor {
	case ActorOwner:
		if l.Attack != "" || l.ValidCredential {
			fail("owner label with attack %q, valid_credential %v", l.Attack, l.ValidCredential)
		}
	case ActorAttacker:
		if l.Attack == "" || l.NewDevice || l.NewNetwork || l.CarrierNAT {
			fail("attacker label %+v", l)
		}
		if l.ValidCredential != (typ == typeLoginSucceeded) {
			fail("attacker %s with valid_credential %v", typ, l.ValidCredential)
		}
	default:
		fail("actor %q", l.Actor)
	}
	if l.ValidCredential && (typ != typeLoginSucceeded || l.Actor != ActorAttacker || !l.AccountExists) {
		fail("valid_credential on a %s %s", l.Actor, typ)
	}
	if typ != typeOrderAttempt && l.AccountExists != hasUser {
		fail("account_exists %v but user present = %v", l.AccountExists, hasUser)
	}
	wantPhase := PhaseEval
	if e.at.Before(s.Start) {
		wantPhase = PhaseWarmup
	}
	if l.Phase != wantPhase {
		fail("phase %q at %s", l.Phase, e.at.Format(time.RFC3339))
	}
	return bad
}

// counts summarizes a stream for the report.
type counts struct {
	Total, Warmup, Eval, Owner, Attacker, Valid int
}

func countOf(evs []Labeled) counts {
	var c counts
	for _, e := range evs {
		c.Total++
		if e.Label.Phase == PhaseWarmup {
			c.Warmup++
		} else {
			c.Eval++
		}
		if e.Label.Actor == ActorOwner {
			c.Owner++
		} else {
			c.Attacker++
		}
		if e.Label.ValidCredential {
			c.Valid++
		}
	}
	return c
}

// TestScenarioFiles generates every example scenario once and checks the
// properties every stream must have.
func TestScenarioFiles(t *testing.T) {
	tests := []struct {
		file  string
		check func(*testing.T, generated) // what is particular to the file
	}{
		{"distributed.yaml", checkDistributed},
		{"burst.yaml", checkBurst},
		{"carrier_nat.yaml", checkCarrierNAT},
		{"quiet_new_devices.yaml", checkNewDevices},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			g := generateFile(t, tt.file)
			t.Logf("%s: %+v", tt.file, countOf(g.evs))

			t.Run("particular", func(t *testing.T) { tt.check(t, g) })

			t.Run("sorted and within the window", func(t *testing.T) {
				from := g.s.Start.Add(-g.s.Warmup.D())
				to := g.s.Start.Add(g.s.Duration.D())
				for i, e := range g.api {
					if e.at.Before(from) || !e.at.Before(to) {
						t.Fatalf("event %d at %s is outside [%s, %s)", i, e.at, from, to)
					}
					if i > 0 && e.at.Before(g.api[i-1].at) {
						t.Fatalf("event %d at %s is before event %d at %s", i, e.at, i-1, g.api[i-1].at)
					}
				}
			})

			t.Run("events follow the API and labels are consistent", func(t *testing.T) {
				n := 0
				for i, e := range g.api {
					for _, p := range checkEvent(g.s, g.evs[i].Label, e) {
						if n++; n <= 10 {
							t.Errorf("event %d: %s\n%s", i, p, g.evs[i].Event)
						}
					}
				}
			})

			t.Run("owner labels are the truth of the stream", func(t *testing.T) {
				checkOwnerLabels(t, g)
			})

			t.Run("unique request and session ids", func(t *testing.T) {
				reqs := map[string]bool{}
				sessions := map[string]string{}
				for i, e := range g.api {
					if reqs[*e.RequestID] {
						t.Fatalf("event %d: request_id %s used twice", i, *e.RequestID)
					}
					reqs[*e.RequestID] = true
					if str(e.Type) == typeLoginSucceeded {
						if u, ok := sessions[*e.SessionID]; ok {
							t.Fatalf("event %d: session_id %s already used by %s", i, *e.SessionID, u)
						}
						sessions[*e.SessionID] = *e.User.ID
					}
				}
			})

			t.Run("attackers never use an owner network", func(t *testing.T) {
				owners := map[netip.Prefix]bool{}
				for i, e := range g.api {
					if g.evs[i].Label.Actor == ActorOwner {
						owners[networkOf(netip.MustParseAddr(*e.Context.IP))] = true
					}
				}
				for i, e := range g.api {
					if g.evs[i].Label.Actor == ActorAttacker && owners[networkOf(netip.MustParseAddr(*e.Context.IP))] {
						t.Fatalf("event %d: attacker IP %s is in an owner network", i, *e.Context.IP)
					}
				}
			})

			t.Run("typo share near spec", func(t *testing.T) {
				got := typoShare(g)
				if want := g.s.Owners.TypoRate; math.Abs(got-want) > 0.015 {
					t.Errorf("share of owner logins after a bad_password = %.4f, want %.2f±0.015", got, want)
				}
			})
		})
	}
}

// checkOwnerLabels recomputes new_device, new_network and carrier_nat from
// the stream: a login is on a new device (network) when no earlier login
// of the account used it; an order shares the label of its login.
func checkOwnerLabels(t *testing.T, g generated) {
	t.Helper()
	devs := map[string]map[string]bool{}
	nets := map[string]map[netip.Prefix]bool{}
	bySession := map[string]Label{}
	poolIPs := map[string]bool{}
	for i, e := range g.api {
		if g.evs[i].Label.CarrierNAT {
			poolIPs[*e.Context.IP] = true
		}
	}
	bad := 0
	for i, e := range g.api {
		l := g.evs[i].Label
		if l.Actor != ActorOwner {
			continue
		}
		if l.CarrierNAT != poolIPs[*e.Context.IP] {
			t.Fatalf("event %d: carrier_nat %v but IP %s in the pool = %v", i, l.CarrierNAT, *e.Context.IP, poolIPs[*e.Context.IP])
		}
		var want Label
		switch str(e.Type) {
		case typeLoginSucceeded:
			u := *e.User.ID
			if devs[u] == nil {
				devs[u], nets[u] = map[string]bool{}, map[netip.Prefix]bool{}
			}
			net := networkOf(netip.MustParseAddr(*e.Context.IP))
			want = l
			want.NewDevice, want.NewNetwork = !devs[u][*e.Context.DeviceID], !nets[u][net]
			devs[u][*e.Context.DeviceID], nets[u][net] = true, true
			bySession[*e.SessionID] = l
		case typeOrderAttempt:
			want = bySession[*e.SessionID]
			want.Phase = l.Phase
		default:
			continue
		}
		if want != l {
			if bad++; bad <= 5 {
				t.Errorf("event %d: label %+v, want %+v", i, l, want)
			}
		}
	}
}

// typoShare returns the share of owner logins whose previous event of the
// same account, at most a minute earlier, was a bad_password failure.
func typoShare(g generated) float64 {
	type last struct {
		reason string
		at     time.Time
	}
	prev := map[string]last{}
	logins, typos := 0, 0
	for i, e := range g.api {
		if g.evs[i].Label.Actor != ActorOwner || e.User == nil {
			continue
		}
		u := *e.User.ID
		switch str(e.Type) {
		case typeLoginSucceeded:
			logins++
			if p, ok := prev[u]; ok && p.reason == reasonBadPassword && e.at.Sub(p.at) < time.Minute {
				typos++
			}
			prev[u] = last{}
		case typeLoginFailed:
			prev[u] = last{reason: str(e.Properties.Reason), at: e.at}
		}
	}
	return float64(typos) / float64(max(logins, 1))
}

// checkDistributed checks distributed.yaml: exactly SourceIPs IPs, each
// within AttemptsPerIP, the unknown and valid shares, browsers, spread.
func checkDistributed(t *testing.T, g generated) {
	a := g.s.Attacks[0]
	from := g.s.Start.Add(a.Start.D())
	to := from.Add(a.Duration.D())

	perIP := map[string]int{}
	nets4, nets6 := map[netip.Prefix]bool{}, map[netip.Prefix]bool{}
	attempts, unknown, valid, withDevice := 0, 0, 0, 0
	for i, e := range g.api {
		l := g.evs[i].Label
		if l.Actor != ActorAttacker {
			continue
		}
		attempts++
		ip := netip.MustParseAddr(*e.Context.IP)
		perIP[ip.String()]++
		if ip.Is4() {
			nets4[networkOf(ip)] = true
		} else {
			nets6[networkOf(ip)] = true
			if !netip.MustParsePrefix("2001:db8::/32").Contains(ip) {
				t.Errorf("attacker IPv6 %s outside 2001:db8::/32", ip)
			}
		}
		if !l.AccountExists {
			unknown++
		}
		if l.ValidCredential {
			valid++
		}
		if e.Context.DeviceID != nil {
			withDevice++
		}
		if l.Attack != KindDistributed || e.at.Before(from) || !e.at.Before(to) {
			t.Fatalf("event %d: attack %q at %s, want distributed within [%s, %s)", i, l.Attack, e.at, from, to)
		}
		if !slices.ContainsFunc(browsers[:], func(b browserProfile) bool { return b.ua == *e.Context.UserAgent }) {
			t.Fatalf("event %d: user agent %q is not a browser", i, *e.Context.UserAgent)
		}
	}
	if len(perIP) != a.SourceIPs {
		t.Errorf("distinct attacker IPs = %d, want %d", len(perIP), a.SourceIPs)
	}
	for ip, n := range perIP {
		if n < a.AttemptsPerIP[0] || n > a.AttemptsPerIP[1] {
			t.Errorf("IP %s made %d attempts, want %v", ip, n, a.AttemptsPerIP)
		}
	}
	if got := float64(unknown) / float64(attempts); math.Abs(got-a.UnknownShare) > 0.03 {
		t.Errorf("unknown share = %.4f, want %.2f±0.03", got, a.UnknownShare)
	}
	known := attempts - unknown
	if got := float64(valid) / float64(known); math.Abs(got-a.ReuseRate) > 0.03 {
		t.Errorf("valid credentials = %d of %d real accounts (%.4f), want %.2f±0.03", valid, known, got, a.ReuseRate)
	}
	if got := float64(withDevice) / float64(attempts); math.Abs(got-0.5) > 0.03 {
		t.Errorf("share with device_id (mixed) = %.4f, want 0.5±0.03", got)
	}
	// Spread: many /24s, some IPv6 /64s, and no single /24 with much.
	if len(nets4) < a.SourceIPs/2 || len(nets6) < a.SourceIPs/40 {
		t.Errorf("attack spread over %d /24s and %d /64s, want at least %d and %d", len(nets4), len(nets6), a.SourceIPs/2, a.SourceIPs/40)
	}
	t.Logf("attempts %d, unknown %d, valid %d, IPs %d, /24s %d, /64s %d", attempts, unknown, valid, len(perIP), len(nets4), len(nets6))
}

// checkBurst checks burst.yaml: one IP, 600 automated attempts in the window.
func checkBurst(t *testing.T, g generated) {
	a := g.s.Attacks[0]
	from := g.s.Start.Add(a.Start.D())
	to := from.Add(a.Duration.D())
	ips := map[string]bool{}
	attempts := 0
	for i, e := range g.api {
		l := g.evs[i].Label
		if l.Actor != ActorAttacker {
			continue
		}
		attempts++
		ips[*e.Context.IP] = true
		if e.at.Before(from) || !e.at.Before(to) {
			t.Fatalf("event %d at %s, want within [%s, %s)", i, e.at, from, to)
		}
		if e.Context.AcceptLanguage != nil || e.Context.Headers != nil || e.Context.DeviceID != nil {
			t.Fatalf("event %d: automation with accept-language, client hints or device_id: %s", i, g.evs[i].Event)
		}
		if !slices.ContainsFunc(automation[:], func(p automationProfile) bool { return p.ua == *e.Context.UserAgent }) {
			t.Fatalf("event %d: user agent %q is not automation", i, *e.Context.UserAgent)
		}
	}
	if got := []int{len(ips), attempts}; !slices.Equal(got, []int{1, 600}) {
		t.Errorf("IPs, attempts = %v, want [1 600]", got)
	}
}

// small is a scenario quick enough to generate many times, with every
// attack kind.
func small(seed int64) Scenario {
	return Scenario{
		Seed:   seed,
		Start:  time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC),
		Warmup: Duration(48 * time.Hour),
		Owners: OwnerSpec{
			Accounts: 400, LoginsPerDay: 1, TypoRate: 0.1, UnknownRate: 0.05,
			NewDeviceRate: 0.1, NewNetworkRate: 0.1, CarrierNATShare: 0.5, CarrierNATIPs: 4, OrderRate: 0.2,
		},
		Attacks: []AttackSpec{
			{Kind: KindDistributed, Start: Duration(13 * time.Hour), Duration: Duration(time.Hour), SourceIPs: 300, UnknownShare: 0.4, ReuseRate: 0.1, DeviceIDs: DevicesRandom},
			{Kind: KindBurst, Start: Duration(2 * time.Hour), Duration: Duration(5 * time.Minute), Attempts: 100, UnknownShare: 0.5, ReuseRate: 0.1},
			{Kind: KindSpray, Start: Duration(20 * time.Hour), Duration: Duration(2 * time.Hour), SourceIPs: 3, Attempts: 1000, Passwords: 4, UnknownShare: 0.2, ReuseRate: 0.05, UserAgents: AgentsAutomation},
		},
	}
}

func jsonl(t testing.TB, s Scenario) []byte {
	t.Helper()
	evs, err := Generate(s)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteJSONL(&b, evs); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDeterminism(t *testing.T) {
	dist, err := Load(filepath.Join("testdata", "distributed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		a, b Scenario
		same bool
	}{
		{"same seed", small(1), small(1), true},
		{"different seed", small(1), small(2), false},
		{"distributed file, same seed", dist, dist, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := jsonl(t, tt.a), jsonl(t, tt.b)
			if got := bytes.Equal(a, b); got != tt.same {
				t.Errorf("identical bytes = %v, want %v", got, tt.same)
			}
		})
	}
}

func TestSmallScenario(t *testing.T) {
	s := small(7)
	evs, err := Generate(s)
	if err != nil {
		t.Fatal(err)
	}
	g := generated{s: s, evs: evs, api: decodeAll(t, evs)}
	n := 0
	for i, e := range g.api {
		for _, p := range checkEvent(s, evs[i].Label, e) {
			if n++; n <= 10 {
				t.Errorf("event %d: %s\n%s", i, p, evs[i].Event)
			}
		}
	}
	checkOwnerLabels(t, g)
	byKind := map[string]int{}
	for _, e := range evs {
		byKind[e.Label.Attack]++
	}
	want := map[string]int{KindBurst: 100, KindSpray: 1000}
	got := map[string]int{KindBurst: byKind[KindBurst], KindSpray: byKind[KindSpray]}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("attempts by kind (-want +got):\n%s", diff)
	}
	if n := byKind[KindDistributed]; n < 300 || n > 900 {
		t.Errorf("distributed attempts = %d, want between 300 and 900", n)
	}
}

// TestSpray checks that a spray tries Passwords common passwords, sends
// their hashes, and that a sprayed account whose password it found carries
// that same hash in its owner's own logins.
func TestSpray(t *testing.T) {
	s := small(3)
	s.Attacks = s.Attacks[2:]
	evs, err := Generate(s)
	if err != nil {
		t.Fatal(err)
	}
	api := decodeAll(t, evs)
	hashes := map[string]int{}
	taken := map[string]string{} // user id -> sprayed hash that worked
	for i, e := range api {
		if evs[i].Label.Actor != ActorAttacker {
			continue
		}
		h := str(e.Credential.PasswordSHA1)
		if !slices.Contains(commonPasswordSHA1[:s.Attacks[0].Passwords], h) {
			t.Fatalf("event %d: sprayed hash %s is not one of the first %d common passwords", i, h, s.Attacks[0].Passwords)
		}
		hashes[h]++
		if evs[i].Label.ValidCredential {
			taken[*e.User.ID] = h
		}
	}
	if len(hashes) != s.Attacks[0].Passwords {
		t.Errorf("distinct sprayed passwords = %d, want %d", len(hashes), s.Attacks[0].Passwords)
	}
	if len(taken) == 0 {
		t.Fatal("the spray found no password; want a few")
	}
	checked := 0
	for i, e := range api {
		if evs[i].Label.Actor == ActorOwner && str(e.Type) == typeLoginSucceeded {
			if h, ok := taken[*e.User.ID]; ok {
				checked++
				if got := *e.Credential.PasswordSHA1; got != h {
					t.Errorf("event %d: owner of a sprayed account logs in with %s, want the sprayed %s", i, got, h)
				}
			}
		}
	}
	t.Logf("%d accounts sprayed open, %d owner logins checked", len(taken), checked)
}

// TestOwnersIndependentOfAttacks checks that adding attacks leaves the
// owners' traffic untouched (each part draws from its own random stream).
func TestOwnersIndependentOfAttacks(t *testing.T) {
	with := small(5)
	with.Attacks = with.Attacks[:2] // no spray: a spray changes owners' passwords
	without := with
	without.Attacks = nil
	owners := func(s Scenario) []Labeled {
		evs, err := Generate(s)
		if err != nil {
			t.Fatal(err)
		}
		return slices.DeleteFunc(evs, func(l Labeled) bool { return l.Label.Actor != ActorOwner })
	}
	a, b := owners(with), owners(without)
	if !reflect.DeepEqual(a, b) { // cmp.Diff only on failure: it is slow on thousands of events
		t.Errorf("owner traffic changed by adding attacks (-without +with):\n%s", cmp.Diff(b, a))
	}
}

// checkCarrierNAT checks carrier_nat.yaml: every pool IP carries more than
// 100 accounts, and the pool is CarrierNATIPs addresses in two /24s.
func checkCarrierNAT(t *testing.T, g generated) {
	accounts := map[string]map[string]bool{}
	for i, e := range g.api {
		if !g.evs[i].Label.CarrierNAT || e.User == nil {
			continue
		}
		ip := *e.Context.IP
		if accounts[ip] == nil {
			accounts[ip] = map[string]bool{}
		}
		accounts[ip][*e.User.ID] = true
	}
	if len(accounts) != g.s.Owners.CarrierNATIPs {
		t.Errorf("carrier NAT IPs in use = %d, want %d", len(accounts), g.s.Owners.CarrierNATIPs)
	}
	nets := map[netip.Prefix]bool{}
	for ip, users := range accounts {
		nets[networkOf(netip.MustParseAddr(ip))] = true
		if len(users) <= 100 {
			t.Errorf("carrier NAT IP %s shared by %d accounts, want more than 100", ip, len(users))
		}
	}
	if len(nets) != 2 {
		t.Errorf("carrier NAT pool spans %d /24s, want 2", len(nets))
	}
}

// checkNewDevices checks quiet_new_devices.yaml: at least NewDeviceRate of
// the evaluated owner logins are on a new device.
func checkNewDevices(t *testing.T, g generated) {
	logins, newDev := 0, 0
	for i, e := range g.api {
		l := g.evs[i].Label
		if l.Actor == ActorOwner && l.Phase == PhaseEval && str(e.Type) == typeLoginSucceeded {
			logins++
			if l.NewDevice {
				newDev++
			}
		}
	}
	// Brand-new devices are 10% of evaluated logins; first uses of an
	// owner's regular devices come on top.
	if got := float64(newDev) / float64(logins); got < g.s.Owners.NewDeviceRate-0.01 || got > 0.6 {
		t.Errorf("share of evaluated owner logins on a new device = %.4f, want at least %.2f", got, g.s.Owners.NewDeviceRate-0.01)
	}
	t.Logf("evaluated owner logins %d, new device %d (%.3f)", logins, newDev, float64(newDev)/float64(logins))
}

func TestNoClearPasswords(t *testing.T) {
	// Only hashes: every credential object holds exactly password_sha1.
	for _, l := range mustGenerate(t, small(9)) {
		var e struct {
			Credential map[string]any `json:"credential"`
		}
		if err := json.Unmarshal(l.Event, &e); err != nil {
			t.Fatal(err)
		}
		for k := range e.Credential {
			if k != "password_sha1" {
				t.Fatalf("credential field %q in %s", k, l.Event)
			}
		}
	}
	for i, h := range commonPasswordSHA1 {
		if !sha1RE.MatchString(h) {
			t.Errorf("commonPasswordSHA1[%d] = %q, want 40 uppercase hex digits", i, h)
		}
	}
}

func mustGenerate(t testing.TB, s Scenario) []Labeled {
	t.Helper()
	evs, err := Generate(s)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func TestGenerateRejectsInvalid(t *testing.T) {
	_, err := Generate(Scenario{})
	if want := "invalid scenario: start: required (e.g. 2026-11-20T15:00:00Z)"; err == nil || err.Error() != want {
		t.Errorf("Generate error = %v, want %q", err, want)
	}
}

func TestDiurnalRhythm(t *testing.T) {
	// Owner logins per JST hour: the 21:00 hour is much busier than 04:00.
	evs := mustGenerate(t, Scenario{
		Seed: 1, Start: time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC), Warmup: Duration(72 * time.Hour),
		Owners: OwnerSpec{Accounts: 2000, LoginsPerDay: 1},
	})
	jst := time.FixedZone("JST", 9*3600)
	var perHour [24]int
	for _, e := range decodeAll(t, evs) {
		perHour[e.at.In(jst).Hour()]++
	}
	if perHour[21] < 5*perHour[4] || perHour[12] < 3*perHour[4] {
		t.Errorf("logins per JST hour = %v, want 21:00 over 5x and 12:00 over 3x 04:00", perHour)
	}
}

func BenchmarkGenerateDistributed(b *testing.B) {
	s, err := Load(filepath.Join("testdata", "distributed.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := Generate(s); err != nil {
			b.Fatal(err)
		}
	}
}

// TestNewOptions checks the options of slow, pre-checked and benign-surge
// scenarios: a busy day's volume, residential attack sources and a
// launch rush with the owners' habits.
func TestNewOptions(t *testing.T) {
	count := func(s Scenario, keep func(Label, map[string]any) bool) int {
		t.Helper()
		evs, err := Generate(s)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs {
			var m map[string]any
			if err := json.Unmarshal(e.Event, &m); err != nil {
				t.Fatal(err)
			}
			if keep(e.Label, m) {
				n++
			}
		}
		return n
	}
	evalOwnerLogins := func(l Label, m map[string]any) bool {
		return l.Actor == ActorOwner && l.Phase == PhaseEval && m["type"] == typeLoginSucceeded
	}
	base := small(11)
	base.Attacks = nil
	busy := base
	busy.Owners.EvalVolume = 2
	if n0, n2 := count(base, evalOwnerLogins), count(busy, evalOwnerLogins); float64(n2) < 1.7*float64(n0) || float64(n2) > 2.3*float64(n0) {
		t.Errorf("eval_volume 2: %d owner logins, want about twice %d", n2, n0)
	}

	res := small(12)
	res.Attacks = []AttackSpec{{Kind: KindDistributed, Start: Duration(time.Hour), Duration: Duration(time.Hour), SourceIPs: 50,
		AttemptsPerIP: [2]int{1, 1}, ReuseRate: 1, Sources: SourcesResidential, DeviceIDs: DevicesRandom}}
	foreign := count(res, func(l Label, m map[string]any) bool {
		if l.Actor != ActorAttacker {
			return false
		}
		ip := netip.MustParseAddr(m["context"].(map[string]any)["ip"].(string))
		return !ip.Is4() || !slices.Contains(ownerFirstOctets[:], ip.As4()[0])
	})
	valid := count(res, func(l Label, _ map[string]any) bool { return l.Actor == ActorAttacker && l.ValidCredential })
	if foreign != 0 || valid != 50 {
		t.Errorf("residential pre-checked list: %d sources outside owners' networks, %d valid of 50; want 0 and 50", foreign, valid)
	}

	launch := base
	launch.Owners.Launch = &LaunchSpec{Start: Duration(10 * time.Hour), Duration: Duration(2 * time.Hour), Buyers: 300, SKU: "x", Price: 1000}
	habits := launch
	l := *launch.Owners.Launch
	l.Habits = true
	habits.Owners.Launch = &l
	inRush := func(l Label, m map[string]any) bool {
		at, _ := time.Parse(time.RFC3339Nano, m["occurred_at"].(string))
		return l.Actor == ActorOwner && m["type"] == typeLoginFailed && at.Sub(base.Start) >= 10*time.Hour && at.Sub(base.Start) < 12*time.Hour
	}
	if f0, f1 := count(launch, inRush), count(habits, inRush); f1 <= f0 {
		t.Errorf("launch with habits: %d failed logins in the rush, want more than %d without", f1, f0)
	}
}
