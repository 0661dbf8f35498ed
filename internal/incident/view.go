package incident

import (
	"github.com/atoguard/atoguard/internal/incidentview"
	"github.com/atoguard/atoguard/internal/store"
)

// View returns in as the API shows it: ended_at null while open, top
// sources [] rather than null. Times are kept as they are.
func View(in store.Incident) incidentview.Incident {
	out := incidentview.Incident{
		ID: in.ID, Kind: in.Kind, State: in.State, StartedAt: in.StartedAt, Attempts: in.Attempts,
		DistinctIPs: in.DistinctIPs, DistinctPrefixes: in.DistinctPrefixes, AccountsTargeted: in.AccountsTargeted,
		AccountsCompromised: in.AccountsCompromised, TopSources: make([]incidentview.Source, len(in.TopSources)),
	}
	if !in.EndedAt.IsZero() {
		t := in.EndedAt
		out.EndedAt = &t
	}
	for i, s := range in.TopSources {
		out.TopSources[i] = incidentview.Source{Kind: s.Kind, Value: s.Value, Attempts: s.Attempts}
	}
	return out
}
