package sqlrec

import (
	"encoding/json"
	"testing"
)

// TestStringsJSON checks the list encoder of plain strings against
// encoding/json, and which strings take it.
func TestStringsJSON(t *testing.T) {
	for _, ss := range [][]string{nil, {}, {"a"}, {"campaign.active", "account.unfamiliar_device", ""}} {
		if !plainStrings(ss) {
			t.Errorf("plainStrings(%q) = false", ss)
		}
		want, err := json.Marshal(ss)
		if err != nil {
			t.Fatal(err)
		}
		if got := stringsJSON(ss); got != string(want) {
			t.Errorf("stringsJSON(%q) = %s, want %s", ss, got, want)
		}
	}
	for _, s := range []string{`"`, `\`, "<", ">", "&", "\n", "\x7f", "é"} {
		if plainStrings([]string{"a", s}) {
			t.Errorf("plainStrings(%q) = true, want false (encoding/json escapes it)", s)
		}
	}
}

// TestLabel checks the names of statements in errors.
func TestLabel(t *testing.T) {
	for _, tt := range []struct {
		l    label
		want string
	}{
		{label{kind: "audit", key: "e-1"}, `audit "e-1"`},
		{label{"incident account", "i-1", ""}, `incident "i-1" account ""`},
		{label{"incident account", "i-1", "u-2"}, `incident "i-1" account "u-2"`},
	} {
		if got := tt.l.String(); got != tt.want {
			t.Errorf("%#v = %s, want %s", tt.l, got, tt.want)
		}
	}
}
