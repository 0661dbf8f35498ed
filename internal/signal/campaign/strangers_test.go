package campaign

import (
	"math/rand/v2"
	"testing"
	"time"
)

func TestStrangerOf(t *testing.T) {
	for _, tc := range []struct {
		name                        string
		logins                      int
		familiar, seen, agent, lang bool
		want                        Stranger
	}{
		{"familiar", 10, true, false, true, true, NotStranger},
		{"network seen in the shop", 10, false, true, true, true, NotStranger},
		{"no history", 0, false, false, false, false, StrangerNoHistory},
		{"thin history", SettledLogins - 1, false, false, true, true, StrangerPlain},
		{"plain", 10, false, false, false, false, StrangerPlain},
		{"new browser", 10, false, false, true, false, StrangerNewAgent},
		{"new language", 10, false, false, false, true, StrangerNewLanguage},
		{"nothing matches", 10, false, false, true, true, StrangerMismatch},
	} {
		if got := StrangerOf(tc.logins, tc.familiar, tc.seen, tc.agent, tc.lang); got != tc.want {
			t.Errorf("%s: got %d, want %d", tc.name, got, tc.want)
		}
	}
}

// ownersWithPhones is owners' traffic on a day with many new phones: 6% of
// the logins are plain strangers or strangers on a new browser, 0.05%
// strangers in a language the account never used.
func ownersWithPhones(rng *rand.Rand) Obs {
	switch u := rng.Float64(); {
	case u < 0.03:
		return Obs{UnfamiliarSucceeded: true, Stranger: StrangerPlain}
	case u < 0.06:
		return Obs{UnfamiliarSucceeded: true, Stranger: StrangerNewAgent}
	case u < 0.0605:
		return Obs{UnfamiliarSucceeded: true, Stranger: StrangerNewLanguage}
	}
	return owners(rng)
}

// crew is a crew with a pre-checked list: only correct passwords from
// strangers, half of them in a language the account never used.
func crew(rng *rand.Rand) Obs {
	o := Obs{UnfamiliarSucceeded: true, Stranger: StrangerPlain}
	switch rng.IntN(4) {
	case 0:
		o.Stranger = StrangerNewLanguage
	case 1:
		o.Stranger = StrangerMismatch
	}
	return o
}

// strangersDay runs a day of owners at 4 logins a minute (after a day of
// learning), with a crew at crewPerHour from noon, and returns the first
// campaign opened, if any, and when.
func strangersDay(t *testing.T, seed uint64, ownerMix func(*rand.Rand) Obs, crewPerHour float64) (State, time.Time) {
	t.Helper()
	det := New(Config{})
	rng := rand.New(rand.NewPCG(seed, 7))
	if st, _ := trafficOf(det, rng, t0, 24*time.Hour, 4, owners); st.Opened {
		t.Fatalf("seed %d: opened while learning: %+v", seed, st)
	}
	start := t0.Add(36 * time.Hour)
	if st, at := trafficOf(det, rng, t0.Add(24*time.Hour), 12*time.Hour, 4, ownerMix); st.Opened {
		return st, at
	}
	if crewPerHour == 0 {
		st, at := trafficOf(det, rng, start, 12*time.Hour, 4, ownerMix)
		return st, at
	}
	mixed := func(r *rand.Rand) Obs {
		if r.Float64() < crewPerHour/60/(4+crewPerHour/60) {
			return crew(r)
		}
		return ownerMix(r)
	}
	return trafficOf(det, rng, start, 12*time.Hour, 4+crewPerHour/60, mixed)
}

func TestStrangersTest(t *testing.T) {
	for seed := uint64(1); seed <= 5; seed++ {
		// A day with many new phones: volume of strangers is not
		// evidence, languages the accounts never used are.
		if st, at := strangersDay(t, seed, ownersWithPhones, 0); st.Opened {
			t.Errorf("seed %d: many new phones opened a campaign at %v: %+v", seed, at, st)
		}
		// Five strangers an hour with correct passwords open a campaign
		// of strangers within three hours (most within two).
		st, at := strangersDay(t, seed, owners, 5)
		switch {
		case !st.Opened:
			t.Errorf("seed %d: the crew opened no campaign", seed)
		case st.Metric != Strangers || !st.Strangers:
			t.Errorf("seed %d: opened by %v (strangers %v), want the strangers test", seed, st.Metric, st.Strangers)
		case at.Sub(t0.Add(36*time.Hour)) > 3*time.Hour:
			t.Errorf("seed %d: opened %v after the crew started, want within 3h", seed, at.Sub(t0.Add(36*time.Hour)))
		default:
			t.Logf("seed %d: opened %v after the crew started", seed, at.Sub(t0.Add(36*time.Hour)).Round(time.Minute))
		}
	}
}
