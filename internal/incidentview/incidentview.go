// Package incidentview is the JSON form of an incident that GET
// /v1/incidents returns, operator.incident_* notifications carry and the
// shop's client decodes; it imports no other package of atoguard.
package incidentview

import "time"

// Incident is a credential-stuffing campaign as the API shows it.
type Incident struct {
	ID                  string     `json:"id"`
	Kind                string     `json:"kind"`  // e.g. credential_stuffing
	State               string     `json:"state"` // open or closed
	StartedAt           time.Time  `json:"started_at"`
	EndedAt             *time.Time `json:"ended_at"` // null while open
	Attempts            int64      `json:"attempts"`
	DistinctIPs         int64      `json:"distinct_ips"`
	DistinctPrefixes    int64      `json:"distinct_prefixes"`
	AccountsTargeted    int64      `json:"accounts_targeted"`
	AccountsCompromised int64      `json:"accounts_compromised"`
	TopSources          []Source   `json:"top_sources"` // never null: [] when none
}

// Source is one of an incident's top sources.
type Source struct {
	Kind     string `json:"kind"` // ip, prefix, user_agent
	Value    string `json:"value"`
	Attempts int64  `json:"attempts"`
}
