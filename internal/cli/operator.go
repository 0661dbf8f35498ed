package cli

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/atoguard/atoguard/internal/dashboard"
	"github.com/atoguard/atoguard/internal/stepup"
	"github.com/atoguard/atoguard/internal/store"
)

var _ dashboard.Opener = (*stepup.Keyring)(nil)

// validOperatorName accepts 1 to 64 letters, digits and . _ @ -.
func validOperatorName(name string) error {
	if name == "" || len(name) > 64 {
		return errors.New("--name: give 1 to 64 characters")
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("._@-", r) {
			return fmt.Errorf("--name %q: use letters, digits and . _ @ - only", name)
		}
	}
	return nil
}

func newOperator(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{Use: "operator", Short: "Manage dashboard operators (password + TOTP sign-in at /ui)"}
	var data, records, name, keyFile string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an operator; prints a generated password and a TOTP otpauth URI once",
		Long: `Create a dashboard operator. A password is generated and printed once,
with the TOTP secret and its otpauth:// URI for an authenticator app. Only
an argon2id hash of the password is stored; the TOTP secret is sealed with
the step-up factor key (ATOGUARD_FACTOR_KEY, --factor-key-file, or
factor.keys in the data directory), so use the same key as the guard.
With --records (or ATOGUARD_RECORDS) set to a postgres:// URL, the operator
is stored in the PostgreSQL that several guards share, sealed with the key
they share, which must then be given (--factor-key-file or
ATOGUARD_FACTOR_KEY).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := validOperatorName(name); err != nil {
				return err
			}
			url := recordsURL(cmd, records, getenv)
			if url != "" && keyFile == "" && strings.TrimSpace(getenv(stepup.EnvFactorKey)) == "" {
				// A key made in --data would seal a secret no guard can open.
				return fmt.Errorf("--records: operators in shared records need the guards' shared factor key: give --factor-key-file or %s", stepup.EnvFactorKey)
			}
			keys, _, err := stepup.LoadKeys(keyFile, getenv(stepup.EnvFactorKey), data)
			if err != nil {
				return err
			}
			st, err := openRecords(cmd.Context(), data, url)
			if err != nil {
				return err
			}
			defer st.Close()
			password, secret, uri, err := createOperator(cmd.Context(), st, keys, name)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "operator:    %s\npassword:    %s\ntotp secret: %s\notpauth uri: %s\n\n"+
				"Add the URI (or the secret) to an authenticator app, then sign in at /ui/login.\n"+
				"The password and the secret are shown once; only a hash and a sealed copy are stored.\n",
				name, password, secret, uri)
			return nil
		},
	}
	create.Flags().StringVar(&data, "data", "./atoguard-data", "data directory of the guard")
	addRecordsFlag(create, &records)
	create.Flags().StringVar(&name, "name", "", "the operator's sign-in name (required)")
	create.Flags().StringVar(&keyFile, "factor-key-file", "", "factor key file (default: ATOGUARD_FACTOR_KEY, else factor.keys in --data)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List operators (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openRecords(cmd.Context(), data, recordsURL(cmd, records, getenv))
			if err != nil {
				return err
			}
			defer st.Close()
			ops, err := st.ListOperators(cmd.Context())
			if err != nil {
				return err
			}
			for _, o := range ops {
				state := "active"
				if o.Disabled {
					state = "disabled"
				}
				fmt.Fprintf(stdout, "%s\t%s\t%s\n", o.Name, state, o.CreatedAt.Format(time.RFC3339))
			}
			return nil
		},
	}
	list.Flags().StringVar(&data, "data", "./atoguard-data", "data directory of the guard")
	addRecordsFlag(list, &records)
	cmd.AddCommand(create, list)
	return cmd
}

// operatorCreator stores new operators (store.OperatorStore).
type operatorCreator interface {
	// CreateOperator fails with store.ErrExists when the name is taken.
	CreateOperator(ctx context.Context, o store.Operator) error
}

// createOperator stores a new operator with a generated password and TOTP
// secret, and returns them (to be shown once) with the otpauth URI.
func createOperator(ctx context.Context, st operatorCreator, keys *stepup.Keyring, name string) (password, secret, uri string, err error) {
	var pw [18]byte
	_, _ = rand.Read(pw[:]) // crypto/rand.Read never fails
	password = base64.RawURLEncoding.EncodeToString(pw[:])
	secret, uri, err = dashboard.NewTOTP(name)
	if err != nil {
		return "", "", "", err
	}
	op := store.Operator{Name: name, PasswordHash: dashboard.HashPassword(password),
		TOTPSecret: keys.Seal([]byte(secret), dashboard.TOTPContext(name)), CreatedAt: time.Now().UTC()}
	if err := st.CreateOperator(ctx, op); err != nil {
		if errors.Is(err, store.ErrExists) {
			return "", "", "", fmt.Errorf("operator %q exists already", name)
		}
		return "", "", "", err
	}
	return password, secret, uri, nil
}
