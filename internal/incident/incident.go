// Package incident groups the traffic of a campaign into an incident: when
// it started and ended, its sources, and the accounts it reached with what
// happened to each.
package incident

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/axiomhq/hyperloglog"

	"github.com/atoguard/atoguard/internal/ids"
	"github.com/atoguard/atoguard/internal/store"
)

// Kinds of incident.
const (
	KindCredentialStuffing = "credential_stuffing"
)

// Config bounds the tracker. Zero fields take defaults.
type Config struct {
	MaxAccounts int `yaml:"max_accounts"` // accounts listed per incident (default 100000, about 55 MB); past it only counts grow
	TopSources  int `yaml:"top_sources"`  // sources listed per kind (default 10)
	// SaveEvery is how often, in event time, the open incident's counters
	// are written while it runs (default 1s); each write estimates its
	// distinct sources, which a replay of days of logs need not do every
	// second.
	SaveEvery time.Duration `yaml:"save_every"`
}

// Hit is one event attributed to an incident.
type Hit struct {
	Account   string
	Known     bool // the account exists
	Outcome   string
	Succeeded bool // the password was correct
	IP        string
	Prefix    string
	UserAgent string
}

// Tracker holds the open incident, if any. It is safe for concurrent use.
type Tracker struct {
	cfg Config

	mu   sync.Mutex
	open *tracked
}

type tracked struct {
	inc      store.Incident
	ips      *hyperloglog.Sketch
	prefixes *hyperloglog.Sketch
	accounts map[string]*store.IncidentAccount
	pwdKnown map[string]bool
	overflow int64
	top      map[string]*spaceSaving // by source kind
	replayed map[string]bool         // accounts Replay saw; nil but while replaying
}

// New returns an empty tracker.
func New(cfg Config) *Tracker {
	if cfg.MaxAccounts <= 0 {
		cfg.MaxAccounts = 100_000
	}
	if cfg.TopSources <= 0 {
		cfg.TopSources = 10
	}
	if cfg.SaveEvery <= 0 {
		cfg.SaveEvery = time.Second
	}
	return &Tracker{cfg: cfg}
}

// Open starts an incident at start and returns it.
func (t *Tracker) Open(kind string, start time.Time) store.Incident {
	t.mu.Lock()
	defer t.mu.Unlock()
	ips, _ := hyperloglog.NewSketch(14, true)
	prefixes, _ := hyperloglog.NewSketch(14, true)
	t.open = &tracked{
		inc:      store.Incident{ID: ids.New("inc", start), Kind: kind, State: store.IncidentOpen, StartedAt: start, UpdatedAt: start},
		ips:      ips,
		prefixes: prefixes,
		accounts: map[string]*store.IncidentAccount{},
		pwdKnown: map[string]bool{},
		top:      map[string]*spaceSaving{},
	}
	return t.open.inc
}

// Adopt renames the open incident to id, started at start: another
// instance of the guard opened the same campaign's incident first. What
// this tracker counted so far stays; it returns the renamed incident and
// its accounts (to be written under the new id), and false when none is
// open.
func (t *Tracker) Adopt(id string, start time.Time) (store.Incident, []store.IncidentAccount, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open == nil {
		return store.Incident{}, nil, false
	}
	t.open.inc.ID = id
	if !start.IsZero() && start.Before(t.open.inc.StartedAt) {
		t.open.inc.StartedAt = start
	}
	accounts := make([]store.IncidentAccount, 0, len(t.open.accounts))
	for _, a := range t.open.accounts {
		a.IncidentID = id
		accounts = append(accounts, *a)
	}
	slices.SortFunc(accounts, func(a, b store.IncidentAccount) int { return strings.Compare(a.Account, b.Account) })
	return t.snapshotLocked(), accounts, true
}

// Close ends the open incident at end and returns it; ok is false when
// none was open.
func (t *Tracker) Close(end time.Time) (store.Incident, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open == nil {
		return store.Incident{}, false
	}
	t.open.inc.State = store.IncidentClosed
	t.open.inc.EndedAt = end
	// The close is the incident's last change: it must not look older than
	// the counters last written (hits counted after the campaign's last
	// hot minute), or the store, which keeps the newer copy, would keep
	// the incident open.
	t.open.inc.UpdatedAt = maxTime(t.open.inc.UpdatedAt, end)
	inc := t.snapshotLocked()
	t.open = nil
	return inc, true
}

// SaveEvery returns how often the open incident's counters are written.
func (t *Tracker) SaveEvery() time.Duration { return t.cfg.SaveEvery }

// OpenID returns the id of the open incident, or "".
func (t *Tracker) OpenID() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open == nil {
		return ""
	}
	return t.open.inc.ID
}

// outcomeRank orders outcomes by how much they matter to an operator: an
// account the attacker got into outranks one that was only challenged.
var outcomeRank = map[string]int{
	"failed":                0,
	store.OutcomeDenied:     1,
	store.OutcomeChallenged: 2,
	// Ranked as challenged: a later challenge on the account does not
	// hide that one was walked away from; a pass or a login does.
	store.OutcomeChallengeAbandoned: 2,
	store.OutcomeChallengePassed:    3,
	store.OutcomeAllowed:            4,
}

// Record attributes a hit at now to the open incident and returns the
// account's row to persist; ok is false when no incident is open or the
// account list is full.
func (t *Tracker) Record(h Hit, now time.Time) (store.IncidentAccount, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.open
	if o == nil {
		return store.IncidentAccount{}, false
	}
	t.countLocked(h, now)
	a, ok := o.accounts[h.Account]
	if !ok {
		if a, ok = t.addAccountLocked(h, now); !ok {
			return store.IncidentAccount{}, false
		}
	}
	a.Attempts++
	a.LastSeen = now
	if outcomeRank[h.Outcome] > outcomeRank[a.Outcome] {
		a.Outcome = h.Outcome
	}
	return *a, true
}

// Replay attributes a hit at now that is already on record, as a restart
// replays the events after its snapshot: the incident's counters count
// it, while the account's row, restored from the records with the hit in
// it, stays as it is. An account first reached by the hit (its row's
// FirstSeen is now) counts as targeted once.
func (t *Tracker) Replay(h Hit, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.open
	if o == nil {
		return
	}
	t.countLocked(h, now)
	a, ok := o.accounts[h.Account]
	if !ok {
		if a, ok = t.addAccountLocked(h, now); ok {
			a.Attempts, a.LastSeen = 1, now
		}
		return
	}
	if o.replayed == nil {
		o.replayed = map[string]bool{}
	}
	if h.Known && a.FirstSeen.Equal(now) && !o.replayed[h.Account] {
		o.inc.AccountsTargeted++
	}
	o.replayed[h.Account] = true
}

// Resume names the open incident id, as it is on record, and loads the
// accounts recorded for it: a restart's replay opened again an incident
// that no snapshot held. It reports false when none is open.
func (t *Tracker) Resume(id string, accounts []store.IncidentAccount) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.open
	if o == nil {
		return false
	}
	o.inc.ID = id
	for i := range accounts {
		a := accounts[i]
		o.accounts[a.Account] = &a
	}
	return true
}

// countLocked counts a hit in the open incident's counters and sources.
func (t *Tracker) countLocked(h Hit, now time.Time) {
	o := t.open
	o.inc.Attempts++
	o.inc.UpdatedAt = now
	if h.IP != "" {
		o.ips.Insert([]byte(h.IP))
		t.topLocked("ip").add(h.IP)
	}
	if h.Prefix != "" {
		o.prefixes.Insert([]byte(h.Prefix))
		t.topLocked("prefix").add(h.Prefix)
	}
	if h.UserAgent != "" {
		t.topLocked("user_agent").add(h.UserAgent)
	}
	if h.Succeeded && h.Known && !o.pwdKnown[h.Account] {
		o.pwdKnown[h.Account] = true
		o.inc.AccountsCompromised++
	}
}

// addAccountLocked lists the account a hit first reached, unless the list
// is full.
func (t *Tracker) addAccountLocked(h Hit, now time.Time) (*store.IncidentAccount, bool) {
	o := t.open
	if len(o.accounts) >= t.cfg.MaxAccounts {
		o.overflow++
		return nil, false
	}
	a := &store.IncidentAccount{IncidentID: o.inc.ID, Account: h.Account, Known: h.Known, Outcome: h.Outcome, FirstSeen: now}
	o.accounts[h.Account] = a
	if h.Known {
		o.inc.AccountsTargeted++
	}
	return a, true
}

// PassChallenge marks account's outcome as challenge_passed when the open
// incident reached it and it was challenged, and returns the row to
// persist.
func (t *Tracker) PassChallenge(account string, now time.Time) (store.IncidentAccount, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open == nil {
		return store.IncidentAccount{}, false
	}
	a, ok := t.open.accounts[account]
	if !ok || (a.Outcome != store.OutcomeChallenged && a.Outcome != store.OutcomeChallengeAbandoned) {
		return store.IncidentAccount{}, false
	}
	a.Outcome = store.OutcomeChallengePassed
	a.LastSeen = now
	return *a, true
}

// AbandonChallenge marks account's outcome as challenge_abandoned when
// the open incident is incidentID, reached the account and left it
// challenged, and returns the row to persist: a challenge the incident's
// traffic asked for expired unanswered.
func (t *Tracker) AbandonChallenge(incidentID, account string, now time.Time) (store.IncidentAccount, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open == nil || t.open.inc.ID != incidentID {
		return store.IncidentAccount{}, false
	}
	a, ok := t.open.accounts[account]
	if !ok || a.Outcome != store.OutcomeChallenged {
		return store.IncidentAccount{}, false
	}
	a.Outcome = store.OutcomeChallengeAbandoned
	a.LastSeen = now
	return *a, true
}

// Snapshot returns the open incident as it stands; ok is false when none
// is open.
func (t *Tracker) Snapshot() (store.Incident, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.open == nil {
		return store.Incident{}, false
	}
	return t.snapshotLocked(), true
}

func (t *Tracker) snapshotLocked() store.Incident {
	o := t.open
	inc := o.inc
	// After a restart the sketches start empty: never report less than
	// what was saved.
	inc.DistinctIPs = max(o.inc.DistinctIPs, int64(o.ips.Estimate()))
	inc.DistinctPrefixes = max(o.inc.DistinctPrefixes, int64(o.prefixes.Estimate()))
	inc.TopSources = nil
	for _, kind := range []string{"ip", "prefix", "user_agent"} {
		if s := o.top[kind]; s != nil {
			for _, e := range s.topN(t.cfg.TopSources) {
				inc.TopSources = append(inc.TopSources, store.Source{Kind: kind, Value: e.key, Attempts: e.count})
			}
		}
	}
	return inc
}

func (t *Tracker) topLocked(kind string) *spaceSaving {
	s := t.open.top[kind]
	if s == nil {
		s = newSpaceSaving(t.cfg.TopSources * 20)
		t.open.top[kind] = s
	}
	return s
}

// spaceSaving finds the most frequent keys of a stream in bounded memory
// (Metwally et al., "Efficient computation of frequent and top-k elements
// in data streams", 2005).
// Each key keeps its count and the count it inherited when it replaced
// the minimum (its possible overestimate); what is reported is the
// guaranteed part, count − inherited, so a flood of one-off keys does not
// show up as heavy hitters.
type spaceSaving struct {
	cap    int
	counts map[string]ssEntry
}

type ssEntry struct {
	count, err int64
}

type countEntry struct {
	key   string
	count int64
}

func newSpaceSaving(capacity int) *spaceSaving {
	return &spaceSaving{cap: capacity, counts: make(map[string]ssEntry, capacity)}
}

func (s *spaceSaving) add(key string) {
	if e, ok := s.counts[key]; ok || len(s.counts) < s.cap {
		e.count++
		s.counts[key] = e
		return
	}
	// Replace the minimum, inheriting its count as the error bound.
	minKey, minCount := "", int64(-1)
	for k, e := range s.counts {
		if minCount < 0 || e.count < minCount {
			minKey, minCount = k, e.count
		}
	}
	delete(s.counts, minKey)
	s.counts[key] = ssEntry{count: minCount + 1, err: minCount}
}

func (s *spaceSaving) topN(n int) []countEntry {
	out := make([]countEntry, 0, len(s.counts))
	for k, e := range s.counts {
		if g := e.count - e.err; g > 0 {
			out = append(out, countEntry{k, g})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].count != out[j].count {
			return out[i].count > out[j].count
		}
		return out[i].key < out[j].key
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

type persisted struct {
	Incident store.Incident `json:"incident"`
	// Compromised are the accounts the incident got a correct password
	// of, counted once each in AccountsCompromised.
	Compromised []string `json:"compromised,omitempty"`
}

// Save encodes the open incident's identity and counters so a restart
// continues it; nil when none is open.
func (t *Tracker) Save() ([]byte, error) {
	t.mu.Lock()
	if t.open == nil {
		t.mu.Unlock()
		return nil, nil
	}
	p := persisted{Incident: t.snapshotLocked()}
	for a := range t.open.pwdKnown {
		p.Compromised = append(p.Compromised, a)
	}
	t.mu.Unlock()
	sort.Strings(p.Compromised)
	return json.Marshal(p)
}

// Restore continues an incident saved by Save, with the accounts already
// recorded for it, which accountsOf loads (only when the incident is open).
func (t *Tracker) Restore(data []byte, accountsOf func(incidentID string) ([]store.IncidentAccount, error)) error {
	if len(data) == 0 {
		return nil
	}
	var p persisted
	if err := json.Unmarshal(data, &p); err != nil {
		return fmt.Errorf("decoding incident state: %w", err)
	}
	if p.Incident.State != store.IncidentOpen {
		return nil
	}
	accounts, err := accountsOf(p.Incident.ID)
	if err != nil {
		return fmt.Errorf("loading the accounts of incident %s: %w", p.Incident.ID, err)
	}
	t.Open(p.Incident.Kind, p.Incident.StartedAt)
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.open
	o.inc = p.Incident
	for i := range accounts {
		a := accounts[i]
		o.accounts[a.Account] = &a
	}
	for _, a := range p.Compromised {
		o.pwdKnown[a] = true
	}
	return nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
