package notify

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
)

// secret is a password or key from configuration. It redacts itself when
// printed or logged.
type secret struct{ b []byte }

func (s secret) String() string             { return "REDACTED" }
func (s secret) GoString() string           { return "REDACTED" }
func (s secret) LogValue() slog.Value       { return slog.StringValue("REDACTED") }
func (s secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte("REDACTED")) }

// loadSecret reads a secret from the file path or the environment
// variable env (one of them is set); what names it says where in the
// configuration it is. Trailing new lines of a file are dropped.
func loadSecret(what, path, env string, getenv func(string) string) (secret, error) {
	switch {
	case path != "":
		b, err := os.ReadFile(path)
		if err != nil {
			return secret{}, fmt.Errorf("%s: reading secret file: %w", what, err)
		}
		b = bytes.TrimRight(b, "\r\n")
		if len(b) == 0 {
			return secret{}, fmt.Errorf("%s: secret file %s is empty", what, path)
		}
		return secret{b}, nil
	case env != "":
		v := getenv(env)
		if v == "" {
			return secret{}, fmt.Errorf("%s: environment variable %s is not set", what, env)
		}
		return secret{[]byte(v)}, nil
	}
	return secret{}, nil
}
