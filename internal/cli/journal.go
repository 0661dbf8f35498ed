package cli

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/atoguard/atoguard/internal/store/journal"
	"github.com/atoguard/atoguard/internal/store/postgres"
)

// newJournal is `atoguard journal`: the batches of acknowledged records
// PostgreSQL refused when the journal replayed them (DATA/journal/rejected).
func newJournal(stdout io.Writer, getenv func(string) string) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "journal",
		Short: "List, retry or discard the journaled batches PostgreSQL refused (DATA/journal/rejected)",
		Long: `While PostgreSQL is out of reach, a guard with shared records journals them
in DATA/journal and writes them when it is back. A batch PostgreSQL then
refuses is kept in DATA/journal/rejected: those records were acknowledged,
so the guard logs an error, /readyz stays degraded and the metric
atoguard_journal_rejected_batches stays above 0 until an operator lists them
(inspect), writes them again once the cause is fixed (replay), or drops
them (discard --yes). These commands are safe while the guard runs.`,
	}
	var data, records string
	var yes bool
	dir := func() string { return filepath.Join(data, "journal") }
	inspect := &cobra.Command{
		Use:   "inspect",
		Short: "List the refused batches: when, how many records, their event times, size and the error",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rs, err := journal.ReadRejected(dir())
			if err != nil {
				return err
			}
			printRejected(stdout, rs)
			return nil
		},
	}
	replay := &cobra.Command{
		Use:   "replay",
		Short: "Write the refused batches to PostgreSQL again; those it takes leave the file",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			url := recordsURL(cmd, records, getenv)
			if !strings.HasPrefix(url, "postgres://") && !strings.HasPrefix(url, "postgresql://") {
				return errors.New("--records (or " + envRecords + "): give the postgres:// URL the guard writes to")
			}
			st, err := postgres.Open(cmd.Context(), url, postgres.Options{})
			if err != nil {
				return err
			}
			defer st.Close()
			n, err := journal.RetryRejected(cmd.Context(), dir(), st)
			fmt.Fprintf(stdout, "written: %d batch(es)\n", n)
			return err
		},
	}
	discard := &cobra.Command{
		Use:   "discard",
		Short: "Delete the refused batches (their records are lost); needs --yes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !yes {
				rs, err := journal.ReadRejected(dir())
				if err != nil {
					return err
				}
				printRejected(stdout, rs)
				if len(rs) == 0 {
					return nil
				}
				return errors.New("discard: these acknowledged records would be lost; give --yes to discard them")
			}
			n, err := journal.DiscardRejected(dir())
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "discarded: %d batch(es)\n", n)
			return nil
		},
	}
	discard.Flags().BoolVar(&yes, "yes", false, "discard without asking")
	for _, c := range []*cobra.Command{inspect, replay, discard} {
		c.Flags().StringVar(&data, "data", "./atoguard-data", "data directory of the guard")
	}
	addRecordsFlag(replay, &records)
	cmd.AddCommand(inspect, replay, discard)
	return cmd
}

// printRejected lists refused batches, one a line, and a total.
func printRejected(w io.Writer, rs []journal.Rejected) {
	if len(rs) == 0 {
		fmt.Fprintln(w, "no refused batches")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\trefused at\trecords\tevents from\tevents to\tbytes\terror")
	records := 0
	for i, r := range rs {
		from, to := eventSpan(r)
		records += r.Batch.Len()
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%d\t%s\n", i+1, stamp(r.RejectedAt), r.Batch.Len(), stamp(from), stamp(to), r.Bytes, r.Err)
	}
	tw.Flush()
	fmt.Fprintf(w, "%d refused batch(es), %d record(s)\n", len(rs), records)
}

// eventSpan returns the earliest and latest occurred_at of the batch's
// audit records.
func eventSpan(r journal.Rejected) (from, to time.Time) {
	for _, a := range r.Batch.Audit {
		if from.IsZero() || a.OccurredAt.Before(from) {
			from = a.OccurredAt
		}
		if a.OccurredAt.After(to) {
			to = a.OccurredAt
		}
	}
	return from, to
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
