package simulate

import (
	"bytes"
	"embed"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/atoguard/atoguard/internal/traffic"
)

//go:embed scenarios/*.yaml
var scenarioFS embed.FS

// Scenarios are the names of the built-in scenarios.
var Scenarios = []string{"burst", "distributed", "spray"}

// LoadScenario returns a built-in scenario by name, or reads a scenario
// file (internal/traffic's YAML format) when name is a path.
func LoadScenario(name string) (traffic.Scenario, error) {
	if slices.Contains(Scenarios, name) {
		data, err := scenarioFS.ReadFile("scenarios/" + name + ".yaml")
		if err != nil {
			return traffic.Scenario{}, fmt.Errorf("built-in scenario %s: %w", name, err)
		}
		return traffic.Decode(bytes.NewReader(data))
	}
	if strings.ContainsAny(name, "/.") {
		if _, err := os.Stat(name); err == nil {
			return traffic.Load(name)
		}
	}
	return traffic.Scenario{}, fmt.Errorf("scenario %q: want one of %s, or a scenario file", name, strings.Join(Scenarios, ", "))
}

// Scale shrinks (or grows) a scenario by f: owners, attack sources and
// attempts; rates, times and durations stay. Scale 1 is the scenario
// itself.
func Scale(s traffic.Scenario, f float64) traffic.Scenario {
	if f == 1 || f <= 0 {
		return s
	}
	n := func(v int) int {
		if v == 0 {
			return 0
		}
		return max(1, int(math.Round(float64(v)*f)))
	}
	s.Owners.Accounts = n(s.Owners.Accounts)
	s.Attacks = slices.Clone(s.Attacks)
	for i := range s.Attacks {
		a := &s.Attacks[i]
		a.SourceIPs = n(a.SourceIPs)
		a.Attempts = n(a.Attempts)
		if a.Attempts > 0 && a.SourceIPs > a.Attempts {
			a.SourceIPs = a.Attempts
		}
	}
	return s
}
