package config

import "testing"

// FuzzParse checks that no configuration text panics the loader or the
// validator.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"", "listen: 127.0.0.1:9090\n", "clock: event\nengine:\n  campaign:\n    window: 2m\n    floors: [1, 2, 3]\n",
		"api: {max_body_bytes: -1}\n", "engine: {challenge_methods: [sms]}\n", "bogus: 1\n", "listen: [\n",
		"engine:\n  sources:\n    max_ips: 99999999999999999999\n", "tick_every: 1h\ngeoip: {country_db: x}\n",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse(data)
		if err != nil {
			return
		}
		_ = cfg.Validate()
	})
}
