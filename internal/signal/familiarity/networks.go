package familiarity

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"
	"time"
)

// Networks remembers, shop-wide, the networks (IP prefixes) seen in good
// sessions of any account, in bounded memory: two Bloom filters of
// networksBits bits each, the current one and the one before, swapped
// every networksPeriod of event time, so a network is remembered for one
// to two periods after it was last seen. A network is never reported
// unseen when it was seen; an unseen network is reported seen about once
// in ten thousand with 25,000 networks in a generation, once in a
// thousand with 50,000.
// It is safe for concurrent use.
type Networks struct {
	hash func(kind, v string) uint64

	mu    sync.Mutex
	gens  [2][]uint64 // [0] current
	start time.Time   // when the current generation began
}

const (
	networksBits   = 1 << 20 // per generation: 128 KiB
	networksHashes = 4
	networksPeriod = 30 * 24 * time.Hour
)

// Networks returns the shop-wide set of networks, hashed with the
// detector's key.
func (d *Detector) Networks() *Networks {
	n := &Networks{hash: d.hash}
	for i := range n.gens {
		n.gens[i] = make([]uint64, networksBits/64)
	}
	return n
}

// positions returns the filter bits of a network.
func (n *Networks) positions(network string) [networksHashes]uint32 {
	h := n.hash("N", network)
	a, b := uint32(h), uint32(h>>32)|1
	var out [networksHashes]uint32
	for i := range out {
		out[i] = (a + uint32(i)*b) % networksBits
	}
	return out
}

// rotateLocked starts a new generation when the current one is a period
// old (or time went back by more than one).
func (n *Networks) rotateLocked(now time.Time) {
	switch {
	case n.start.IsZero():
		n.start = now
	case now.Sub(n.start) >= networksPeriod || n.start.Sub(now) >= networksPeriod:
		old := n.gens[1]
		clear(old)
		n.gens[1], n.gens[0] = n.gens[0], old
		n.start = now
	}
}

// Add remembers network as seen at now.
func (n *Networks) Add(network string, now time.Time) {
	if network == "" {
		return
	}
	pos := n.positions(network)
	n.mu.Lock()
	defer n.mu.Unlock()
	n.rotateLocked(now)
	for _, p := range pos {
		n.gens[0][p/64] |= 1 << (p % 64)
	}
}

// Seen reports whether network was seen in a good session of any account
// in the last one to two periods.
func (n *Networks) Seen(network string) bool {
	if network == "" {
		return false
	}
	pos := n.positions(network)
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, g := range n.gens {
		all := true
		for _, p := range pos {
			if g[p/64]&(1<<(p%64)) == 0 {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

type networksSnapshot struct {
	Start time.Time `json:"start"`
	Gens  [2][]byte `json:"gens"`
}

// Snapshot encodes the set, for a restart.
func (n *Networks) Snapshot() ([]byte, error) {
	n.mu.Lock()
	var s networksSnapshot
	s.Start = n.start
	for i, g := range n.gens {
		b := make([]byte, 8*len(g))
		for k, w := range g {
			binary.LittleEndian.PutUint64(b[8*k:], w)
		}
		s.Gens[i] = b
	}
	n.mu.Unlock()
	data, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encoding shop-wide networks: %w", err)
	}
	return data, nil
}

// Restore loads a Snapshot; an empty one (from an older version) leaves
// the set empty.
func (n *Networks) Restore(data []byte) error {
	if len(data) == 0 {
		return nil
	}
	var s networksSnapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("decoding shop-wide networks: %w", err)
	}
	for _, b := range s.Gens {
		if len(b) != networksBits/8 {
			return fmt.Errorf("decoding shop-wide networks: a generation of %d bytes, want %d", len(b), networksBits/8)
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.start = s.Start
	for i, b := range s.Gens {
		for k := range n.gens[i] {
			n.gens[i][k] = binary.LittleEndian.Uint64(b[8*k:])
		}
	}
	return nil
}
