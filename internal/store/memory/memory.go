// Package memory provides an in-memory store.Store for tests and for
// deployments that do not need records to survive a restart.
package memory

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

var _ store.Store = (*Store)(nil)

// defaultAuditLimit is what AuditQuery.Limit 0 means.
const defaultAuditLimit = 100

// Store keeps every record in maps guarded by one lock. Values are copied
// in and out, so callers never share memory with the store. Times are kept
// in UTC without a monotonic reading, as the SQLite backend returns them.
// Write is durable only for the life of the process.
type Store struct {
	mu               sync.RWMutex
	audit            []auditEntry // ordered by (ReceivedAt, seq) ascending
	auditIDs         map[string]struct{}
	seq              uint64
	profiles         map[string]store.Profile
	incidents        map[string]store.Incident
	incidentAccounts map[string]map[string]store.IncidentAccount // incident id → account
	challenges       map[string]store.Challenge
	keys             map[string]store.APIKey
	keyIDByHash      map[string]string
	state            map[string][]byte
	reviews          map[string]store.Review

	factors      map[string]store.Factor
	factorByCred map[string]string // credential id → factor id
	recovery     map[string][]store.RecoveryCode
	emailOTPs    map[string]store.EmailOTP
	waSessions   map[string]store.WebAuthnSession

	outbox outbox // notifications (outbox.go)

	operators map[string]store.Operator // by name (operators.go)
	contacts  map[string]store.Contacts // by user id

	batchIDs map[string]time.Time // applied batch ids (store.Batch.IDs) and when
}

type auditEntry struct {
	seq uint64
	rec store.AuditRecord
}

// New returns an empty Store.
func New() *Store {
	return &Store{
		auditIDs:         make(map[string]struct{}),
		profiles:         make(map[string]store.Profile),
		incidents:        make(map[string]store.Incident),
		incidentAccounts: make(map[string]map[string]store.IncidentAccount),
		challenges:       make(map[string]store.Challenge),
		keys:             make(map[string]store.APIKey),
		keyIDByHash:      make(map[string]string),
		state:            make(map[string][]byte),
		factors:          make(map[string]store.Factor),
		factorByCred:     make(map[string]string),
		recovery:         make(map[string][]store.RecoveryCode),
		emailOTPs:        make(map[string]store.EmailOTP),
		waSessions:       make(map[string]store.WebAuthnSession),
		operators:        make(map[string]store.Operator),
		contacts:         make(map[string]store.Contacts),
		batchIDs:         make(map[string]time.Time),
	}
}

// Write applies b under the store's lock, so readers see all of it or none.
func (s *Store) Write(ctx context.Context, b store.Batch) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.Empty() {
		return nil
	}
	b, err := store.LiftLegacyContacts(b)
	if err != nil {
		return fmt.Errorf("writing batch: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, id := range b.IDs {
		if _, ok := s.batchIDs[id]; ok || slices.Contains(b.IDs[:i], id) {
			return fmt.Errorf("writing batch: batch id %q: %w", id, store.ErrBatchApplied)
		}
	}
	for _, id := range b.IDs {
		s.batchIDs[id] = b.AppliedAt
	}
	for _, a := range b.Audit {
		s.addAuditLocked(copyAudit(a))
	}
	// A profile or incident replaces the stored one only if as new.
	for _, p := range b.Profiles {
		if old, ok := s.profiles[p.Account]; !ok || !p.UpdatedAt.Before(old.UpdatedAt) {
			s.profiles[p.Account] = copyProfile(p)
		}
	}
	for _, in := range b.Incidents {
		if old, ok := s.incidents[in.ID]; !ok || !in.UpdatedAt.Before(old.UpdatedAt) {
			s.incidents[in.ID] = copyIncident(in)
		}
	}
	for _, ia := range b.IncidentAccounts {
		m := s.incidentAccounts[ia.IncidentID]
		if m == nil {
			m = make(map[string]store.IncidentAccount)
			s.incidentAccounts[ia.IncidentID] = m
		}
		m[ia.Account] = copyIncidentAccount(ia)
	}
	for _, c := range b.Challenges {
		s.challenges[c.ID] = copyChallenge(c)
	}
	for _, n := range b.Notifications {
		s.addNotificationLocked(n)
	}
	for _, r := range b.Reviews {
		s.addReviewLocked(r)
	}
	for _, c := range b.Contacts {
		s.contacts[c.UserID] = copyContacts(c)
	}
	return nil
}

// PruneBatchIDs forgets the batch ids applied before before.
func (s *Store) PruneBatchIDs(ctx context.Context, before time.Time) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for id, at := range s.batchIDs {
		if at.Before(before) {
			delete(s.batchIDs, id)
			n++
		}
	}
	return n, nil
}

// addAuditLocked inserts a unless its event id is already stored. Records
// usually arrive in ReceivedAt order, so the insert is usually an append.
func (s *Store) addAuditLocked(a store.AuditRecord) {
	if _, ok := s.auditIDs[a.EventID]; ok {
		return
	}
	s.auditIDs[a.EventID] = struct{}{}
	s.seq++
	e := auditEntry{seq: s.seq, rec: a}
	n := len(s.audit)
	if n == 0 || !s.audit[n-1].rec.ReceivedAt.After(a.ReceivedAt) {
		s.audit = append(s.audit, e)
		return
	}
	i := sort.Search(n, func(i int) bool { return s.audit[i].rec.ReceivedAt.After(a.ReceivedAt) })
	s.audit = slices.Insert(s.audit, i, e)
}

// GetProfile returns the profile of account or store.ErrNotFound; a
// legacy contact profile is read from the contact histories
// (store.ContactsAsProfile).
func (s *Store) GetProfile(ctx context.Context, account string) (store.Profile, error) {
	if p, ok, err := store.ContactsAsProfile(ctx, s, account); ok {
		return p, err
	}
	return lookup(s, s.profiles, "profile", account, copyProfile)
}

// GetContacts returns the contact history of userID or store.ErrNotFound.
func (s *Store) GetContacts(ctx context.Context, userID string) (store.Contacts, error) {
	return lookup(s, s.contacts, "contacts", userID, copyContacts)
}

// copyContacts copies c in or out of the store.
func copyContacts(c store.Contacts) store.Contacts {
	c.Changes = slices.Clone(c.Changes)
	for i := range c.Changes {
		c.Changes[i].At = utc(c.Changes[i].At)
	}
	c.UpdatedAt = utc(c.UpdatedAt)
	return c
}

// DecisionCounts returns how many audit records received at or after
// since got each decision.
func (s *Store) DecisionCounts(ctx context.Context, since time.Time) (map[string]int64, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := map[string]int64{}
	// s.audit is ordered by ReceivedAt: the records since since end it.
	for i := len(s.audit) - 1; i >= 0 && !s.audit[i].rec.ReceivedAt.Before(since); i-- {
		out[s.audit[i].rec.Decision]++
	}
	return out, nil
}

// lookup returns a copy of m[key], read under the read lock, or
// store.ErrNotFound naming what and key. m is one of the maps New makes.
func lookup[T any](s *Store, m map[string]T, what, key string, copyOut func(T) T) (T, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := m[key]
	if !ok {
		var zero T
		return zero, fmt.Errorf("%s %q: %w", what, key, store.ErrNotFound)
	}
	return copyOut(v), nil
}

// sortedValues returns copies of the values of m, read under the read
// lock, sorted by compare. m is one of the maps New makes.
func sortedValues[T any](s *Store, m map[string]T, copyOut func(T) T, compare func(a, b T) int) []T {
	s.mu.RLock()
	out := make([]T, 0, len(m))
	for _, v := range m {
		out = append(out, copyOut(v))
	}
	s.mu.RUnlock()
	slices.SortFunc(out, compare)
	return out
}

// ListIncidents returns the incidents in state ("" for all), most recently
// started first.
func (s *Store) ListIncidents(ctx context.Context, state string) ([]store.Incident, error) {
	s.mu.RLock()
	out := make([]store.Incident, 0, len(s.incidents))
	for _, in := range s.incidents {
		if state == "" || in.State == state {
			out = append(out, copyIncident(in))
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b store.Incident) int {
		if c := b.StartedAt.Compare(a.StartedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// GetIncident returns the incident with id or store.ErrNotFound.
func (s *Store) GetIncident(ctx context.Context, id string) (store.Incident, error) {
	return lookup(s, s.incidents, "incident", id, copyIncident)
}

// ListIncidentAccounts returns the accounts incidentID reached, ordered by
// FirstSeen then Account; none (and no error) for an unknown incident.
func (s *Store) ListIncidentAccounts(ctx context.Context, incidentID string) ([]store.IncidentAccount, error) {
	s.mu.RLock()
	m := s.incidentAccounts[incidentID]
	out := make([]store.IncidentAccount, 0, len(m))
	for _, ia := range m {
		out = append(out, ia) // no slices inside: the value is a copy
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b store.IncidentAccount) int {
		if c := a.FirstSeen.Compare(b.FirstSeen); c != 0 {
			return c
		}
		return cmp.Compare(a.Account, b.Account)
	})
	return out, nil
}

// GetChallenge returns the challenge with id or store.ErrNotFound.
func (s *Store) GetChallenge(ctx context.Context, id string) (store.Challenge, error) {
	return lookup(s, s.challenges, "challenge", id, copyChallenge)
}

// ExpiredChallenges returns up to limit pending challenges that expired
// at or before now, the oldest expiry first (then ID).
func (s *Store) ExpiredChallenges(ctx context.Context, now time.Time, limit int) ([]store.Challenge, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	var out []store.Challenge
	for _, c := range s.challenges {
		if c.State == store.ChallengePending && !c.ExpiresAt.After(now) {
			out = append(out, copyChallenge(c))
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b store.Challenge) int {
		if c := a.ExpiresAt.Compare(b.ExpiresAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// PutKey stores k, replacing the key with the same ID. It fails when
// another key already has k's hash.
func (s *Store) PutKey(ctx context.Context, k store.APIKey) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	k = copyKey(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	h := string(k.Hash)
	if id, ok := s.keyIDByHash[h]; ok && id != k.ID {
		return fmt.Errorf("putting key %q: hash already used by another key", k.ID)
	}
	if old, ok := s.keys[k.ID]; ok {
		delete(s.keyIDByHash, string(old.Hash))
	}
	s.keys[k.ID] = k
	s.keyIDByHash[h] = k.ID
	return nil
}

// KeyByHash returns the key whose secret hashes to hash or store.ErrNotFound.
func (s *Store) KeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok := s.keyIDByHash[string(hash)]
	if !ok {
		return store.APIKey{}, fmt.Errorf("key by hash: %w", store.ErrNotFound)
	}
	return copyKey(s.keys[id]), nil
}

// ListKeys returns every key ordered by CreatedAt then ID.
func (s *Store) ListKeys(ctx context.Context) ([]store.APIKey, error) {
	return sortedValues(s, s.keys, copyKey, func(a, b store.APIKey) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	}), nil
}

// GetState returns the state saved under name or store.ErrNotFound.
func (s *Store) GetState(ctx context.Context, name string) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.state[name]
	if !ok {
		return nil, fmt.Errorf("state %q: %w", name, store.ErrNotFound)
	}
	return bytes.Clone(v), nil
}

// PutState saves value under name, replacing what was there.
func (s *Store) PutState(ctx context.Context, name string, value []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	v := bytes.Clone(value)
	if v == nil {
		v = []byte{}
	}
	s.mu.Lock()
	s.state[name] = v
	s.mu.Unlock()
	return nil
}

// ListAudit returns the audit records q selects, newest (by ReceivedAt,
// then by order of writing) first.
func (s *Store) ListAudit(ctx context.Context, q store.AuditQuery) ([]store.AuditRecord, error) {
	limit := q.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []store.AuditRecord
	for i := len(s.audit) - 1; i >= 0 && len(out) < limit; i-- {
		a := &s.audit[i].rec
		if q.Account == "" || a.Account == q.Account {
			out = append(out, copyAudit(*a))
		}
	}
	return out, nil
}

// ReadAudit returns up to limit audit records after from, oldest first,
// and the cursor of the last one returned (from when none is).
func (s *Store) ReadAudit(ctx context.Context, from store.AuditCursor, limit int) ([]store.AuditRecord, store.AuditCursor, error) {
	if err := ctx.Err(); err != nil {
		return nil, from, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	after := utc(from.ReceivedAt)
	i := sort.Search(len(s.audit), func(i int) bool {
		e := &s.audit[i]
		c := e.rec.ReceivedAt.Compare(after)
		return c > 0 || c == 0 && int64(e.seq) > from.Seq
	})
	var out []store.AuditRecord
	for ; i < len(s.audit) && len(out) < limit; i++ {
		e := &s.audit[i]
		out = append(out, copyAudit(e.rec))
		from = store.AuditCursor{ReceivedAt: e.rec.ReceivedAt, Seq: int64(e.seq)}
	}
	return out, from, nil
}

// CountAudit returns the number of audit records.
func (s *Store) CountAudit(ctx context.Context) (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return int64(len(s.audit)), nil
}

// Ping reports nil: memory is always there.
func (s *Store) Ping(ctx context.Context) error { return ctx.Err() }

// Close does nothing; the Store stays usable.
func (s *Store) Close() error { return nil }

// utc drops t's location and monotonic reading; the zero time stays zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}

func copyAudit(a store.AuditRecord) store.AuditRecord {
	a.ReceivedAt = utc(a.ReceivedAt)
	a.OccurredAt = utc(a.OccurredAt)
	a.Reasons = slices.Clone(a.Reasons)
	a.PasswordHMAC = bytes.Clone(a.PasswordHMAC)
	a.Event = bytes.Clone(a.Event)
	a.Replay = bytes.Clone(a.Replay)
	return a
}

func copyProfile(p store.Profile) store.Profile {
	p.Data = bytes.Clone(p.Data)
	p.UpdatedAt = utc(p.UpdatedAt)
	return p
}

func copyIncident(in store.Incident) store.Incident {
	in.StartedAt = utc(in.StartedAt)
	in.EndedAt = utc(in.EndedAt)
	in.UpdatedAt = utc(in.UpdatedAt)
	in.TopSources = slices.Clone(in.TopSources)
	return in
}

func copyIncidentAccount(ia store.IncidentAccount) store.IncidentAccount {
	ia.FirstSeen = utc(ia.FirstSeen)
	ia.LastSeen = utc(ia.LastSeen)
	return ia
}

func copyChallenge(c store.Challenge) store.Challenge {
	c.Methods = slices.Clone(c.Methods)
	c.CreatedAt = utc(c.CreatedAt)
	c.ExpiresAt = utc(c.ExpiresAt)
	return c
}

func copyKey(k store.APIKey) store.APIKey {
	k.Hash = bytes.Clone(k.Hash)
	k.Scopes = slices.Clone(k.Scopes)
	k.CreatedAt = utc(k.CreatedAt)
	return k
}

// PruneAudit deletes up to limit audit records received before before,
// oldest first.
func (s *Store) PruneAudit(ctx context.Context, before time.Time, limit int) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for n < len(s.audit) && n < max(limit, 1) && s.audit[n].rec.ReceivedAt.Before(before) {
		delete(s.auditIDs, s.audit[n].rec.EventID)
		n++
	}
	s.audit = slices.Delete(s.audit, 0, n)
	return int64(n), nil
}
