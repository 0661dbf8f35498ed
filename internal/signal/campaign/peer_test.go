package campaign

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestPeerSourcesOpenSooner: a crew trying two logins a minute, most
// failing, on top of a shop's ordinary traffic, opens a campaign after a
// few minutes when a peer reported its sources, long before (or never)
// when none did.
func TestPeerSourcesOpenSooner(t *testing.T) {
	crew := func(peer bool) func(*rand.Rand) Obs {
		return func(rng *rand.Rand) Obs {
			if rng.Float64() < 0.2 { // the shop's owners, at four times the crew's rate
				return Obs{Failed: true, Unknown: rng.Float64() < 0.45, Peer: peer}
			}
			return owners(rng)
		}
	}
	opened := func(peer bool) time.Duration {
		det := New(Config{})
		rng := rand.New(rand.NewPCG(7, 7))
		trafficOf(det, rng, t0, 3*time.Hour, 8, owners)
		start := t0.Add(3 * time.Hour)
		st, at := trafficOf(det, rng, start, 2*time.Hour, 10, crew(peer))
		if !st.Opened {
			return 2 * time.Hour
		}
		return at.Sub(start)
	}
	alone, told := opened(false), opened(true)
	if told > 5*time.Minute || told >= alone {
		t.Errorf("opened after %v with peer sources, %v without; want within 5m and sooner", told, alone)
	}
	t.Logf("opened after %v told by a peer, %v alone", told, alone)
}
