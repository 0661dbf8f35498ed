package cli

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/atoguard/atoguard/internal/ids"
	"github.com/atoguard/atoguard/internal/store"
)

var allScopes = []string{store.ScopeEvents, store.ScopeChallenges, store.ScopeFactors, store.ScopeAdmin, store.ScopeFederation}

// parseScopes checks a comma-separated scope list.
func parseScopes(s string) ([]string, error) {
	var out []string
	for _, sc := range strings.Split(s, ",") {
		sc = strings.TrimSpace(sc)
		if sc == "" {
			continue
		}
		if !slices.Contains(allScopes, sc) {
			return nil, fmt.Errorf("scope %q: want some of %s", sc, strings.Join(allScopes, ","))
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("--scopes: give at least one of %s", strings.Join(allScopes, ","))
	}
	return out, nil
}

// newSecret returns a new API key secret.
func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "agk_" + base64.RawURLEncoding.EncodeToString(b[:])
}

func newKeys(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage API keys"}
	var data, records, name, scopes string
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API key and print its secret once (only a hash is stored)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sc, err := parseScopes(scopes)
			if err != nil {
				return err
			}
			if strings.TrimSpace(name) == "" {
				return fmt.Errorf("--name: empty")
			}
			st, err := openRecords(cmd.Context(), data, recordsURL(cmd, records, getenv))
			if err != nil {
				return err
			}
			defer st.Close()
			secret := newSecret()
			sum := sha256.Sum256([]byte(secret))
			now := time.Now().UTC()
			k := store.APIKey{ID: ids.New("key", now), Name: name, Hash: sum[:], Scopes: sc, CreatedAt: now}
			if err := st.PutKey(cmd.Context(), k); err != nil {
				return fmt.Errorf("storing key: %w", err)
			}
			fmt.Fprintf(stdout, "id:     %s\nname:   %s\nscopes: %s\nsecret: %s\n\nThe secret is shown once; only its hash is stored.\n", k.ID, k.Name, strings.Join(sc, ","), secret)
			return nil
		},
	}
	create.Flags().StringVar(&data, "data", "./atoguard-data", "data directory of the guard")
	addRecordsFlag(create, &records)
	create.Flags().StringVar(&name, "name", "", "a name for the key (required)")
	create.Flags().StringVar(&scopes, "scopes", "events", "comma-separated scopes: "+strings.Join(allScopes, ","))

	list := &cobra.Command{
		Use:   "list",
		Short: "List API keys (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openRecords(cmd.Context(), data, recordsURL(cmd, records, getenv))
			if err != nil {
				return err
			}
			defer st.Close()
			keys, err := st.ListKeys(cmd.Context())
			if err != nil {
				return err
			}
			for _, k := range keys {
				fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\n", k.ID, k.Name, strings.Join(k.Scopes, ","), k.CreatedAt.Format(time.RFC3339))
			}
			return nil
		},
	}
	list.Flags().StringVar(&data, "data", "./atoguard-data", "data directory of the guard")
	addRecordsFlag(list, &records)
	cmd.AddCommand(create, list)
	return cmd
}
