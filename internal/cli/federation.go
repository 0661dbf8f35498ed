package cli

import (
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/atoguard/atoguard/internal/ssf"
)

// newFederation is `atoguard federation`: the keys this guard signs its
// Security Event Tokens with (DATA/ssf-signing.json).
func newFederation(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "federation",
		Short: "List or rotate the keys the guard signs its Shared Signals SETs with",
		Long: `A guard with ssf.issuer set signs the Security Event Tokens it sends its
peers with an RSA key kept in DATA/ssf-signing.json (mode 0600, created on
first start). rotate-key makes a fresh key current; the old one stays in
the JWKS (/ssf/jwks.json) until the SETs it signed have aged out, so peers
keep verifying them. A running guard picks the new key up within seconds.`,
	}
	var data string
	var keep time.Duration
	path := func() string { return filepath.Join(data, ssf.KeyFileName) }
	list := &cobra.Command{
		Use:   "keys",
		Short: "List the signing keys: id, created, retired",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			keys, err := ssf.ListKeys(path())
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "kid\tcreated\tretired")
			for _, k := range keys {
				retired := "current"
				if !k.Retired.IsZero() {
					retired = stamp(k.Retired)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", k.ID, stamp(k.Created), retired)
			}
			return tw.Flush()
		},
	}
	rotate := &cobra.Command{
		Use:   "rotate-key",
		Short: "Make a fresh signing key current; retired keys older than --keep are dropped",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			id, err := ssf.RotateKeys(path(), time.Now(), keep)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "current signing key: %s\n", id)
			return nil
		},
	}
	rotate.Flags().DurationVar(&keep, "keep", ssf.DefaultRetain+ssf.DefaultMaxAge,
		"how long a retired key stays published (ssf.retain + ssf.max_age)")
	for _, c := range []*cobra.Command{list, rotate} {
		c.Flags().StringVar(&data, "data", "./atoguard-data", "data directory of the guard")
	}
	cmd.AddCommand(list, rotate)
	return cmd
}
