package simulate

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/store/memory"
	"github.com/atoguard/atoguard/internal/traffic"
)

// TestWarmProfiles: the warm-up history (a week of one owner's logins,
// moved to end a day before now) reaches the guard's store as that
// owner's profile, without an incident; an owner only in the evaluated
// span has none (the evaluated events are not history).
func TestWarmProfiles(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC()
	scenarioStart := time.Date(2018, 7, 10, 9, 0, 0, 0, time.UTC)
	home := client.Context{IP: "203.0.113.7", DeviceID: "d-home", UserAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X)", AcceptLanguage: "ja-JP"}
	login := func(at time.Time, id string, phase string) item {
		email, _ := DemoEmail(id)
		return item{label: traffic.Label{Actor: traffic.ActorOwner, Phase: phase}, ev: client.Event{
			Type: client.LoginSucceeded, OccurredAt: at, Login: email, User: &client.User{ID: id, Email: email}, Context: home,
			Credential: &client.Credential{PasswordSHA1: client.PasswordSHA1("generated")},
		}}
	}
	var items []item
	for d := 7; d >= 1; d-- {
		items = append(items, login(scenarioStart.Add(-time.Duration(d)*24*time.Hour), "u-000001", traffic.PhaseWarmup))
	}
	items = append(items, login(scenarioStart, "u-000002", traffic.PhaseEval))

	history, err := demoHistory(items, now.Sub(scenarioStart), map[string]string{"u-000001": "demo-password"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(history), 7; got != want {
		t.Fatalf("history has %d events, want the %d of the warm-up", got, want)
	}
	if got, want := history[6].OccurredAt, now.Add(-24*time.Hour); !got.Equal(want) {
		t.Errorf("the warm-up's last login at %s, want %s (a day before now)", got, want)
	}
	if got, want := fmt.Sprintf("%X", history[0].Credential.PasswordSHA1), client.PasswordSHA1("demo-password"); got != want {
		t.Errorf("warm-up password digest %s, want the demo's %s", got, want)
	}

	guardStore := memory.New()
	key := []byte("0123456789abcdef0123456789abcdef")
	if err := WarmProfiles(ctx, guardStore, key, history); err != nil {
		t.Fatal(err)
	}
	if incs, err := guardStore.ListIncidents(ctx, ""); err != nil || len(incs) != 0 {
		t.Errorf("warming wrote %d incidents into the guard (err %v), want none", len(incs), err)
	}

	// The profiles the guard reads: the warmed owner's, written as of
	// the warm-up's last login; none for the owner the history lacks.
	p, err := guardStore.GetProfile(ctx, "u-000001")
	if err != nil {
		t.Fatalf("the warmed owner's profile: %v", err)
	}
	if len(p.Data) == 0 || p.UpdatedAt.Before(now.Add(-25*time.Hour)) || p.UpdatedAt.After(now) {
		t.Errorf("the warmed owner's profile: %d bytes, updated %s; want some, about a day before %s", len(p.Data), p.UpdatedAt, now)
	}
	if _, err := guardStore.GetProfile(ctx, "u-000002"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the profile of an owner the history lacks: %v, want store.ErrNotFound", err)
	}
}
