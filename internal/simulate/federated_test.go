package simulate

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// TestTwoShopsOneCrew measures shop B's stolen logins let in and its
// owners' friction alone and federated with shop A, in one run (the
// figures in docs/federation.md), and checks the goals: federated, B lets
// in at most a tenth of what it lets in alone, its owners' friction is at
// most alone + 0.2 points, and its incident opens at the crew's first
// attempts.
func TestTwoShopsOneCrew(t *testing.T) {
	if raceOn {
		t.Skip("one goroutine, minutes under -race: .ci/run runs it without")
	}
	sc, err := FederatedScenario()
	if err != nil {
		t.Fatal(err)
	}
	rep, err := RunFederated(context.Background(), Federated{Scenario: sc})
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.MarshalIndent(rep, "", "  ")
	t.Logf("report:\n%s", out)
	alone, fed := rep.Alone, rep.Federated
	if alone.StolenLetIn == 0 {
		t.Fatalf("shop B alone let in no stolen login: the scenario measures nothing")
	}
	if fed.StolenLetIn*10 > alone.StolenLetIn {
		t.Errorf("stolen logins let in: federated %d, alone %d; want at most a tenth", fed.StolenLetIn, alone.StolenLetIn)
	}
	// 0.2 points of the owners' logins, counted (the shares are rounded).
	if extra := fed.OwnerChallenged - alone.OwnerChallenged; extra*1000 > 2*fed.OwnerLogins || fed.OwnerLogins != alone.OwnerLogins {
		t.Errorf("owners' friction: federated %.2f%%, alone %.2f%%; want at most alone + 0.2 points", fed.OwnerFriction, alone.OwnerFriction)
	}
	after, err := time.ParseDuration(fed.IncidentAfter)
	if err != nil || after > 2*time.Minute || fed.AttemptsBefore > 10 {
		t.Errorf("shop B's incident opened %s after the crew's first attempt, after %d attempts; want within 2m and 10 attempts",
			fed.IncidentAfter, fed.AttemptsBefore)
	}
	if fed.CrewOrdersLetIn > alone.CrewOrdersLetIn {
		t.Errorf("crew orders let in: federated %d, alone %d", fed.CrewOrdersLetIn, alone.CrewOrdersLetIn)
	}
}
