package cli

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/atoguard/atoguard/internal/policy"
)

func newPolicy(stdout io.Writer) *cobra.Command {
	cmd := &cobra.Command{Use: "policy", Short: "Check or show decision policies"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check FILE",
		Short: "Validate a policy file, reporting every problem",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			p, err := policy.Load(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "%s: ok, %d rules\n", args[0], len(p.Stats()))
			return nil
		},
	}, &cobra.Command{
		Use:   "show",
		Short: "Print the built-in policy (a starting point for your own)",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			_, err := stdout.Write(policy.DefaultYAML())
			return err
		},
	}, &cobra.Command{
		Use:   "reasons",
		Short: "List every reason code a decision can carry",
		Args:  cobra.NoArgs,
		RunE: func(_ *cobra.Command, _ []string) error {
			for _, c := range policy.ReasonCodes() {
				fmt.Fprintf(stdout, "%-30s %s\n", c.Code, c.Doc)
			}
			return nil
		},
	})
	return cmd
}
