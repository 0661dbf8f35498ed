package engine

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/store/memory"
	"github.com/atoguard/atoguard/internal/traffic"
)

var (
	seeds       = flag.Int("seeds", 0, "TestScenarioSeeds: play each scenario with this many other seeds (0: skip)")
	seedsRun    = flag.String("seeds-run", ".", "TestScenarioSeeds: the scenarios to play (a regexp on their names)")
	seedsWarmup = flag.Duration("seeds-warmup", 0, "TestScenarioSeeds: the warm-up to play them with (0: the scenario's)")
	seedsShop   = flag.Int("seeds-accounts", 0, "TestScenarioSeeds: the shop's accounts (0: the scenario's)")
)

// TestScenarioSeeds plays the generated scenarios with other seeds than
// their own, to see how far their figures hold (go test ./internal/engine
// -run TestScenarioSeeds -seeds 4 -seeds-run prechecked -v). It checks
// nothing: the scenarios with their own seeds are the tests.
func TestScenarioSeeds(t *testing.T) {
	if *seeds <= 0 {
		t.Skip("plays scenarios with other seeds only with -seeds N")
	}
	re := regexp.MustCompile(*seedsRun)
	dirs, _ := filepath.Glob("testdata/scenarios/*/scenario.yaml")
	for _, path := range dirs {
		name := filepath.Base(filepath.Dir(path))
		if !re.MatchString(name) {
			continue
		}
		for i := 1; i <= *seeds; i++ {
			t.Run(fmt.Sprintf("%s/%d", name, i), func(t *testing.T) {
				t.Parallel()
				sc, err := traffic.Load(path)
				if err != nil {
					t.Fatal(err)
				}
				sc.Seed += int64(i) * 7919
				if *seedsWarmup > 0 {
					sc.Warmup = traffic.Duration(*seedsWarmup)
				}
				if *seedsShop > 0 {
					sc.Owners.Accounts = *seedsShop
				}
				labeled, err := traffic.Generate(sc)
				if err != nil {
					t.Fatal(err)
				}
				t.Log(playSeed(t, labeled))
			})
		}
	}
}

// playSeed plays labeled events and says what came of them in one line,
// with the strangers each side brought by class.
func playSeed(t *testing.T, labeled []traffic.Labeled) string {
	ctx := context.Background()
	st := memory.New()
	e := newEngine(t, "", st)
	run := newScenarioRun()
	var owners, crew [6]int
	ownerRules, crewIn := map[string]int{}, map[string]int{}
	opened := map[string]string{} // incident id: what opened it, as the first answer in it said
	for i := range labeled {
		ev, r := assessLabeled(ctx, t, e, labeled[i], i)
		run.tally(labeled[i].Label, ev, r)
		run.tick(ctx, t, e, ev.OccurredAt)
		for _, rs := range r.Reasons {
			if _, ok := opened[r.IncidentID]; !ok && rs.Code == "campaign.active" {
				opened[r.IncidentID] = rs.Detail
			}
		}
		if ev.Type == event.LoginSucceeded && labeled[i].Label.Phase == traffic.PhaseEval {
			c := strangerOf(true, r.facts)
			if labeled[i].Label.Actor == traffic.ActorAttacker {
				crew[c]++
				if labeled[i].Label.ValidCredential && r.Decision == policy.Allow {
					crewIn[fmt.Sprintf("class%d/campaign=%v", c, r.IncidentID != "")]++
				}
			} else {
				owners[c]++
				if r.Decision != policy.Allow {
					ownerRules[strings.Join(r.Rules, "+")]++
				}
			}
		}
	}
	s, incs := run.end(ctx, t, e, st)
	var b strings.Builder
	fmt.Fprintf(&b, "let in %d/%d, owners %d/%d (%.2f%%; %d exposed), fraud orders %d/%d, incidents %d",
		s.AttackerValidAllowed, s.AttackerValid, s.OwnerChallenged, s.OwnerSuccesses, 100*s.OwnerChallengedShare, s.OwnerExposedChallenged,
		s.AttackerOrdersAccepted, s.AttackerOrders, s.Incidents)
	for j := len(incs) - 1; j >= 0; j-- {
		fmt.Fprintf(&b, " [%s..%s %s %q]", incs[j].StartedAt.Sub(run.attackStart).Round(time.Second), incs[j].EndedAt.Sub(run.attackStart).Round(time.Second),
			incs[j].Kind, opened[incs[j].ID])
	}
	fmt.Fprintf(&b, "; strangers by class (plain, new browser, new language, both, no history): owners %v, crew %v", owners[1:], crew[1:])
	fmt.Fprintf(&b, "\n  owners stopped by rules: %v\n  crew let in: %v", ownerRules, crewIn)
	return b.String()
}
