// Package cli implements atoguard's command line: serve, keys, policy,
// version, demo, simulate, operator, journal, backup, restore, proxy and replay.
package cli

import (
	"context"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Main runs the command line with args and returns the exit code.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	root := newRoot(stdout, stderr, getenv)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(stderr, "atoguard:", err)
		return 1
	}
	return 0
}

func newRoot(stdout, stderr io.Writer, getenv func(string) string) *cobra.Command {
	root := &cobra.Command{
		Use:   "atoguard",
		Short: "Guard a shop against credential stuffing, account takeover and the fraudulent orders that follow",
		Long: `atoguard assesses a shop's login, account and order events and answers
allow, challenge, deny or review with stable reasons. It sees campaigns
spread over thousands of IPs, steps up stolen logins, and groups the attack
into incidents. See README.md and docs/api.md for the HTTP API.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServe(stdout, stderr, getenv), newKeys(stdout, getenv), newPolicy(stdout), newVersion(stdout),
		newDemo(stdout, stderr, getenv), newSimulate(stdout, stderr, getenv), newPasswords(stdout, stderr),
		newOperator(stdout, getenv), newJournal(stdout, getenv), newBackup(stdout, getenv), newRestore(stdout, getenv),
		newProxy(stdout, stderr, getenv), newReplay(stdout, stderr, getenv), newFederation(stdout))
	return root
}

func newVersion(stdout io.Writer) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(stdout, "atoguard", version())
			return nil
		},
	}
}

func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(unknown)"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v + " " + bi.GoVersion
}
