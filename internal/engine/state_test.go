package engine

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestSnapshotWithoutIncidents(t *testing.T) {
	full := snapshot{Through: t0, Now: t0.Add(time.Minute), Campaign: []byte(`{"c":1}`), Incident: []byte(`{"i":1}`),
		Spray: []byte(`{"s":1}`), SprayIncident: []byte(`{"si":1}`), Drops: []byte(`{}`), Surge: []byte(`{}`)}
	data, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	got, err := WithoutIncidents(stateSnapshot, data)
	if err != nil {
		t.Fatal(err)
	}
	var s snapshot
	if err := json.Unmarshal(got, &s); err != nil {
		t.Fatal(err)
	}
	want := full
	want.Incident, want.SprayIncident = nil, nil
	if d := cmp.Diff(want, s); d != "" {
		t.Errorf("snapshot without incidents (-want +got):\n%s", d)
	}
	if _, err := WithoutIncidents(stateSnapshot, []byte("{")); err == nil {
		t.Error("a broken snapshot gave no error")
	}
	if got, err := WithoutIncidents(stateCampaign, []byte("x")); err != nil || string(got) != "x" {
		t.Errorf("state %s: got %q, %v; want it as it is", stateCampaign, got, err)
	}
}

func TestSnapshotIncidentState(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{
		{stateSnapshot, false},
		{stateCampaign, false},
		{stateSpray, false},
		{stateIncident, true},
		{stateSprayIncident, true},
	} {
		if got := IncidentState(tc.name); got != tc.want {
			t.Errorf("IncidentState(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}
