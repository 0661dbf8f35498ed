// Package incidentview is the JSON form of an incident that GET
// /v1/incidents returns and operator.incident_* notifications carry: the
// public client's types, so the server and the client cannot disagree.
package incidentview

import "github.com/atoguard/atoguard/client"

// Incident is a credential-stuffing campaign as the API shows it.
type Incident = client.Incident

// Source is one of an incident's top sources.
type Source = client.Source
