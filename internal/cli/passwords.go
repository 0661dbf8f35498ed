package cli

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/atoguard/atoguard/internal/breach"
	"github.com/atoguard/atoguard/internal/config"
)

func newPasswords(stdout, stderr io.Writer) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "passwords",
		Short: "Manage the breached-password corpus (import, lookup, info)",
		Long: `The guard refuses breached passwords at registration and password
change, and asks for a password change after a login with one. It checks
them against an index imported from Have I Been Pwned "Pwned Passwords"
files or plain password lists, merged with a built-in list of common
passwords. GET /range/{prefix} serves the same corpus to HIBP clients.`,
	}
	var flags configFlags
	dirOf := func(cmd *cobra.Command) (string, config.Config, error) {
		cfg, err := flags.load(cmd)
		if err != nil {
			return "", cfg, err
		}
		return cfg.Passwords.DirOf(cfg.Data), cfg, nil
	}
	addDirFlags := func(c *cobra.Command) {
		flags.add(c, "data and passwords.dir; the index is DATA/passwords unless passwords.dir says otherwise")
	}

	var minCount int64
	var format string
	var restart bool
	imp := &cobra.Command{
		Use:   "import FILE...",
		Short: "Import Pwned Passwords files (SHA1HEX:COUNT) or password lists into the index",
		Long: `Import merges files into the breached-password index: Have I Been Pwned
"Pwned Passwords" files (SHA1HEX:COUNT lines, sorted or not, CRLF or LF)
and plain password lists (one password per line, hashed as they are read;
no clear-text password is ever written). Within a file a digest listed
twice counts the sum; across files and earlier imports the larger count
wins. An interrupted import (Ctrl-C, a crash) resumes when the same
command is run again.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			dir, _, err := dirOf(cmd)
			if err != nil {
				return err
			}
			bar := newImportBar(stderr)
			start := time.Now()
			res, err := breach.Import(cmd.Context(), dir, files, breach.ImportOptions{
				MinCount: minCount, Format: format, Restart: restart, Progress: bar.update,
				Log: func(msg string) { bar.clear(); fmt.Fprintln(stderr, msg) },
			})
			bar.finish()
			if errors.Is(err, context.Canceled) {
				return errors.New("import interrupted; run the same command again to resume it")
			}
			if err != nil {
				return err
			}
			elapsed := time.Since(start)
			fmt.Fprintf(stdout, "imported %d files: %d lines (%d skipped), %d digests (%d new) in %s",
				res.Files, res.Lines, res.Skipped, res.Entries, res.Added, elapsed.Round(time.Millisecond))
			if res.Resumed {
				fmt.Fprint(stdout, " (resumed)")
			}
			fmt.Fprintln(stdout)
			fmt.Fprintf(stdout, "index: %s, %d bytes", filepath.Join(dir, breach.IndexFile), res.Bytes)
			if res.Entries > 0 {
				fmt.Fprintf(stdout, " (%.1f bytes a digest)", float64(res.Bytes)/float64(res.Entries))
			}
			fmt.Fprintln(stdout)
			return nil
		},
	}
	addDirFlags(imp)
	imp.Flags().Int64Var(&minCount, "min-count", 1, "skip digests seen fewer times (a password of a plain list counts its lines in its file)")
	imp.Flags().StringVar(&format, "format", breach.FormatAuto, "auto (by each file's first line), hibp or plain")
	imp.Flags().BoolVar(&restart, "restart", false, "discard an interrupted import instead of resuming it")

	lookup := &cobra.Command{
		Use:   "lookup SHA1HEX | -",
		Short: "Say how often a password was seen in breaches (give its SHA-1, or - to read the password from stdin)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir, cfg, err := dirOf(cmd)
			if err != nil {
				return err
			}
			var sum [20]byte
			if args[0] == "-" {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if err != nil && !errors.Is(err, io.EOF) {
					return fmt.Errorf("reading the password: %w", err)
				}
				sum = sha1.Sum([]byte(strings.TrimRight(line, "\r\n")))
			} else if b, err := hex.DecodeString(args[0]); err != nil || len(b) != 20 {
				return fmt.Errorf("%q is not a SHA-1 (40 hexadecimal digits); give - to read a password from stdin", args[0])
			} else {
				copy(sum[:], b)
			}
			c, err := breach.OpenCorpus(dir, !cfg.Passwords.DisableBuiltin)
			if err != nil {
				return err
			}
			defer c.Close()
			n, ok, err := c.Count(sum)
			if err != nil {
				return err
			}
			if !ok {
				fmt.Fprintf(stdout, "%X: not found\n", sum)
				return nil
			}
			fmt.Fprintf(stdout, "%X: breached, seen %d times\n", sum, n)
			return nil
		},
	}
	addDirFlags(lookup)

	info := &cobra.Command{
		Use:   "info",
		Short: "Describe the breached-password corpus",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, cfg, err := dirOf(cmd)
			if err != nil {
				return err
			}
			path := filepath.Join(dir, breach.IndexFile)
			ix, err := breach.Open(path)
			switch {
			case errors.Is(err, os.ErrNotExist):
				fmt.Fprintf(stdout, "imported index: none (%s)\n", path)
			case err != nil:
				return err
			default:
				defer ix.Close()
				st, err := os.Stat(path)
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "imported index: %s\n  digests: %d\n  file:    %d bytes", path, ix.Len(), st.Size())
				if ix.Len() > 0 {
					fmt.Fprintf(stdout, " (%.1f bytes a digest)", float64(st.Size())/float64(ix.Len()))
				}
				fmt.Fprintf(stdout, "\n  filter:  %d bytes in memory\n  id:      %s\n", ix.FilterBytes(), ix.ID())
			}
			if cfg.Passwords.DisableBuiltin {
				fmt.Fprintln(stdout, "built-in list: disabled (passwords.disable_builtin)")
			} else {
				fmt.Fprintf(stdout, "built-in list: %d common passwords (%s), merged with the index\n", breach.Builtin().Len(), breach.BuiltinSource)
			}
			return nil
		},
	}
	addDirFlags(info)
	cmd.AddCommand(imp, lookup, info)
	return cmd
}

// importBar shows the import's progress on stderr when it is a terminal.
type importBar struct {
	w     io.Writer // nil: no bar
	phase string
	bar   *progressbar.ProgressBar
}

func newImportBar(stderr io.Writer) *importBar {
	if f, ok := stderr.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			return &importBar{w: stderr}
		}
	}
	return &importBar{}
}

func (b *importBar) update(p breach.Progress) {
	if b.w == nil {
		return
	}
	if p.Phase != b.phase {
		b.finish()
		b.phase = p.Phase
		opts := []progressbar.Option{
			progressbar.OptionSetWriter(b.w), progressbar.OptionSetDescription(p.Phase),
			progressbar.OptionThrottle(100 * time.Millisecond), progressbar.OptionSetWidth(30),
			progressbar.OptionShowElapsedTimeOnFinish(), progressbar.OptionOnCompletion(func() { fmt.Fprintln(b.w) }),
		}
		if p.Phase == "reading" {
			opts = append(opts, progressbar.OptionShowBytes(true))
		} else {
			opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("digests"))
		}
		b.bar = progressbar.NewOptions64(p.Total, opts...)
	}
	_ = b.bar.Set64(p.Done)
}

func (b *importBar) clear() {
	if b.bar != nil {
		_ = b.bar.Clear()
	}
}

func (b *importBar) finish() {
	if b.bar != nil {
		_ = b.bar.Finish()
		b.bar = nil
	}
}
