package campaign

import "testing"

// TestFirstLogins: first logins from strangers' networks are taken as a
// crew's only when, over the last hour, enough of them are beyond the
// owners' learned share of the correct passwords; minutes of a campaign
// are not learned.
func TestFirstLogins(t *testing.T) {
	for _, tc := range []struct {
		name string
		// owners: correct passwords a minute and, of them, first logins
		// (every 10th minute has one when firstEvery is 10), learned for
		// a day; then an hour with the crew's first logins added.
		succ, firstEvery int
		crewPerHour      int
		want             bool
	}{
		{"owners alone", 4, 10, 0, false},
		{"a crew a little over the owners", 4, 10, 2, false},
		{"a crew at half the owners' first logins", 4, 10, 3, false},
		{"a crew at twice the owners' first logins", 4, 10, 12, true},
		{"a crew in a shop with no first logins", 4, 0, 6, true},
		{"one first login says nothing", 4, 0, 1, false},
		{"a big shop's owners drown a crew", 40, 1, 6, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f firstLogins
			minute := func(first bool, succ int, learn bool) {
				for i := range succ {
					f.count(first && i == 0, true)
				}
				f.finish(0, learn)
			}
			for m := range 1440 {
				minute(tc.firstEvery > 0 && m%tc.firstEvery == 0, tc.succ, true)
			}
			learned := f.Learned
			for m := range 60 {
				crewFirst := tc.crewPerHour > 0 && m%(60/tc.crewPerHour) == 0
				ownersFirst := tc.firstEvery > 0 && m%tc.firstEvery == 0
				if crewFirst {
					f.count(true, true)
				}
				minute(ownersFirst, tc.succ, false)
			}
			if f.Learned != learned {
				t.Errorf("the campaign's hour was learned: %v, then %v", learned, f.Learned)
			}
			if got := f.excess(); got != tc.want {
				t.Errorf("excess: got %v, want %v (recent %v, learned share %.4f)", got, tc.want, f.Recent, f.share())
			}
			// The dashboard's threshold (Tests) says the same.
			if got := f.Recent[0] >= f.crewAt(); got != tc.want {
				t.Errorf("recent %.2f >= crewAt %.2f: got %v, want %v", f.Recent[0], f.crewAt(), got, tc.want)
			}
		})
	}
}
