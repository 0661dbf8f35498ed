package logreplay

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Emits are the lists `--emit` writes.
var Emits = []string{"ips", "prefixes", "accounts", "logins", "fail2ban", "crowdsec-decisions"}

// banBatch is how many addresses one fail2ban-client call bans.
const banBatch = 100

// EmitOptions tune the lists.
type EmitOptions struct {
	JSON     bool          // ips, prefixes, accounts, logins: a JSON array instead of lines
	Jail     string        // fail2ban: the jail (default atoguard)
	Duration time.Duration // crowdsec-decisions: how long a ban lasts (default 24h)
}

// Emit writes one of the Emits lists to w.
func (r *Report) Emit(w io.Writer, what string, o EmitOptions) error {
	var list []string
	switch what {
	case "ips":
		for _, s := range r.Sources {
			list = append(list, s.IP)
		}
	case "prefixes":
		list = prefixes(r.Sources)
	case "accounts":
		for _, a := range r.Accounts {
			list = append(list, a.Account)
		}
		list = dedupe(list)
	case "logins":
		return r.emitLogins(w, o.JSON)
	case "fail2ban":
		jail := o.Jail
		if jail == "" {
			jail = "atoguard"
		}
		// fail2ban-client takes several addresses per banip, and each
		// call starts a Python: 100 a call.
		for i := 0; i < len(r.Sources); i += banBatch {
			ips := make([]string, 0, banBatch)
			for _, s := range r.Sources[i:min(i+banBatch, len(r.Sources))] {
				ips = append(ips, s.IP)
			}
			if _, err := fmt.Fprintf(w, "fail2ban-client set %s banip %s\n", jail, strings.Join(ips, " ")); err != nil {
				return err
			}
		}
		return nil
	case "crowdsec-decisions":
		return r.crowdsec(w, o)
	default:
		return fmt.Errorf("emit %q: want one of %s", what, strings.Join(Emits, ", "))
	}
	if o.JSON {
		if list == nil {
			list = []string{}
		}
		return json.NewEncoder(w).Encode(list)
	}
	for _, s := range list {
		if _, err := fmt.Fprintln(w, s); err != nil {
			return err
		}
	}
	return nil
}

// emitLogins writes the successful logins from campaign sources: a JSON
// array of them, or a line each of time (RFC 3339), IP, login (- when the
// log names none), incident and user agent, separated by tabs.
func (r *Report) emitLogins(w io.Writer, asJSON bool) error {
	if asJSON {
		list := r.Logins
		if list == nil {
			list = []Login{}
		}
		return json.NewEncoder(w).Encode(list)
	}
	for _, l := range r.Logins {
		login := cmp.Or(tsvField(l.Login), "-")
		if _, err := fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", l.Time.Format(time.RFC3339), l.IP, login, l.Incident, tsvField(l.UserAgent)); err != nil {
			return err
		}
	}
	return nil
}

// tsvField makes a value of the log safe in a tab-separated line.
func tsvField(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		return r
	}, s)
}

// crowdsec writes the sources as decisions for `cscli decisions import -i
// FILE` (JSON: value, scope, type, duration, reason per decision).
func (r *Report) crowdsec(w io.Writer, o EmitOptions) error {
	d := o.Duration
	if d <= 0 {
		d = 24 * time.Hour
	}
	type decision struct {
		Duration string `json:"duration"`
		Reason   string `json:"reason"`
		Scope    string `json:"scope"`
		Type     string `json:"type"`
		Value    string `json:"value"`
	}
	out := make([]decision, 0, len(r.Sources))
	for _, s := range r.Sources {
		out = append(out, decision{Duration: duration(d), Reason: "atoguard replay: " + s.Reason, Scope: "ip", Type: "ban", Value: s.IP})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// prefixes returns the networks of the sources, sorted.
func prefixes(srcs []Source) []string {
	var out []string
	for _, s := range srcs {
		out = append(out, s.Prefix)
	}
	return dedupe(out)
}

func dedupe(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// duration writes d as cscli writes durations: "24h", "90m", "45s".
func duration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	}
	return fmt.Sprintf("%ds", (d+time.Second-1)/time.Second)
}
