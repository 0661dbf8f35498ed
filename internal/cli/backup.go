package cli

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/atoguard/atoguard/internal/backup"
	"github.com/atoguard/atoguard/internal/config"
)

// configFlags are --config and --data of a command that reads the
// guard's configuration without serving.
type configFlags struct{ path, data string }

func (f *configFlags) add(cmd *cobra.Command, what string) {
	cmd.Flags().StringVar(&f.path, "config", "", "configuration file ("+what+")")
	cmd.Flags().StringVar(&f.data, "data", config.Default().Data, "data directory (wins over the file's)")
}

// load returns the configuration of --config, with --data over it when
// given.
func (f *configFlags) load(cmd *cobra.Command) (config.Config, error) {
	cfg := config.Default()
	if f.path != "" {
		c, err := config.Load(f.path)
		if err != nil {
			return cfg, err
		}
		cfg = c
	}
	if cmd.Flags().Changed("data") {
		cfg.Data = f.data
	}
	return cfg, nil
}

// layout returns the configuration and the layout of a guard on SQLite,
// whose environment getenv reads; errPostgresBackup for shared records.
func (f *configFlags) layout(cmd *cobra.Command, getenv func(string) string) (config.Config, backup.Layout, error) {
	cfg, err := f.load(cmd)
	if err != nil {
		return cfg, backup.Layout{}, err
	}
	if cfg.Records != "" || getenv(envRecords) != "" {
		return cfg, backup.Layout{}, errPostgresBackup
	}
	return cfg, backup.LayoutOf(cfg, getenv), nil
}

// errPostgresBackup is the answer of backup and restore on shared records.
var errPostgresBackup = errors.New("the records are in PostgreSQL: back them up with pg_dump and restore them with pg_restore " +
	"(README, \"Backup and restore\"); keep secret_key_file and the factor keys with the dump")

func newBackup(stdout io.Writer, getenv func(string) string) *cobra.Command {
	var flags configFlags
	cmd := &cobra.Command{
		Use:   "backup DIR",
		Short: "Back up the records and keys of a guard on SQLite into DIR, while it serves",
		Long: `Backup writes into DIR (empty or new) a consistent snapshot of the SQLite
records, taken while the guard serves (VACUUM INTO), with the secret key
and the factor keys: all a guard needs to start again elsewhere (see
atoguard restore). The backup holds secrets; keep it as safe as the data
directory. For records in PostgreSQL use pg_dump.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, layout, err := flags.layout(cmd, getenv)
			if err != nil {
				return err
			}
			rep, err := backup.Create(cmd.Context(), layout, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "backed up %s into %s:\n", cfg.Data, args[0])
			printReport(stdout, rep, "from")
			fmt.Fprintf(stdout, "not copied: the breached-password index (%s; import it again, or copy it)\n", cfg.Passwords.DirOf(cfg.Data))
			fmt.Fprintln(stdout, "WARNING: this backup holds secrets: the secret key and the factor keys, which open the factor secrets sealed in the records. "+
				"Keep it encrypted and as closely held as the data directory.")
			return nil
		},
	}
	flags.add(cmd, "data, secret_key_file, stepup.encryption_key_file")
	return cmd
}

func newRestore(stdout io.Writer, getenv func(string) string) *cobra.Command {
	var flags configFlags
	cmd := &cobra.Command{
		Use:   "restore DIR",
		Short: "Put a backup made by atoguard backup in place for a stopped guard",
		Long: `Restore copies the backup in DIR into a fresh data directory (--data, or
the configuration's): the records, and the secret key and factor keys to
where the configuration keeps them. It refuses a data directory that
holds records and key files that differ from the backup's; stop the guard
first. Then start the guard on that data directory.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, layout, err := flags.layout(cmd, getenv)
			if err != nil {
				return err
			}
			rep, err := backup.Restore(layout, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "restored %s into %s:\n", args[0], cfg.Data)
			printReport(stdout, rep, "to")
			fmt.Fprintf(stdout, "start the guard: atoguard serve --data %s (with its configuration)\n", cfg.Data)
			return nil
		},
	}
	flags.add(cmd, "data, secret_key_file, stepup.encryption_key_file")
	return cmd
}

// printReport lists the files a backup or a restore copied and its notes.
func printReport(w io.Writer, rep backup.Report, dir string) {
	for _, f := range rep.Copied {
		fmt.Fprintf(w, "  %-12s %s %s\n", f.Name, dir, f.Path)
	}
	for _, n := range rep.Notes {
		fmt.Fprintln(w, "note:", n)
	}
}
