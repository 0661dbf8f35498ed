package traffic

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLoadExamples(t *testing.T) {
	start := time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		file    string
		owners  int
		attacks []string
	}{
		{"distributed.yaml", 10000, []string{KindDistributed}},
		{"burst.yaml", 10000, []string{KindBurst}},
		{"carrier_nat.yaml", 3000, nil},
		{"quiet_new_devices.yaml", 10000, nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s, err := Load(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			var kinds []string
			for _, a := range s.Attacks {
				kinds = append(kinds, a.Kind)
			}
			got := []any{s.Start, s.Duration.D(), s.Warmup.D(), s.Owners.Accounts, kinds}
			want := []any{start, 24 * time.Hour, 72 * time.Hour, tt.owners, tt.attacks}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("scenario (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDecodeDistributedFields(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "distributed.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := AttackSpec{
		Kind: KindDistributed, Start: Duration(13 * time.Hour), Duration: Duration(90 * time.Minute),
		SourceIPs: 5000, AttemptsPerIP: [2]int{1, 3}, UnknownShare: 0.45, ReuseRate: 0.2,
		UserAgents: AgentsBrowsers, DeviceIDs: DevicesMixed,
	}
	if diff := cmp.Diff([]AttackSpec{want}, s.Attacks); diff != "" {
		t.Errorf("attacks (-want +got):\n%s", diff)
	}
}

func TestDecodeErrors(t *testing.T) {
	const head = "start: 2026-11-20T15:00:00Z\n"
	tests := []struct {
		name, yaml, want string
	}{
		{"unknown top-level field", head + "sedd: 1\n", "field sedd not found"},
		{"unknown owner field", head + "owners:\n  acounts: 10\n", "field acounts not found"},
		{"unknown attack field", head + "owners: {accounts: 1}\nattacks:\n  - kind: burst\n    duration: 1m\n    attempts: 3\n    ips: 1\n", "field ips not found"},
		{"bad duration", head + "duration: 1day\n", `invalid duration "1day"`},
		{"duration not a string", head + "duration: [1]\n", "duration must be a string"},
		{"attempts_per_ip too long", head + "attacks:\n  - kind: distributed\n    attempts_per_ip: [1, 2, 3]\n", "want 2 elements but got 3"},
		{"empty", "", "empty scenario"},
		{"two documents", head + "---\n" + head, "more than one YAML document"},
		{"not a mapping", "- 1\n", "decoding scenario"},
		{"invalid after decoding", "seed: 1\n", "start: required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode(strings.NewReader(tt.yaml))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !os.IsNotExist(unwrapAll(err)) {
		t.Errorf("Load error = %v, want a not-exist error", err)
	}
}

func unwrapAll(err error) error {
	for {
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return err
		}
		err = u.Unwrap()
	}
}

func TestValidateReportsEveryError(t *testing.T) {
	s := Scenario{
		Warmup: Duration(-time.Minute),
		Owners: OwnerSpec{
			Accounts: -1, LoginsPerDay: 500, TypoRate: 1.5, UnknownRate: -0.1,
			NewDeviceRate: 0.7, NewNetworkRate: 0.6, CarrierNATIPs: 600,
		},
		Attacks: []AttackSpec{
			{Kind: "ddos", Duration: Duration(time.Hour), SourceIPs: 1, UserAgents: "robots", DeviceIDs: "all"},
			{Kind: KindDistributed, Start: Duration(23 * time.Hour), Duration: Duration(2 * time.Hour), SourceIPs: 0, AttemptsPerIP: [2]int{3, 1}, Attempts: 5, UnknownShare: 2},
			{Kind: KindSpray, Duration: Duration(time.Hour), SourceIPs: 10, Attempts: 5, Passwords: 21, ReuseRate: -1},
		},
	}
	err := s.Validate()
	if err == nil {
		t.Fatal("Validate = nil, want errors")
	}
	got := strings.Split(err.Error(), "\n")
	want := []string{
		"start: required (e.g. 2026-11-20T15:00:00Z)",
		"warmup: must not be negative (got -1m0s)",
		"owners.accounts: must be between 0 and 1000000 (got -1)",
		"owners.logins_per_day: must be between 0 and 100 (got 500)",
		"owners.typo_rate: must be between 0 and 1 (got 1.5)",
		"owners.unknown_rate: must be between 0 and 1 (got -0.1)",
		"owners.new_network_rate: new_device_rate plus new_network_rate must be at most 1 (got 1.2999999999999998)",
		"owners.carrier_nat_ips: must be between 1 and 508 (got 600)",
		`attacks[0].kind: must be distributed, burst or spray (got "ddos")`,
		`attacks[0].user_agents: must be browsers or automation (got "robots")`,
		`attacks[0].device_ids: must be none, random or mixed (got "all")`,
		"attacks[1].duration: the attack must end within the evaluated span of 24h0m0s (start 23h0m0s + duration 2h0m0s)",
		"attacks[1].source_ips: must be between 1 and 1000000 (got 0)",
		"attacks[1].unknown_share: must be between 0 and 1 (got 2)",
		"attacks[1].attempts_per_ip: must be [min, max] with 1 <= min <= max <= 1000 (got [3, 1])",
		"attacks[1].attempts: applies to burst and spray only; distributed attacks use source_ips and attempts_per_ip",
		"attacks[2].reuse_rate: must be between 0 and 1 (got -1)",
		"attacks[2].source_ips: must be at most attempts (5), or some sources would make no attempt (got 10)",
		"attacks[2].passwords: must be between 1 and 20 (got 21)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Validate errors (-want +got):\n%s", diff)
	}
}

func TestValidateDurations(t *testing.T) {
	start := time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		s    Scenario
		want string
	}{
		{"negative duration", Scenario{Start: start, Duration: Duration(-time.Hour)}, "duration: must be at least 1s (got -1h0m0s)"},
		{"too long", Scenario{Start: start, Duration: Duration(24 * time.Hour), Warmup: Duration(90 * 24 * time.Hour)}, "duration: warmup plus duration must be at most 2160h0m0s (got warmup 2160h0m0s + duration 24h0m0s)"},
		{"overflowing warmup", Scenario{Start: start, Warmup: Duration(1 << 62), Duration: Duration(1 << 62)}, "duration: warmup plus duration must be at most 2160h0m0s (got warmup 1281023h53m38.427387904s + duration 1281023h53m38.427387904s)"},
		{"attack too short", Scenario{Start: start, Attacks: []AttackSpec{{Kind: KindBurst, Duration: Duration(time.Millisecond), Attempts: 1, UnknownShare: 1}}}, "attacks[0].duration: must be at least 1s (got 1ms)"},
		{"overflowing attack", Scenario{Start: start, Attacks: []AttackSpec{{Kind: KindBurst, Start: Duration(1 << 62), Duration: Duration(1 << 62), Attempts: 1, UnknownShare: 1}}}, "attacks[0].duration: the attack must end within the evaluated span of 24h0m0s (start 1281023h53m38.427387904s + duration 1281023h53m38.427387904s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.s.Validate()
			if err == nil || err.Error() != tt.want {
				t.Errorf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestValidateZeroDefaults(t *testing.T) {
	// Only start is required; every other zero value has a meaning.
	s := Scenario{Start: time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC)}
	if err := s.Validate(); err != nil {
		t.Errorf("Validate = %v, want nil", err)
	}
	s.Attacks = []AttackSpec{{Kind: KindBurst, Duration: Duration(time.Minute), Attempts: 10, UnknownShare: 1}}
	if err := s.Validate(); err != nil {
		t.Errorf("Validate with a burst on no accounts = %v, want nil", err)
	}
	s.Attacks[0].UnknownShare = 0.5
	want := "attacks[0].unknown_share: must be 1 when owners.accounts is 0: there are no accounts to attack"
	if err := s.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want %q", err, want)
	}
}

func TestValidateEventBudget(t *testing.T) {
	s := Scenario{
		Start:  time.Date(2026, 11, 20, 15, 0, 0, 0, time.UTC),
		Warmup: Duration(30 * 24 * time.Hour),
		Owners: OwnerSpec{Accounts: 1_000_000, LoginsPerDay: 10},
	}
	err := s.Validate()
	if err == nil || !strings.Contains(err.Error(), "more than 20000000") {
		t.Errorf("Validate = %v, want an event budget error", err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, name := range []string{"distributed.yaml", "burst.yaml", "carrier_nat.yaml", "quiet_new_devices.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte("start: 2026-11-20T15:00:00Z\nattacks: [{kind: spray, duration: 1h, attempts: 10}]\n"))
	f.Add([]byte("duration: 1e400h\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(strings.NewReader(string(data)))
		if err != nil {
			return
		}
		if err := s.Validate(); err != nil {
			t.Errorf("Decode accepted a scenario that Validate rejects: %v", err)
		}
	})
}
