package cli

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/atoguard/atoguard/internal/simulate"
)

// runSimulateFederated plays two shops, one crew (simulate --federated).
func runSimulateFederated(ctx context.Context, f simulateFlags, scenarioSet bool, stdout io.Writer) error {
	if f.demo != "" || f.guard != "" {
		return errors.New("--federated runs its own two guards: leave out --demo and --guard")
	}
	sc, err := simulate.FederatedScenario()
	if scenarioSet {
		sc, err = simulate.LoadScenario(f.scenario)
	}
	if err != nil {
		return err
	}
	if !(f.scale > 0 && f.scale <= 10) {
		return fmt.Errorf("--scale %v: want a factor above 0, at most 10", f.scale)
	}
	sc = simulate.Scale(sc, f.scale)
	if err := sc.Validate(); err != nil {
		return fmt.Errorf("scenario at scale %v:\n%w", f.scale, err)
	}
	if len(sc.Attacks) == 0 {
		return errors.New("--federated needs a scenario with an attack (the crew)")
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	fmt.Fprintf(stdout, "two shops, one crew: %d owners at each shop; the crew reaches shop A at %s, shop B an hour later\n",
		sc.Owners.Accounts, sc.Start.Add(sc.Attacks[0].Start.D()-simulate.DefaultLag).Format("15:04 MST"))
	told := 0
	rep, err := simulate.RunFederated(ctx, simulate.Federated{Scenario: sc, Watch: func(n simulate.Note) {
		if n.Shop == "A" && n.Text != "" && n.Text[0] == 't' { // "tells the federation ..."
			if told++; told > 5 {
				return
			}
		}
		fmt.Fprintf(stdout, "  %s  shop %s: %s\n", n.At.Format("15:04:05"), n.Shop, n.Text)
	}})
	if err != nil {
		return err
	}
	if told > 5 {
		fmt.Fprintf(stdout, "  ... shop A told the federation %d times in all\n", told)
	}
	printFederated(stdout, rep)
	return nil
}

func printFederated(w io.Writer, r simulate.FederatedReport) {
	fmt.Fprintf(w, "\n%-44s %12s %12s %12s\n", "", "shop A", "B alone", "B federated")
	row := func(name string, get func(simulate.ShopOutcome) any) {
		fmt.Fprintf(w, "%-44s %12v %12v %12v\n", name, get(r.A), get(r.Alone), get(r.Federated))
	}
	row("crew login attempts", func(o simulate.ShopOutcome) any { return o.CrewAttempts })
	row("stolen logins (correct password)", func(o simulate.ShopOutcome) any { return o.StolenLogins })
	row("stolen logins let in", func(o simulate.ShopOutcome) any { return o.StolenLetIn })
	row("owners' logins challenged (friction, %)", func(o simulate.ShopOutcome) any { return o.OwnerFriction })
	row("crew orders let in", func(o simulate.ShopOutcome) any { return o.CrewOrdersLetIn })
	row("incident opened after the crew's first try", func(o simulate.ShopOutcome) any { return o.IncidentAfter })
	row("crew attempts before the incident", func(o simulate.ShopOutcome) any { return o.AttemptsBefore })
	row("answers naming a peer's fact", func(o simulate.ShopOutcome) any { return o.PeerReasons })
	fmt.Fprintf(w, "\nshop B received %d facts from shop A: %v\n", r.Federated.FactsReceived, r.Facts)
}
