package cli_test

import (
	"strings"
	"testing"
)

func TestSimulateFederatedFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--federated", "--demo", "x"}, "leave out --demo and --guard"},
		{[]string{"--federated", "--scale", "0"}, "--scale 0: want a factor above 0"},
		{[]string{"--federated", "--scenario", "tsunami"}, "burst, distributed, spray"},
	} {
		code, _, stderr := run(t, append([]string{"simulate"}, c.args...)...)
		if code != 1 || !strings.Contains(stderr, c.want) {
			t.Errorf("simulate %v: exit %d, stderr %q, want %q", c.args, code, stderr, c.want)
		}
	}
}

// TestSimulateFederated plays a tiny two-shop run (too small a crew for
// shop A to open an incident) and checks the report is printed; the
// figures are simulate.TestTwoShopsOneCrew's.
func TestSimulateFederated(t *testing.T) {
	code, stdout, stderr := run(t, "simulate", "--federated", "--scale", "0.1")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"two shops, one crew", "B federated", "stolen logins let in", "shop B received"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, stdout)
		}
	}
}
