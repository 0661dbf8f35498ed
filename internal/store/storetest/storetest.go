// Package storetest provides the conformance suite every store.Store
// backend must pass.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/atoguard/atoguard/internal/store"
)

// Run checks a store.Store backend. newStore returns a new, empty store
// for one subtest; Run closes it when the subtest ends, so newStore must
// not.
//
// Times are compared with time.Time.Equal (a backend may return them in
// another location), and a nil slice equals an empty one.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	open := func(t *testing.T) store.Store {
		t.Helper()
		s := newStore(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	tests := []struct {
		name string
		run  func(t *testing.T, s store.Store)
	}{
		{"EmptyStore", testEmptyStore},
		{"EmptyBatch", testEmptyBatch},
		{"AuditRoundTrip", testAuditRoundTrip},
		{"AuditDuplicateKeepsFirst", testAuditDuplicateKeepsFirst},
		{"AuditOrderAndQuery", testAuditOrderAndQuery},
		{"AuditDefaultLimit", testAuditDefaultLimit},
		{"PruneAudit", testPruneAudit},
		{"PruneNotifications", testPruneNotifications},
		{"AuditRead", testAuditRead},
		{"Profiles", testProfiles},
		{"Incidents", testIncidents},
		{"IncidentAccounts", testIncidentAccounts},
		{"Challenges", testChallenges},
		{"ExpiredChallenges", testExpiredChallenges},
		{"Keys", testKeys},
		{"KeyHashUnique", testKeyHashUnique},
		{"State", testState},
		{"NotFound", testNotFound},
		{"CopyIn", testCopyIn},
		{"CopyOut", testCopyOut},
		{"MixedBatch", testMixedBatch},
		{"ConcurrentWrites", testConcurrentWrites},
		{"Ping", testPing},
		{"Reviews", testReviews},
		{"Factors", testFactors},
		{"FactorCredentialUnique", testFactorCredentialUnique},
		{"FactorCountersNeverGoBack", testFactorCountersNeverGoBack},
		{"ScanFactors", testScanFactors},
		{"AdvanceTOTPStep", testAdvanceTOTPStep},
		{"AdvanceSignCount", testAdvanceSignCount},
		{"ConcurrentAdvance", testConcurrentAdvance},
		{"RecoveryCodes", testRecoveryCodes},
		{"EmailOTP", testEmailOTP},
		{"WebAuthnSessions", testWebAuthnSessions},
		{"FactorNotFound", testFactorNotFound},
		{"FactorCopies", testFactorCopies},
		// The notification outbox (outbox.go).
		{"NotificationRoundTrip", testNotificationRoundTrip},
		{"NotificationDedupe", testNotificationDedupe},
		{"ClaimNotifications", testClaimNotifications},
		{"MarkNotifications", testMarkNotifications},
		{"ListNotifications", testListNotifications},
		{"ConcurrentClaims", testConcurrentClaims},
		{"NotificationCopies", testNotificationCopies},
		// Dashboard operators and decision counts (operators.go).
		{"Operators", testOperators},
		{"AdvanceOperatorTOTP", testAdvanceOperatorTOTP},
		{"ConcurrentOperatorTOTP", testConcurrentOperatorTOTP},
		{"DecisionCounts", testDecisionCounts},
		// Owners' contact histories (contacts.go).
		{"Contacts", testContacts},
		{"ContactsInBatch", testContactsInBatch},
		{"LegacyContacts", testLegacyContacts},
		{"ContactsCopies", testContactsCopies},
		// What a journal replayed late needs (replay.go).
		{"BatchIDs", testBatchIDs},
		{"NewerWins", testNewerWins},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.run(t, open(t))
		})
	}
}

// cmpOptions are the options the suite compares records with.
func cmpOptions() cmp.Options {
	return cmp.Options{
		cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
		cmpopts.EquateEmpty(),
	}
}

// Zones away from UTC, so that a backend must keep the instant, not the
// wall clock reading.
func zoneEast() *time.Location { return time.FixedZone("UTC+05:30", 5*3600+30*60) }
func zoneWest() *time.Location { return time.FixedZone("UTC-07:00", -7*3600) }

// t0 is a time with nanoseconds in a zone east of UTC; fixtures are built
// around it.
func t0() time.Time { return time.Date(2026, time.March, 14, 15, 9, 26, 535897932, zoneEast()) }

// at returns t0 plus d, in a zone west of UTC.
func at(d time.Duration) time.Time { return t0().Add(d).In(zoneWest()) }

// audit returns an audit record with every field set.
func audit(id string, received time.Time) store.AuditRecord {
	return store.AuditRecord{
		EventID:      id,
		ReceivedAt:   received,
		OccurredAt:   received.Add(-1234567 * time.Nanosecond),
		Type:         "login.failed",
		Account:      "user-" + id,
		Login:        "Login-" + id + "@example.com",
		IP:           "2001:db8::1",
		SessionID:    "sess-" + id,
		RequestID:    "req-" + id,
		Decision:     "challenge",
		Risk:         73,
		Reasons:      []string{"ip.velocity", "campaign.active"},
		IncidentID:   "inc-1",
		ChallengeID:  "ch-" + id,
		PasswordHMAC: []byte{0x00, 0xff, 0x10, byte(len(id))},
		Event:        []byte(`{"type":"login.failed","id":"` + id + `"}`),
		Replay:       []byte(`{"at":"` + id + `"}`),
	}
}

// profile returns a profile with every field set.
func profile(account string, updated time.Time) store.Profile {
	return store.Profile{Account: account, Data: []byte("familiar:" + account + "\x00\x01"), UpdatedAt: updated}
}

// incident returns a closed incident with every field set.
func incident(id string, started time.Time) store.Incident {
	return store.Incident{
		ID:                  id,
		Kind:                "credential_stuffing",
		State:               store.IncidentClosed,
		StartedAt:           started,
		EndedAt:             started.Add(90*time.Minute + 7),
		Attempts:            1 << 40,
		DistinctIPs:         5123,
		DistinctPrefixes:    812,
		AccountsTargeted:    1800,
		AccountsCompromised: 17,
		TopSources: []store.Source{
			{Kind: "prefix", Value: "203.0.113.0/24", Attempts: 900},
			{Kind: "user_agent", Value: "curl/8.0 \"quoted\"", Attempts: 12},
		},
		UpdatedAt: started.Add(2 * time.Hour),
	}
}

// incidentAccount returns an incident account with every field set.
func incidentAccount(incidentID, account string, first time.Time) store.IncidentAccount {
	return store.IncidentAccount{
		IncidentID: incidentID,
		Account:    account,
		Known:      true,
		Outcome:    store.OutcomeChallenged,
		Attempts:   3,
		FirstSeen:  first,
		LastSeen:   first.Add(time.Minute + 1),
	}
}

// challenge returns a pending challenge with every field set.
func challenge(id string, created time.Time) store.Challenge {
	return store.Challenge{
		ID:         id,
		UserID:     "user-" + id,
		SessionID:  "sess-" + id,
		Purpose:    "login",
		Methods:    []string{"webauthn", "totp", "email"},
		State:      store.ChallengePending,
		Attempts:   1,
		CreatedAt:  created,
		ExpiresAt:  created.Add(10 * time.Minute),
		EventID:    "ev-" + id,
		IncidentID: "inc-1",
		IP:         "2001:db8::7",
		DeviceID:   "dev-" + id,
		UserAgent:  "Mozilla/5.0 (X11; Linux x86_64) \"quoted\"",
	}
}

// key returns an API key with every field set.
func key(id string, created time.Time) store.APIKey {
	return store.APIKey{
		ID:        id,
		Name:      "key " + id,
		Hash:      []byte("sha256-of-" + id + "-\x00\xff"),
		Scopes:    []string{store.ScopeEvents, store.ScopeChallenges},
		CreatedAt: created,
		Disabled:  true,
	}
}

func write(t *testing.T, s store.Store, b store.Batch) {
	t.Helper()
	if err := s.Write(t.Context(), b); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

func diff(t *testing.T, what string, got, want any) {
	t.Helper()
	if d := cmp.Diff(want, got, cmpOptions()); d != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", what, d)
	}
}

func listAudit(t *testing.T, s store.Store, q store.AuditQuery) []store.AuditRecord {
	t.Helper()
	got, err := s.ListAudit(t.Context(), q)
	if err != nil {
		t.Fatalf("ListAudit(%+v): %v", q, err)
	}
	return got
}

func countAudit(t *testing.T, s store.Store) int64 {
	t.Helper()
	n, err := s.CountAudit(t.Context())
	if err != nil {
		t.Fatalf("CountAudit: %v", err)
	}
	return n
}

func listIncidents(t *testing.T, s store.Store, state string) []store.Incident {
	t.Helper()
	got, err := s.ListIncidents(t.Context(), state)
	if err != nil {
		t.Fatalf("ListIncidents(%q): %v", state, err)
	}
	return got
}

func listIncidentAccounts(t *testing.T, s store.Store, id string) []store.IncidentAccount {
	t.Helper()
	got, err := s.ListIncidentAccounts(t.Context(), id)
	if err != nil {
		t.Fatalf("ListIncidentAccounts(%q): %v", id, err)
	}
	return got
}

func listKeys(t *testing.T, s store.Store) []store.APIKey {
	t.Helper()
	got, err := s.ListKeys(t.Context())
	if err != nil {
		t.Fatalf("ListKeys: %v", err)
	}
	return got
}

func eventIDs(recs []store.AuditRecord) []string {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.EventID
	}
	return ids
}

func testEmptyStore(t *testing.T, s store.Store) {
	if n := countAudit(t, s); n != 0 {
		t.Errorf("CountAudit = %d, want 0", n)
	}
	diff(t, "ListAudit", listAudit(t, s, store.AuditQuery{}), []store.AuditRecord(nil))
	diff(t, "ListIncidents", listIncidents(t, s, ""), []store.Incident(nil))
	diff(t, "ListIncidentAccounts", listIncidentAccounts(t, s, "inc-1"), []store.IncidentAccount(nil))
	diff(t, "ListKeys", listKeys(t, s), []store.APIKey(nil))
}

func testEmptyBatch(t *testing.T, s store.Store) {
	write(t, s, store.Batch{})
	write(t, s, store.Batch{Audit: []store.AuditRecord{}, Profiles: []store.Profile{}})
	testEmptyStore(t, s)
}

func testAuditRoundTrip(t *testing.T, s store.Store) {
	want := audit("ev-1", t0())
	write(t, s, store.Batch{Audit: []store.AuditRecord{want}})
	diff(t, "ListAudit", listAudit(t, s, store.AuditQuery{}), []store.AuditRecord{want})

	// A record with only its id set keeps its zero values.
	bare := store.AuditRecord{EventID: "ev-bare"}
	write(t, s, store.Batch{Audit: []store.AuditRecord{bare}})
	got := listAudit(t, s, store.AuditQuery{Account: ""})
	diff(t, "ListAudit", got, []store.AuditRecord{want, bare})
	if len(got) == 2 && (!got[1].ReceivedAt.IsZero() || !got[1].OccurredAt.IsZero()) {
		t.Errorf("zero times came back as %v, %v; want zero", got[1].ReceivedAt, got[1].OccurredAt)
	}
}

func testAuditDuplicateKeepsFirst(t *testing.T, s store.Store) {
	first := audit("ev-1", t0())
	second := audit("ev-1", at(time.Hour))
	second.Decision = "deny"
	second.Reasons = []string{"other"}
	third := audit("ev-1", at(2*time.Hour))
	third.Decision = "allow"

	write(t, s, store.Batch{Audit: []store.AuditRecord{first}})
	write(t, s, store.Batch{Audit: []store.AuditRecord{second}})
	// And within one batch, alongside a new record.
	write(t, s, store.Batch{Audit: []store.AuditRecord{third, audit("ev-2", t0())}})
	write(t, s, store.Batch{Audit: []store.AuditRecord{audit("ev-3", t0()), audit("ev-3", at(time.Hour))}})

	got, err := s.ListAudit(t.Context(), store.AuditQuery{Account: "user-ev-1"})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	diff(t, "ListAudit(user-ev-1)", got, []store.AuditRecord{first})
	diff(t, "ListAudit(user-ev-3)", listAudit(t, s, store.AuditQuery{Account: "user-ev-3"}),
		[]store.AuditRecord{audit("ev-3", t0())})
	if n := countAudit(t, s); n != 3 {
		t.Errorf("CountAudit = %d, want 3", n)
	}
}

func testAuditOrderAndQuery(t *testing.T, s store.Store) {
	rec := func(id, account string, received time.Time) store.AuditRecord {
		a := audit(id, received)
		a.Account = account
		return a
	}
	// Written out of time order, with ties on ReceivedAt (in different
	// zones) that must come back newest-written first.
	write(t, s, store.Batch{Audit: []store.AuditRecord{
		rec("a", "alice", at(10*time.Second)),
		rec("b", "bob", at(-time.Hour)),
		rec("c", "alice", at(time.Hour)),
	}})
	write(t, s, store.Batch{Audit: []store.AuditRecord{
		rec("d", "bob", t0().Add(10*time.Second).In(zoneEast())), // ties with a
		rec("e", "alice", at(time.Nanosecond)),
		rec("f", "carol", at(10*time.Second)), // ties with a and d
	}})

	tests := []struct {
		q    store.AuditQuery
		want []string
	}{
		{store.AuditQuery{}, []string{"c", "f", "d", "a", "e", "b"}},
		{store.AuditQuery{Limit: 2}, []string{"c", "f"}},
		{store.AuditQuery{Limit: 100}, []string{"c", "f", "d", "a", "e", "b"}},
		{store.AuditQuery{Account: "alice"}, []string{"c", "a", "e"}},
		{store.AuditQuery{Account: "alice", Limit: 2}, []string{"c", "a"}},
		{store.AuditQuery{Account: "bob"}, []string{"d", "b"}},
		{store.AuditQuery{Account: "nobody"}, nil},
	}
	for _, tt := range tests {
		got := eventIDs(listAudit(t, s, tt.q))
		diff(t, fmt.Sprintf("ListAudit(%+v) ids", tt.q), got, tt.want)
	}
	if n := countAudit(t, s); n != 6 {
		t.Errorf("CountAudit = %d, want 6", n)
	}
}

func testAuditDefaultLimit(t *testing.T, s store.Store) {
	var b store.Batch
	for i := range 105 {
		b.Audit = append(b.Audit, audit(fmt.Sprintf("ev-%03d", i), at(time.Duration(i)*time.Millisecond)))
	}
	write(t, s, b)
	got := listAudit(t, s, store.AuditQuery{})
	if len(got) != 100 {
		t.Fatalf("ListAudit(Limit 0) returned %d records, want 100", len(got))
	}
	if got[0].EventID != "ev-104" || got[99].EventID != "ev-005" {
		t.Errorf("ListAudit(Limit 0) = %s … %s, want ev-104 … ev-005", got[0].EventID, got[99].EventID)
	}
	if n := countAudit(t, s); n != 105 {
		t.Errorf("CountAudit = %d, want 105", n)
	}
}

func testAuditRead(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Written out of time order, with ties on ReceivedAt that come back in
	// the order of writing.
	write(t, s, store.Batch{Audit: []store.AuditRecord{
		audit("a", at(10*time.Second)), audit("b", at(-time.Hour)), audit("c", at(time.Hour)),
	}})
	write(t, s, store.Batch{Audit: []store.AuditRecord{
		audit("d", t0().Add(10*time.Second).In(zoneEast())), // ties with a
		audit("e", at(time.Nanosecond)),
		audit("f", at(10*time.Second)), // ties with a and d
	}})
	all := []string{"b", "e", "a", "d", "f", "c"}
	var got []string
	var cur store.AuditCursor
	for range 10 {
		page, next, err := s.ReadAudit(ctx, cur, 2)
		if err != nil {
			t.Fatalf("ReadAudit(%+v): %v", cur, err)
		}
		if len(page) == 0 {
			if next != cur {
				t.Errorf("ReadAudit at the end moved the cursor from %+v to %+v", cur, next)
			}
			break
		}
		got = append(got, eventIDs(page)...)
		cur = next
	}
	diff(t, "ReadAudit pages", got, all)

	tests := []struct {
		name string
		from store.AuditCursor
		want []string
	}{
		{"from a time: every record received then or later", store.AuditCursor{ReceivedAt: at(10 * time.Second)}, []string{"a", "d", "f", "c"}},
		{"after a time: later records only", store.AuditCursor{ReceivedAt: at(10 * time.Second), Seq: math.MaxInt64}, []string{"c"}},
		{"past the end", store.AuditCursor{ReceivedAt: at(2 * time.Hour)}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			page, _, err := s.ReadAudit(ctx, tt.from, 100)
			if err != nil {
				t.Fatalf("ReadAudit: %v", err)
			}
			diff(t, "ReadAudit ids", eventIDs(page), tt.want)
		})
	}
	page, _, err := s.ReadAudit(ctx, store.AuditCursor{}, 1)
	if err != nil || len(page) != 1 {
		t.Fatalf("ReadAudit(first) = %d records, %v", len(page), err)
	}
	diff(t, "ReadAudit record", page[0], audit("b", at(-time.Hour)))
}

func testProfiles(t *testing.T, s store.Store) {
	p1 := profile("alice", t0())
	p2 := profile("bob", at(time.Second))
	write(t, s, store.Batch{Profiles: []store.Profile{p1, p2}})

	replaced := store.Profile{Account: "alice", Data: []byte("v2"), UpdatedAt: at(time.Hour)}
	write(t, s, store.Batch{Profiles: []store.Profile{replaced}})
	// Last write in one batch wins.
	last := store.Profile{Account: "carol", Data: []byte("second"), UpdatedAt: at(2 * time.Hour)}
	write(t, s, store.Batch{Profiles: []store.Profile{{Account: "carol", Data: []byte("first")}, last}})

	for _, want := range []store.Profile{replaced, p2, last} {
		got, err := s.GetProfile(t.Context(), want.Account)
		if err != nil {
			t.Fatalf("GetProfile(%q): %v", want.Account, err)
		}
		diff(t, "GetProfile("+want.Account+")", got, want)
	}
}

func testIncidents(t *testing.T, s store.Store) {
	i1 := incident("inc-1", t0())
	i2 := incident("inc-2", at(time.Hour))
	i2.State = store.IncidentOpen
	i2.EndedAt = time.Time{}
	i2.TopSources = nil
	i3 := incident("inc-3", at(-time.Hour))
	i4 := incident("inc-4", at(time.Hour)) // ties with inc-2 on StartedAt
	i4.State = store.IncidentOpen
	write(t, s, store.Batch{Incidents: []store.Incident{i1, i2, i3, i4}})

	got, err := s.GetIncident(t.Context(), "inc-2")
	if err != nil {
		t.Fatalf("GetIncident: %v", err)
	}
	diff(t, "GetIncident(inc-2)", got, i2)
	if !got.EndedAt.IsZero() {
		t.Errorf("EndedAt = %v, want the zero time", got.EndedAt)
	}

	// Replace inc-3: it moves to the front and becomes open.
	i3b := i3
	i3b.State = store.IncidentOpen
	i3b.StartedAt = at(2 * time.Hour)
	i3b.Attempts = 7
	i3b.TopSources = []store.Source{{Kind: "ip", Value: "198.51.100.7", Attempts: 7}}
	write(t, s, store.Batch{Incidents: []store.Incident{i3b}})

	tests := []struct {
		state string
		want  []store.Incident
	}{
		{"", []store.Incident{i3b, i2, i4, i1}},
		{store.IncidentOpen, []store.Incident{i3b, i2, i4}},
		{store.IncidentClosed, []store.Incident{i1}},
		{"unknown", nil},
	}
	for _, tt := range tests {
		diff(t, fmt.Sprintf("ListIncidents(%q)", tt.state), listIncidents(t, s, tt.state), tt.want)
	}
}

func testIncidentAccounts(t *testing.T, s store.Store) {
	a := incidentAccount("inc-1", "alice", at(time.Minute))
	b := incidentAccount("inc-1", "bob", t0())
	c := incidentAccount("inc-1", "carol", at(time.Minute)) // ties with alice
	c.Known = false
	c.Outcome = store.OutcomeDenied
	other := incidentAccount("inc-2", "alice", at(-time.Hour))
	write(t, s, store.Batch{IncidentAccounts: []store.IncidentAccount{c, a, other, b}})

	// Replace bob in inc-1: later FirstSeen moves it last; inc-2 is untouched.
	b2 := b
	b2.Outcome = store.OutcomeChallengePassed
	b2.Attempts = 9
	b2.FirstSeen = at(time.Hour)
	b2.LastSeen = at(2 * time.Hour)
	write(t, s, store.Batch{IncidentAccounts: []store.IncidentAccount{b2}})

	diff(t, "ListIncidentAccounts(inc-1)", listIncidentAccounts(t, s, "inc-1"),
		[]store.IncidentAccount{a, c, b2})
	diff(t, "ListIncidentAccounts(inc-2)", listIncidentAccounts(t, s, "inc-2"),
		[]store.IncidentAccount{other})
	diff(t, "ListIncidentAccounts(inc-none)", listIncidentAccounts(t, s, "inc-none"),
		[]store.IncidentAccount(nil))
}

func testChallenges(t *testing.T, s store.Store) {
	c1 := challenge("ch-1", t0())
	c2 := challenge("ch-2", at(time.Second))
	c2.IncidentID = ""
	write(t, s, store.Batch{Challenges: []store.Challenge{c1, c2}})

	c1b := c1
	c1b.State = store.ChallengePassed
	c1b.Attempts = 2
	c1b.Methods = []string{"totp"}
	write(t, s, store.Batch{Challenges: []store.Challenge{c1b}})

	for _, want := range []store.Challenge{c1b, c2} {
		got, err := s.GetChallenge(t.Context(), want.ID)
		if err != nil {
			t.Fatalf("GetChallenge(%q): %v", want.ID, err)
		}
		diff(t, "GetChallenge("+want.ID+")", got, want)
	}
}

func testKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	k1 := key("k1", at(time.Hour))
	k2 := key("k2", t0())
	k2.Disabled = false
	k2.Scopes = []string{store.ScopeAdmin}
	k3 := key("k3", at(time.Hour)) // ties with k1 on CreatedAt
	for _, k := range []store.APIKey{k1, k2, k3} {
		if err := s.PutKey(ctx, k); err != nil {
			t.Fatalf("PutKey(%q): %v", k.ID, err)
		}
	}
	diff(t, "ListKeys", listKeys(t, s), []store.APIKey{k2, k1, k3})

	got, err := s.KeyByHash(ctx, k3.Hash)
	if err != nil {
		t.Fatalf("KeyByHash(k3): %v", err)
	}
	diff(t, "KeyByHash(k3)", got, k3)

	// Replace k1 with a new secret: the old hash no longer finds it.
	k1b := k1
	k1b.Name = "rotated"
	k1b.Hash = []byte("new-secret-hash")
	k1b.Disabled = false
	if err := s.PutKey(ctx, k1b); err != nil {
		t.Fatalf("PutKey(k1 rotated): %v", err)
	}
	if _, err := s.KeyByHash(ctx, k1.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("KeyByHash(old k1 hash) error = %v, want ErrNotFound", err)
	}
	got, err = s.KeyByHash(ctx, k1b.Hash)
	if err != nil {
		t.Fatalf("KeyByHash(k1 rotated): %v", err)
	}
	diff(t, "KeyByHash(k1 rotated)", got, k1b)
	diff(t, "ListKeys", listKeys(t, s), []store.APIKey{k2, k1b, k3})
}

func testKeyHashUnique(t *testing.T, s store.Store) {
	ctx := t.Context()
	k1 := key("k1", t0())
	if err := s.PutKey(ctx, k1); err != nil {
		t.Fatalf("PutKey(k1): %v", err)
	}
	dup := key("k2", t0())
	dup.Hash = k1.Hash
	if err := s.PutKey(ctx, dup); err == nil {
		t.Errorf("PutKey(k2 with k1's hash) succeeded, want an error")
	}
	got, err := s.KeyByHash(ctx, k1.Hash)
	if err != nil {
		t.Fatalf("KeyByHash: %v", err)
	}
	diff(t, "KeyByHash", got, k1)
	diff(t, "ListKeys", listKeys(t, s), []store.APIKey{k1})
}

func testState(t *testing.T, s store.Store) {
	ctx := t.Context()
	steps := []struct {
		name  string
		value []byte
	}{
		{"campaign", []byte{0, 1, 2, 0xff}},
		{"baseline", []byte(`{"rate":0.25}`)},
		{"campaign", []byte("replaced")},
		{"empty", []byte{}},
		{"nil", nil},
	}
	want := map[string][]byte{}
	for _, st := range steps {
		if err := s.PutState(ctx, st.name, st.value); err != nil {
			t.Fatalf("PutState(%q): %v", st.name, err)
		}
		want[st.name] = st.value
	}
	for name, w := range want {
		got, err := s.GetState(ctx, name)
		if err != nil {
			t.Fatalf("GetState(%q): %v", name, err)
		}
		diff(t, "GetState("+name+")", got, w)
	}
}

func testNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	// Records with other ids exist, so a lookup cannot succeed by accident.
	write(t, s, store.Batch{
		Profiles:   []store.Profile{profile("alice", t0())},
		Incidents:  []store.Incident{incident("inc-1", t0())},
		Challenges: []store.Challenge{challenge("ch-1", t0())},
	})
	if err := s.PutKey(ctx, key("k1", t0())); err != nil {
		t.Fatalf("PutKey: %v", err)
	}
	if err := s.PutState(ctx, "campaign", []byte("x")); err != nil {
		t.Fatalf("PutState: %v", err)
	}
	tests := []struct {
		name   string
		lookup func() error
	}{
		{"GetProfile", func() error { _, err := s.GetProfile(ctx, "bob"); return err }},
		{"GetProfile empty", func() error { _, err := s.GetProfile(ctx, ""); return err }},
		{"GetIncident", func() error { _, err := s.GetIncident(ctx, "inc-2"); return err }},
		{"GetChallenge", func() error { _, err := s.GetChallenge(ctx, "ch-2"); return err }},
		{"KeyByHash", func() error { _, err := s.KeyByHash(ctx, []byte("unknown")); return err }},
		{"KeyByHash nil", func() error { _, err := s.KeyByHash(ctx, nil); return err }},
		{"KeyByHash by id", func() error { _, err := s.KeyByHash(ctx, []byte("k1")); return err }},
		{"GetState", func() error { _, err := s.GetState(ctx, "baseline"); return err }},
	}
	for _, tt := range tests {
		if err := tt.lookup(); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s error = %v, want ErrNotFound", tt.name, err)
		}
	}
}

// testCopyIn checks that changing what was passed in does not change the
// store.
func testCopyIn(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := audit("ev-1", t0())
	p := profile("alice", t0())
	in := incident("inc-1", t0())
	c := challenge("ch-1", t0())
	k := key("k1", t0())
	st := []byte("state")
	b := store.Batch{
		Audit:      []store.AuditRecord{a},
		Profiles:   []store.Profile{p},
		Incidents:  []store.Incident{in},
		Challenges: []store.Challenge{c},
	}
	write(t, s, b)
	if err := s.PutKey(ctx, k); err != nil {
		t.Fatalf("PutKey: %v", err)
	}
	if err := s.PutState(ctx, "s", st); err != nil {
		t.Fatalf("PutState: %v", err)
	}
	// Keep what the store should hold, then scribble over every slice.
	wantA, wantP, wantIn, wantC, wantK := audit("ev-1", t0()), profile("alice", t0()),
		incident("inc-1", t0()), challenge("ch-1", t0()), key("k1", t0())
	b.Audit[0].Reasons[0] = "x"
	b.Audit[0].PasswordHMAC[0] = 'x'
	b.Audit[0].Event[0] = 'x'
	b.Audit[0].Decision = "x"
	b.Profiles[0].Data[0] = 'x'
	b.Incidents[0].TopSources[0].Value = "x"
	b.Challenges[0].Methods[0] = "x"
	k.Hash[0] = 'x'
	k.Scopes[0] = "x"
	st[0] = 'x'
	checkStored(t, s, wantA, wantP, wantIn, wantC, wantK, []byte("state"))
}

// testCopyOut checks that changing what was returned does not change the
// store.
func testCopyOut(t *testing.T, s store.Store) {
	ctx := t.Context()
	a, p, in, c, k := audit("ev-1", t0()), profile("alice", t0()), incident("inc-1", t0()),
		challenge("ch-1", t0()), key("k1", t0())
	write(t, s, store.Batch{
		Audit:      []store.AuditRecord{a},
		Profiles:   []store.Profile{p},
		Incidents:  []store.Incident{in},
		Challenges: []store.Challenge{c},
	})
	if err := s.PutKey(ctx, k); err != nil {
		t.Fatalf("PutKey: %v", err)
	}
	if err := s.PutState(ctx, "s", []byte("state")); err != nil {
		t.Fatalf("PutState: %v", err)
	}
	for range 2 { // scribble, then check the second read is clean
		// Fresh fixtures: a, p, … may share memory with what the store holds.
		checkStored(t, s, audit("ev-1", t0()), profile("alice", t0()), incident("inc-1", t0()),
			challenge("ch-1", t0()), key("k1", t0()), []byte("state"))
		gotA := listAudit(t, s, store.AuditQuery{})
		gotA[0].Reasons[0] = "x"
		gotA[0].PasswordHMAC[0] = 'x'
		gotA[0].Event[0] = 'x'
		gotP, _ := s.GetProfile(ctx, "alice")
		gotP.Data[0] = 'x'
		gotIn, _ := s.GetIncident(ctx, "inc-1")
		gotIn.TopSources[0].Value = "x"
		gotIns := listIncidents(t, s, "")
		gotIns[0].TopSources[0].Value = "x"
		gotC, _ := s.GetChallenge(ctx, "ch-1")
		gotC.Methods[0] = "x"
		gotK, _ := s.KeyByHash(ctx, k.Hash)
		gotK.Hash[0] = 'x'
		gotK.Scopes[0] = "x"
		gotKs := listKeys(t, s)
		gotKs[0].Hash[1] = 'x'
		gotKs[0].Scopes[1] = "x"
		gotS, _ := s.GetState(ctx, "s")
		gotS[0] = 'x'
	}
}

func checkStored(t *testing.T, s store.Store, a store.AuditRecord, p store.Profile, in store.Incident,
	c store.Challenge, k store.APIKey, state []byte) {
	t.Helper()
	ctx := t.Context()
	diff(t, "ListAudit", listAudit(t, s, store.AuditQuery{}), []store.AuditRecord{a})
	gotP, err := s.GetProfile(ctx, p.Account)
	if err != nil {
		t.Fatalf("GetProfile: %v", err)
	}
	diff(t, "GetProfile", gotP, p)
	gotIn, err := s.GetIncident(ctx, in.ID)
	if err != nil {
		t.Fatalf("GetIncident: %v", err)
	}
	diff(t, "GetIncident", gotIn, in)
	diff(t, "ListIncidents", listIncidents(t, s, ""), []store.Incident{in})
	gotC, err := s.GetChallenge(ctx, c.ID)
	if err != nil {
		t.Fatalf("GetChallenge: %v", err)
	}
	diff(t, "GetChallenge", gotC, c)
	gotK, err := s.KeyByHash(ctx, k.Hash)
	if err != nil {
		t.Fatalf("KeyByHash: %v", err)
	}
	diff(t, "KeyByHash", gotK, k)
	diff(t, "ListKeys", listKeys(t, s), []store.APIKey{k})
	gotS, err := s.GetState(ctx, "s")
	if err != nil {
		t.Fatalf("GetState: %v", err)
	}
	diff(t, "GetState", gotS, state)
}

func testMixedBatch(t *testing.T, s store.Store) {
	ctx := t.Context()
	b := store.Batch{
		Audit:            []store.AuditRecord{audit("ev-1", t0()), audit("ev-2", at(time.Second))},
		Profiles:         []store.Profile{profile("alice", t0())},
		Incidents:        []store.Incident{incident("inc-1", t0())},
		IncidentAccounts: []store.IncidentAccount{incidentAccount("inc-1", "alice", t0())},
		Challenges:       []store.Challenge{challenge("ch-1", t0())},
	}
	write(t, s, b)
	diff(t, "ListAudit ids", eventIDs(listAudit(t, s, store.AuditQuery{})), []string{"ev-2", "ev-1"})
	if _, err := s.GetProfile(ctx, "alice"); err != nil {
		t.Errorf("GetProfile: %v", err)
	}
	diff(t, "ListIncidents", listIncidents(t, s, ""), b.Incidents)
	diff(t, "ListIncidentAccounts", listIncidentAccounts(t, s, "inc-1"), b.IncidentAccounts)
	if _, err := s.GetChallenge(ctx, "ch-1"); err != nil {
		t.Errorf("GetChallenge: %v", err)
	}
}

// testConcurrentWrites writes from several goroutines while others read;
// run it with -race.
func testConcurrentWrites(t *testing.T, s store.Store) {
	const writers, batches = 8, 10
	ctx := t.Context()
	var wg sync.WaitGroup
	errs := make(chan error, writers*batches*2)
	for w := range writers {
		wg.Go(func() {
			for i := range batches {
				id := fmt.Sprintf("w%d-b%d", w, i)
				acct := fmt.Sprintf("acct-%d", w)
				b := store.Batch{
					Audit:            []store.AuditRecord{audit(id+"-a", at(time.Duration(i))), audit(id+"-b", t0())},
					Profiles:         []store.Profile{profile(acct, at(time.Duration(i)))},
					IncidentAccounts: []store.IncidentAccount{incidentAccount("inc-1", id, t0())},
				}
				if err := s.Write(ctx, b); err != nil {
					errs <- fmt.Errorf("Write(%s): %w", id, err)
				}
			}
		})
		wg.Go(func() { // a reader beside each writer
			for range batches {
				if _, err := s.ListAudit(ctx, store.AuditQuery{Limit: 5}); err != nil {
					errs <- fmt.Errorf("ListAudit: %w", err)
				}
				if _, err := s.CountAudit(ctx); err != nil {
					errs <- fmt.Errorf("CountAudit: %w", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := countAudit(t, s); n != writers*batches*2 {
		t.Errorf("CountAudit = %d, want %d", n, writers*batches*2)
	}
	if n := len(listIncidentAccounts(t, s, "inc-1")); n != writers*batches {
		t.Errorf("ListIncidentAccounts returned %d, want %d", n, writers*batches)
	}
	for w := range writers {
		acct := fmt.Sprintf("acct-%d", w)
		got, err := s.GetProfile(ctx, acct)
		if err != nil {
			t.Fatalf("GetProfile(%s): %v", acct, err)
		}
		diff(t, "GetProfile("+acct+")", got, profile(acct, at(batches-1)))
	}
}

func testPing(t *testing.T, s store.Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// testExpiredChallenges: a backend that sweeps (store.ChallengeSweeper)
// lists the pending challenges expired at or before now, oldest expiry
// first, at most limit; answered and unexpired ones never.
func testExpiredChallenges(t *testing.T, s store.Store) {
	sw, ok := s.(store.ChallengeSweeper)
	if !ok {
		t.Skip("the backend does not list expired challenges")
	}
	ctx := context.Background()
	base := time.Date(2026, 11, 20, 3, 0, 0, 0, time.UTC)
	var b store.Batch
	for i, st := range []string{store.ChallengePending, store.ChallengePassed, store.ChallengePending, store.ChallengeExpired, store.ChallengePending} {
		c := challenge(fmt.Sprintf("ch-%d", i), base.Add(-time.Duration(i)*time.Minute)) // expires base+10m-i
		c.State = st
		b.Challenges = append(b.Challenges, c)
	}
	if err := s.Write(ctx, b); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		now   time.Time
		limit int
		want  []string
	}{
		{base.Add(5 * time.Minute), 10, nil},
		{base.Add(8 * time.Minute), 10, []string{"ch-4", "ch-2"}}, // ch-2 expires at exactly now
		{base.Add(time.Hour), 10, []string{"ch-4", "ch-2", "ch-0"}},
		{base.Add(time.Hour), 2, []string{"ch-4", "ch-2"}},
	} {
		got, err := sw.ExpiredChallenges(ctx, tc.now, tc.limit)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range got {
			ids = append(ids, c.ID)
		}
		if !slices.Equal(ids, tc.want) {
			t.Errorf("ExpiredChallenges(%s, %d) = %v, want %v", tc.now.Format(time.TimeOnly), tc.limit, ids, tc.want)
		}
	}
}
