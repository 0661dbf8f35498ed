package challenge

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/atoguard/atoguard/internal/store"
)

func TestNew(t *testing.T) {
	now := time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		req      Request
		settings Settings
		want     store.Challenge
	}{
		{
			name: "defaults, no context",
			req:  Request{UserID: "u-1", Purpose: "step_up", Methods: []string{MethodTOTP}},
			want: store.Challenge{UserID: "u-1", Purpose: "step_up", Methods: []string{MethodTOTP}, State: store.ChallengePending,
				CreatedAt: now, ExpiresAt: now.Add(5 * time.Minute)},
		},
		{
			name: "an engine decision: event, incident and the challenged context",
			req: Request{UserID: "u-1", SessionID: "s-1", Purpose: "login.succeeded", Methods: []string{MethodWebAuthn, MethodRecoveryCode},
				EventID: "ev_1", IncidentID: "inc_1", IP: netip.MustParseAddr("203.0.113.7"), DeviceID: "d-1", UserAgent: "UA"},
			settings: Settings{TTL: time.Minute},
			want: store.Challenge{UserID: "u-1", SessionID: "s-1", Purpose: "login.succeeded", Methods: []string{MethodWebAuthn, MethodRecoveryCode},
				State: store.ChallengePending, CreatedAt: now, ExpiresAt: now.Add(time.Minute), EventID: "ev_1", IncidentID: "inc_1",
				IP: "203.0.113.7", DeviceID: "d-1", UserAgent: "UA"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := New(tc.req, tc.settings, now)
			if !strings.HasPrefix(got.ID, "ch_") {
				t.Errorf("id %q, want the ch_ prefix", got.ID)
			}
			if diff := cmp.Diff(tc.want, got, cmpopts.IgnoreFields(store.Challenge{}, "ID")); diff != "" {
				t.Errorf("challenge (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSettingsDefaults(t *testing.T) {
	got := Settings{}.WithDefaults()
	want := Settings{TTL: 5 * time.Minute, Methods: []string{MethodWebAuthn, MethodTOTP, MethodEmailOTP}, MaxAttempts: 5}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	set := Settings{TTL: time.Minute, Methods: []string{MethodTOTP}, MaxAttempts: 2}
	if diff := cmp.Diff(set, set.WithDefaults()); diff != "" {
		t.Errorf("set fields changed (-want +got):\n%s", diff)
	}
	for m, want := range map[string]bool{MethodTOTP: true, MethodRecoveryCode: true, "sms": false, "": false} {
		if got := IsMethod(m); got != want {
			t.Errorf("IsMethod(%q) = %v, want %v", m, got, want)
		}
	}
}
