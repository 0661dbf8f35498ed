package policy

import "testing"

// FuzzParse checks that no policy text panics the compiler, and that a
// policy that compiles evaluates without error on an empty input.
func FuzzParse(f *testing.F) {
	f.Add(DefaultYAML())
	for _, seed := range []string{
		"version: 1\nrules:\n  - id: a\n    when: Event.IsLogin\n    decision: deny\n",
		"version: 1\nrules:\n  - id: a\n    when: IP.Attempts1m > 3 && (Account.Familiar || Bot.Tool == \"x\")\n    decision: challenge\n    risk: 50\n    reasons: [source.ip_velocity]\n",
		"version: 1\nrules:\n  - id: a\n    when: len(Event.Type) / 0 > 1\n    decision: allow\n",
		"version: 2\n", "rules: [\n", "version: 1\nrules:\n  - id: a\n    when: 'true'\n    decision: review\n    risk: 200\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := Parse(data)
		if err != nil {
			return
		}
		// Evaluation may fail (a division by zero in a rule), never panic.
		_, _ = p.Evaluate(&Input{})
	})
}
