package dashboard_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/dashboard"
	"github.com/atoguard/atoguard/internal/federation"
	"github.com/atoguard/atoguard/internal/notify"
)

// peers is a dashboard.Federation with fixed summaries.
type peers []federation.PeerSummary

func (p peers) Peers(time.Time) []federation.PeerSummary { return p }

func TestFederationOnTheDashboard(t *testing.T) {
	fed := peers{
		{Peer: "https://shop-a.example", Received: 2558, Live: map[federation.Kind]int{federation.ComboListed: 1857, federation.CampaignSource: 509}},
		{Peer: "https://shop-c.example", Paused: true, Live: map[federation.Kind]int{}},
	}
	f := newFixtureOn(t, notify.Config{}, openSQLite(t), func(d *dashboard.Deps) { d.Federation = fed })
	f.attack(t)
	c, _ := f.signedIn(t)
	page := do(t, c, "GET", f.srv.URL+"/ui/", nil, nil)
	for _, want := range []string{`id="peers"`, "https://shop-a.example", "1,857", "509", "2,558", "停止中 paused", "combo_listed"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("overview lacks %q", want)
		}
	}
	incs, err := f.store.ListIncidents(context.Background(), "")
	if err != nil || len(incs) == 0 {
		t.Fatalf("no incident: %v", err)
	}
	inc := do(t, c, "GET", f.srv.URL+"/ui/incidents/"+incs[0].ID, nil, nil)
	if !strings.Contains(inc.body, `id="told"`) {
		t.Errorf("incident page does not say what the federation was told")
	}

	plain := newFixture(t) // federation off: no section, no line
	pc, _ := plain.signedIn(t)
	if body := do(t, pc, "GET", plain.srv.URL+"/ui/", nil, nil).body; strings.Contains(body, `id="federation"`) {
		t.Error("overview shows a federation section with federation off")
	}
}
