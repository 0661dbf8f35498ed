package incident_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/incident"
	"github.com/atoguard/atoguard/internal/store"
)

// TestView pins the incident's JSON byte for byte: it is the body of GET
// /v1/incidents/{id} and the data of operator.incident_* notifications.
func TestView(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 10, 0, time.UTC)
	tests := []struct {
		name string
		in   store.Incident
		want string
	}{
		{
			name: "open, no sources",
			in:   store.Incident{ID: "inc_1", Kind: "credential_stuffing", State: store.IncidentOpen, StartedAt: start, Attempts: 12},
			want: `{"id":"inc_1","kind":"credential_stuffing","state":"open","started_at":"2026-11-25T10:00:10Z","ended_at":null,` +
				`"attempts":12,"distinct_ips":0,"distinct_prefixes":0,"accounts_targeted":0,"accounts_compromised":0,"top_sources":[]}`,
		},
		{
			name: "closed with sources",
			in: store.Incident{ID: "inc_2", Kind: "credential_stuffing", State: store.IncidentClosed, StartedAt: start,
				EndedAt: start.Add(time.Hour), Attempts: 900, DistinctIPs: 300, DistinctPrefixes: 40, AccountsTargeted: 800,
				AccountsCompromised: 3, TopSources: []store.Source{{Kind: "ip", Value: "203.0.113.7", Attempts: 50}},
				UpdatedAt: start.Add(time.Hour)},
			want: `{"id":"inc_2","kind":"credential_stuffing","state":"closed","started_at":"2026-11-25T10:00:10Z",` +
				`"ended_at":"2026-11-25T11:00:10Z","attempts":900,"distinct_ips":300,"distinct_prefixes":40,` +
				`"accounts_targeted":800,"accounts_compromised":3,"top_sources":[{"kind":"ip","value":"203.0.113.7","attempts":50}]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(incident.View(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
