package federation

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// MaxSubjectBytes is the longest subject a received fact may carry.
const MaxSubjectBytes = 512

// Store holds the facts peers sent, deduplicated by (peer, kind, subject),
// each until it expires on event time, at most Config.Max per kind. It
// is durable when given a file: Receive returns only once the facts are
// on disk (fsynced), so a fact acknowledged to a peer survives a kill -9.
// It is safe for concurrent use.
type Store struct {
	cfg  Config
	now  func() time.Time
	path string // empty: memory only

	mu     sync.Mutex
	facts  map[Kind]map[string]map[string]*Fact // kind, subject, peer
	counts map[Kind]int
	paused map[string]bool
	peers  map[string]*peerStat
	file   *os.File
	lines  int  // records in file
	torn   bool // a failed write or a crash may have left a partial line at the end
}

type peerStat struct {
	received int
	last     time.Time // LastSeen of the newest fact received
}

// entry is one line of the store's file: a fact, or a peer paused,
// resumed or removed.
type entry struct {
	Fact *Fact  `json:"fact,omitempty"`
	Peer string `json:"peer,omitempty"`
	Op   string `json:"op,omitempty"` // pause, resume, remove
}

// Open returns a store kept in the file at path (created if missing;
// empty path: in memory only), with the facts on record that are still
// live at now(). The file is rewritten only when most of its records are
// stale (maybeCompactLocked), not on every start.
func Open(path string, cfg Config, now func() time.Time) (*Store, error) {
	s := &Store{cfg: cfg, now: now, path: path, facts: map[Kind]map[string]map[string]*Fact{},
		counts: map[Kind]int{}, paused: map[string]bool{}, peers: map[string]*peerStat{}}
	if path == "" {
		return s, nil
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	if err := s.maybeCompactLocked(); err != nil {
		return nil, err
	}
	return s, nil
}

// load reads the file's records, counting them (s.lines); a torn last
// line (a crash mid-write, never acknowledged) is skipped, and marks the
// file torn so the next write starts on a line of its own.
func (s *Store) load() error {
	f, err := os.Open(s.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening federation facts: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	now := s.now()
	for sc.Scan() {
		s.lines++
		var e entry
		if json.Unmarshal(sc.Bytes(), &e) != nil {
			continue
		}
		s.applyLocked(e, now)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading federation facts: %w", err)
	}
	torn, err := endsTorn(f)
	if err != nil {
		return fmt.Errorf("reading federation facts: %w", err)
	}
	s.torn = torn
	return nil
}

// endsTorn reports whether f's last line has no newline.
func endsTorn(f *os.File) (bool, error) {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return false, err
	}
	var last [1]byte
	if _, err := f.ReadAt(last[:], st.Size()-1); err != nil {
		return false, err
	}
	return last[0] != '\n', nil
}

// Receive keeps facts peers sent (each with Peer set), and returns once
// they are durable. Facts that are malformed or expired are dropped, not
// refused: a peer's garbage never fails the others' facts.
func (s *Store) Receive(ctx context.Context, facts []Fact) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.receive(facts, s.now())
}

func (s *Store) receive(facts []Fact, now time.Time) error {
	var es []entry
	for _, f := range facts {
		if f, ok := s.accept(f, now); ok {
			es = append(es, entry{Fact: &f})
		}
	}
	if len(es) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writeLocked(es); err != nil {
		return err
	}
	for _, e := range es {
		s.applyLocked(e, now)
	}
	return s.maybeCompactLocked()
}

// accept checks a received fact and caps its expiry at this guard's TTL
// for its kind.
func (s *Store) accept(f Fact, now time.Time) (Fact, bool) {
	if !knownKind(f.Kind) || f.Peer == "" || f.Subject == "" || len(f.Subject) > MaxSubjectBytes ||
		len(f.Peer) > MaxSubjectBytes || len(f.Incident) > MaxSubjectBytes || len(f.ID) > MaxSubjectBytes {
		return f, false
	}
	seen := f.LastSeen
	if seen.IsZero() || seen.After(now) {
		seen = now
	}
	if limit := seen.Add(s.cfg.TTL(f.Kind)); f.Expires.IsZero() || f.Expires.After(limit) {
		f.Expires = limit
	}
	if math.IsNaN(f.Confidence) {
		f.Confidence = 0
	}
	f.Confidence = min(max(f.Confidence, 0), 1)
	f.Count = max(f.Count, 0)
	return f, f.Live(now)
}

// writeLocked appends es to the file and syncs it.
func (s *Store) writeLocked(es []entry) error {
	if s.path == "" {
		return nil
	}
	if s.file == nil {
		f, err := os.OpenFile(s.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			return fmt.Errorf("opening federation facts: %w", err)
		}
		s.file = f
	}
	var buf []byte
	if s.torn {
		buf = append(buf, '\n')
	}
	for _, e := range es {
		b, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encoding a fact: %w", err)
		}
		buf = append(append(buf, b...), '\n')
	}
	st, err := s.file.Stat()
	if err != nil {
		return fmt.Errorf("reading federation facts' size: %w", err)
	}
	if err := s.appendLocked(buf); err != nil {
		// What a failed write left at the end is cut off (or, failing
		// that, ended by a newline before the next records), so the next
		// records never land on a torn line the load would skip.
		if terr := s.file.Truncate(st.Size()); terr != nil {
			s.torn = true
		}
		return err
	}
	s.torn = false
	s.lines += len(es)
	return nil
}

// appendLocked writes buf at the end of the file and syncs it.
func (s *Store) appendLocked(buf []byte) error {
	if _, err := s.file.Write(buf); err != nil {
		return fmt.Errorf("writing federation facts: %w", err)
	}
	if err := s.file.Sync(); err != nil {
		return fmt.Errorf("syncing federation facts: %w", err)
	}
	return nil
}

// maybeCompactLocked compacts the file once most of its records are
// stale (updates, expired facts, removed peers, torn lines) and they are
// more than a thousand: a restart or a write with little garbage leaves
// the file as it is.
func (s *Store) maybeCompactLocked() error {
	if s.lines > 2*s.totalLocked()+1024 {
		return s.compactLocked()
	}
	return nil
}

// applyLocked applies one record in memory.
func (s *Store) applyLocked(e entry, now time.Time) {
	switch e.Op {
	case "pause":
		s.paused[e.Peer] = true
	case "resume":
		delete(s.paused, e.Peer)
	case "remove":
		s.removeLocked(e.Peer)
	}
	if e.Fact == nil || !e.Fact.Live(now) {
		return
	}
	s.mergeLocked(*e.Fact)
	s.evictLocked(e.Fact.Kind, now)
}

// mergeLocked keeps f, merged with what its peer said before about the
// same subject: the largest count and confidence, the widest span, the
// latest expiry.
func (s *Store) mergeLocked(f Fact) {
	bySubject := s.facts[f.Kind]
	if bySubject == nil {
		bySubject = map[string]map[string]*Fact{}
		s.facts[f.Kind] = bySubject
	}
	byPeer := bySubject[f.Subject]
	if byPeer == nil {
		byPeer = map[string]*Fact{}
		bySubject[f.Subject] = byPeer
	}
	st := s.peers[f.Peer]
	if st == nil {
		st = &peerStat{}
		s.peers[f.Peer] = st
	}
	st.received++
	if f.LastSeen.After(st.last) {
		st.last = f.LastSeen
	}
	old, ok := byPeer[f.Peer]
	if !ok {
		nf := f
		byPeer[f.Peer] = &nf
		s.counts[f.Kind]++
		return
	}
	old.Count = max(old.Count, f.Count)
	old.Confidence = max(old.Confidence, f.Confidence)
	if !f.FirstSeen.IsZero() && (old.FirstSeen.IsZero() || f.FirstSeen.Before(old.FirstSeen)) {
		old.FirstSeen = f.FirstSeen
	}
	if f.LastSeen.After(old.LastSeen) {
		old.LastSeen, old.Incident, old.ID = f.LastSeen, f.Incident, f.ID
	}
	if f.Expires.After(old.Expires) {
		old.Expires = f.Expires
	}
}

// evictLocked keeps kind's facts within the cap: past it, the expired
// ones go, then those expiring soonest (the oldest first on a tie), down
// to nine tenths of the cap, so eviction runs once per many facts.
func (s *Store) evictLocked(kind Kind, now time.Time) {
	limit := s.cfg.Max()
	if s.counts[kind] <= limit {
		return
	}
	var all []*Fact
	for _, byPeer := range s.facts[kind] {
		for _, f := range byPeer {
			all = append(all, f)
		}
	}
	slices.SortFunc(all, func(a, b *Fact) int {
		if c := a.Expires.Compare(b.Expires); c != 0 {
			return c
		}
		return a.LastSeen.Compare(b.LastSeen)
	})
	keep := limit * 9 / 10
	for i, f := range all {
		if len(all)-i <= keep && f.Live(now) {
			break
		}
		s.deleteLocked(f)
	}
}

func (s *Store) deleteLocked(f *Fact) {
	byPeer := s.facts[f.Kind][f.Subject]
	delete(byPeer, f.Peer)
	if len(byPeer) == 0 {
		delete(s.facts[f.Kind], f.Subject)
	}
	s.counts[f.Kind]--
}

func (s *Store) removeLocked(peer string) {
	for kind, bySubject := range s.facts {
		for subject, byPeer := range bySubject {
			if _, ok := byPeer[peer]; ok {
				delete(byPeer, peer)
				s.counts[kind]--
				if len(byPeer) == 0 {
					delete(bySubject, subject)
				}
			}
		}
	}
	delete(s.peers, peer)
	delete(s.paused, peer)
}

func (s *Store) totalLocked() int {
	n := 0
	for _, c := range s.counts {
		n += c
	}
	return n + len(s.paused)
}

// compactLocked rewrites the file with the live facts and paused peers
// alone: a new file, synced, renamed over the old one.
func (s *Store) compactLocked() error {
	if s.path == "" {
		return nil
	}
	now := s.now()
	tmp := s.path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("compacting federation facts: %w", err)
	}
	w := bufio.NewWriter(f)
	enc := json.NewEncoder(w)
	n := 0
	for peer := range s.paused {
		_ = enc.Encode(entry{Op: "pause", Peer: peer})
		n++
	}
	for _, bySubject := range s.facts {
		for _, byPeer := range bySubject {
			for _, fact := range byPeer {
				if fact.Live(now) {
					_ = enc.Encode(entry{Fact: fact})
					n++
				}
			}
		}
	}
	err = errors.Join(w.Flush(), f.Sync(), f.Close())
	if err == nil {
		err = os.Rename(tmp, s.path)
	}
	if err == nil {
		err = syncDir(filepath.Dir(s.path))
	}
	if err != nil {
		return fmt.Errorf("compacting federation facts: %w", err)
	}
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
	s.lines, s.torn = n, false
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Close closes the store's file.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.file == nil {
		return nil
	}
	err := s.file.Close()
	s.file = nil
	return err
}

// Match is what the live facts of unpaused peers say about one subject.
type Match struct {
	Peers      []string // the peers that said it, sorted
	Count      int      // the largest count among them
	Confidence float64  // the highest confidence among them
}

// Found reports whether any peer said it.
func (m Match) Found() bool { return len(m.Peers) > 0 }

// Lookup returns what unpaused peers said of subject, as facts of kind
// live at now.
func (s *Store) Lookup(kind Kind, subject string, now time.Time) Match {
	var m Match
	s.mu.Lock()
	defer s.mu.Unlock()
	for peer, f := range s.facts[kind][subject] {
		if s.paused[peer] || !f.Live(now) {
			continue
		}
		m.Peers = append(m.Peers, peer)
		m.Count = max(m.Count, f.Count)
		m.Confidence = max(m.Confidence, f.Confidence)
	}
	slices.Sort(m.Peers)
	return m
}

// PeerSummary is what one peer sent, for the dashboard.
type PeerSummary struct {
	Peer     string
	Paused   bool
	Received int          // facts received since start (after deduplication: updates count too)
	Live     map[Kind]int // live facts held, per kind
	LastSeen time.Time    // the newest fact's last sighting
}

// Peers lists the peers that sent facts (or are paused), by name.
func (s *Store) Peers(now time.Time) []PeerSummary {
	s.mu.Lock()
	defer s.mu.Unlock()
	byName := map[string]*PeerSummary{}
	get := func(p string) *PeerSummary {
		if ps, ok := byName[p]; ok {
			return ps
		}
		ps := &PeerSummary{Peer: p, Paused: s.paused[p], Live: map[Kind]int{}}
		if st := s.peers[p]; st != nil {
			ps.Received, ps.LastSeen = st.received, st.last
		}
		byName[p] = ps
		return ps
	}
	for p := range s.peers {
		get(p)
	}
	for p := range s.paused {
		get(p)
	}
	for kind, bySubject := range s.facts {
		for _, byPeer := range bySubject {
			for p, f := range byPeer {
				if f.Live(now) {
					get(p).Live[kind]++
				}
			}
		}
	}
	out := make([]PeerSummary, 0, len(byName))
	for _, ps := range byName {
		out = append(out, *ps)
	}
	slices.SortFunc(out, func(a, b PeerSummary) int { return cmp.Compare(a.Peer, b.Peer) })
	return out
}

// Pause stops (paused true) or resumes using peer's facts; they are kept.
func (s *Store) Pause(peer string, paused bool) error {
	op := "resume"
	if paused {
		op = "pause"
	}
	return s.op(entry{Op: op, Peer: peer})
}

// Remove drops every fact peer sent.
func (s *Store) Remove(peer string) error { return s.op(entry{Op: "remove", Peer: peer}) }

func (s *Store) op(e entry) error {
	if e.Peer == "" {
		return errors.New("federation: no peer named")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.writeLocked([]entry{e}); err != nil {
		return err
	}
	s.applyLocked(e, s.now())
	return s.maybeCompactLocked()
}
