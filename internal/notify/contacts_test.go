package notify_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/notify"
)

var day0 = time.Date(2026, time.November, 1, 9, 0, 0, 0, time.UTC)

func day(n float64) time.Time { return day0.Add(time.Duration(n * float64(24*time.Hour))) }

const window = 14 * 24 * time.Hour

func TestObserve(t *testing.T) {
	var h notify.ContactHistory
	steps := []struct {
		email   string
		at      time.Time
		changed bool
	}{
		{"", day(0), false},                        // no address on the event
		{"Taro@Example.JP", day(0), false},         // the first address seen is not a change
		{"taro@example.jp", day(1), false},         // the same, normalized
		{" ＴＡＲＯ@example.jp ", day(2), false},       // full-width and spaces: the same
		{"", day(3), false},                        // an event without user.email changes nothing
		{"attacker@example.net", day(10), true},    // a change
		{"attacker@example.net", day(10.1), false}, // seen again
		{"attacker2@example.net", day(11), true},   // and another
	}
	for i, st := range steps {
		if got := h.Observe(st.email, st.at); got != st.changed {
			t.Errorf("step %d: Observe(%q) = %v, want %v", i, st.email, got, st.changed)
		}
	}
	want := notify.ContactHistory{
		Email: "attacker2@example.net",
		Changes: []notify.ContactChange{
			{From: "taro@example.jp", At: day(10)},
			{From: "attacker@example.net", At: day(11)},
		},
	}
	if d := cmp.Diff(want, h); d != "" {
		t.Errorf("history (-want +got):\n%s", d)
	}

	// It is JSON, for the engine to keep.
	data, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var back notify.ContactHistory
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(h, back); d != "" {
		t.Errorf("JSON round trip (-want +got):\n%s\n%s", d, data)
	}
}

// TestRecipientsAfterEmailChange is the heart of owner notifications: an
// attacker who changes the email cannot silence the owner.
func TestRecipientsAfterEmailChange(t *testing.T) {
	var h notify.ContactHistory
	h.Observe("taro@example.jp", day(0))
	tests := []struct {
		name string
		now  time.Time
		want []string
	}{
		{"before any change", day(5), []string{"taro@example.jp"}},
	}
	for _, tt := range tests {
		if got := h.Recipients(tt.now, window); !cmp.Equal(got, tt.want) {
			t.Errorf("%s: Recipients = %q, want %q", tt.name, got, tt.want)
		}
	}

	// The attacker takes over and changes the address on day 10, then
	// again on day 12.
	h.Observe("attacker@example.net", day(10))
	h.Observe("drop@example.org", day(12))
	tests = []struct {
		name string
		now  time.Time
		want []string
	}{
		{"right after the change", day(10), []string{"taro@example.jp", "drop@example.org"}},
		{"an order two days later", day(12.5), []string{"taro@example.jp", "drop@example.org"}},
		{"13 days after the first change", day(23), []string{"taro@example.jp", "drop@example.org"}},
		{"the first change leaves the window", day(24.5), []string{"attacker@example.net", "drop@example.org"}},
		{"both changes left the window", day(26.5), []string{"drop@example.org"}},
	}
	for _, tt := range tests {
		if got := h.Recipients(tt.now, window); !cmp.Equal(got, tt.want) {
			t.Errorf("%s: Recipients = %q, want %q", tt.name, got, tt.want)
		}
	}
	// A shorter window reaches back less far.
	if got, want := h.Recipients(day(12.5), 2*24*time.Hour), []string{"attacker@example.net", "drop@example.org"}; !cmp.Equal(got, want) {
		t.Errorf("2-day window: Recipients = %q, want %q", got, want)
	}
}

func TestRecipientsEdgeCases(t *testing.T) {
	var none notify.ContactHistory
	if got := none.Recipients(day(0), window); got != nil {
		t.Errorf("no address known: Recipients = %q, want none", got)
	}
	// Changed away and back: one address.
	var h notify.ContactHistory
	h.Observe("taro@example.jp", day(0))
	h.Observe("other@example.jp", day(1))
	h.Observe("taro@example.jp", day(2))
	if got, want := h.Recipients(day(3), window), []string{"taro@example.jp"}; !cmp.Equal(got, want) {
		t.Errorf("changed back: Recipients = %q, want %q", got, want)
	}
}

// TestFlipAttackKeepsOwnerAddress changes the address many times to push
// the owner's out of the bounded history: it stays.
func TestFlipAttackKeepsOwnerAddress(t *testing.T) {
	var h notify.ContactHistory
	h.Observe("owner@example.jp", day(0))
	for i := range 200 {
		h.Observe(fmt.Sprintf("attacker%d@example.net", i%3), day(10).Add(time.Duration(i)*time.Minute))
	}
	if len(h.Changes) > 16 {
		t.Errorf("%d changes kept, want at most 16", len(h.Changes))
	}
	got := h.Recipients(day(10).Add(300*time.Minute), window)
	if len(got) == 0 || got[0] != "owner@example.jp" {
		t.Errorf("Recipients after 200 flips = %q, want the owner's address first", got)
	}
	// Very old changes are forgotten.
	h.Observe("later@example.net", day(200))
	for _, c := range h.Changes {
		if c.At.Before(day(110)) {
			t.Errorf("change at %v kept after 90 days", c.At)
		}
	}
}
