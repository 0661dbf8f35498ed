package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/atoguard/atoguard/internal/stepup"
	"github.com/atoguard/atoguard/internal/store/sqlite"
)

// demoOperatorName is the dashboard operator the demo makes.
const demoOperatorName = "demo-operator"

// demoSignIn is how to sign in to the demo's dashboard.
type demoSignIn struct {
	Name, Password, TOTPSecret string
}

// demoOperator makes the demo's dashboard operator on the first start and
// keeps its sign-in in dataDir/operator.txt (mode 0600) so that every
// start can print it; a demo, not a production practice. guardDir is the
// guard's data directory (its store and factor keys).
func demoOperator(ctx context.Context, guardDir, dataDir, factorKeyEnv string) (demoSignIn, error) {
	path := filepath.Join(dataDir, "operator.txt")
	data, err := os.ReadFile(path)
	if err == nil {
		f := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(f) != 3 {
			return demoSignIn{}, fmt.Errorf("%s: want 3 lines (name, password, TOTP secret)", path)
		}
		return demoSignIn{f[0], f[1], f[2]}, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return demoSignIn{}, fmt.Errorf("reading the demo operator: %w", err)
	}
	if err := os.MkdirAll(guardDir, 0o700); err != nil {
		return demoSignIn{}, fmt.Errorf("creating the guard's data directory: %w", err)
	}
	keys, _, err := stepup.LoadKeys("", factorKeyEnv, guardDir)
	if err != nil {
		return demoSignIn{}, err
	}
	st, err := sqlite.Open(ctx, guardDir, sqlite.Options{})
	if err != nil {
		return demoSignIn{}, err
	}
	defer st.Close()
	password, secret, _, err := createOperator(ctx, st, keys, demoOperatorName)
	if err != nil {
		return demoSignIn{}, err
	}
	in := demoSignIn{demoOperatorName, password, secret}
	if err := os.WriteFile(path, []byte(in.Name+"\n"+in.Password+"\n"+in.TOTPSecret+"\n"), 0o600); err != nil {
		return demoSignIn{}, fmt.Errorf("writing the demo operator: %w", err)
	}
	return in, nil
}
