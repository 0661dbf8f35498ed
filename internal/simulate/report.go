package simulate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/traffic"
)

var jst = time.FixedZone("JST", 9*3600)

// WriteFiles writes the report as base.md, base.json and base.svg (the
// timeline plot) in dir, and returns their paths.
func (r *Report) WriteFiles(dir, base string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding report: %w", err)
	}
	files := map[string][]byte{
		base + ".json": append(js, '\n'),
		base + ".svg":  r.SVG(),
		base + ".md":   r.Markdown(base + ".svg"),
	}
	var out []string
	for _, name := range []string{base + ".md", base + ".json", base + ".svg"} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, files[name], 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", p, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// num formats an integer with thousands separators.
func num[T int | int64](v T) string {
	s := strconv.FormatInt(int64(v), 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func pct(n, of int) string {
	if of == 0 {
		return "—"
	}
	return fmt.Sprintf("%.2f%%", 100*float64(n)/float64(of))
}

func withPct(n, of int) string { return num(n) + " (" + pct(n, of) + ")" }

func clock(t time.Time) string { return t.In(jst).Format("2006-01-02 15:04:05 MST") }

// Check is one of the targets, met or not.
type Check struct {
	Target string
	Got    string
	Met    bool
}

// Checks are the "done when" targets of issue 3, evaluated on the report.
func (r *Report) Checks() []Check {
	on, off := r.On, r.Off
	var cs []Check
	cs = append(cs, Check{"guard off: hundreds of takeovers", num(off.TakeoversAllowed), off.TakeoversAllowed >= 100})
	cs = append(cs, Check{"guard off: hundreds of fraudulent orders", num(off.FraudOrdersAccepted), off.FraudOrdersAccepted >= 100})
	cs = append(cs, Check{"guard on: at most 1% of valid-credential attacker logins allowed without step-up",
		withPct(on.TakeoversAllowed, on.AttackerValid), on.AttackerValid > 0 && on.TakeoverAllowedRate <= 0.01})
	cs = append(cs, Check{"guard on: at most 2% of benign logins challenged",
		withPct(on.OwnerChallenged+on.OwnerDenied, on.OwnerLogins), on.OwnerFrictionRate <= 0.02})
	other, otherLogins := on.OwnerChallenged+on.OwnerDenied-on.OwnerFrictionStolen, on.OwnerLogins-on.OwnerLoginsStolen
	cs = append(cs, Check{"… the same, leaving out the owners whose password the attack had used",
		withPct(other, otherLogins), otherLogins > 0 && float64(other) <= 0.02*float64(otherLogins)})
	got, met := "no incident", false
	if on.IncidentSeconds != nil {
		got, met = on.IncidentAfter+" after the attack started", *on.IncidentSeconds >= 0 && *on.IncidentSeconds <= 300
	}
	cs = append(cs, Check{"guard on: incident within 5 simulated minutes of the attack's start", got, met})
	cs = append(cs, Check{"guard on: no fraudulent order accepted",
		num(on.FraudOrdersAccepted), on.FraudOrdersAccepted == 0})
	return cs
}

// Markdown renders the report; svg is the plot's file name beside it.
func (r *Report) Markdown(svg string) []byte {
	var b bytes.Buffer
	off, on := r.Off, r.On
	fmt.Fprintf(&b, "# Simulation: `%s`, %s mode\n\n", r.Scenario, r.Mode)
	if r.Command != "" {
		fmt.Fprintf(&b, "Made with `%s`.\n\n", r.Command)
	}
	s := r.Spec
	fmt.Fprintf(&b, "Seed %d. Evaluated span %s to %s, after %s of warm-up history. %s accounts, %s generated events.\n\n",
		r.Seed, clock(r.From), clock(r.To), s.Warmup, num(r.Accounts), num(r.Events))
	fmt.Fprintf(&b, "Owners: %s accounts, %.2g logins a day each, %.0f%% typos, %.0f%% new devices, %.0f%% new networks, %.0f%% behind a carrier NAT.\n",
		num(s.Owners.Accounts), s.Owners.LoginsPerDay, 100*s.Owners.TypoRate, 100*s.Owners.NewDeviceRate, 100*s.Owners.NewNetworkRate, 100*s.Owners.CarrierNATShare)
	for _, a := range s.Attacks {
		agents := map[string]string{traffic.AgentsBrowsers: "real browser", traffic.AgentsAutomation: "HTTP-library"}[a.UserAgents]
		fmt.Fprintf(&b, "Attack: %s from %s for %s, %s source IPs, %s user agents, %.0f%% unknown accounts, %.0f%% of the real accounts' passwords valid.\n",
			a.Kind, clock(r.From.Add(a.Start.D())), a.Duration, num(a.SourceIPs), orDefault(agents, "default"), 100*a.UnknownShare, 100*a.ReuseRate)
	}
	b.WriteString("\n## Guard off and on\n\n| | guard off | guard on |\n|---|---:|---:|\n")
	row := func(name, a, c string) { fmt.Fprintf(&b, "| %s | %s | %s |\n", name, a, c) }
	sent := num(on.Events)
	if r.Mode == ModeLive {
		sent += " (the warm-up history; the shop reported the rest)"
	}
	row("events the simulator sent to the guard's API", "—", sent)
	row("attacker login attempts", num(off.AttackerAttempts), num(on.AttackerAttempts))
	row("attacker attempts with a valid password", num(off.AttackerValid), num(on.AttackerValid))
	row("**takeovers allowed** (let in without step-up)", "**"+withPct(off.TakeoversAllowed, off.AttackerValid)+"**", "**"+withPct(on.TakeoversAllowed, on.AttackerValid)+"**")
	row("takeovers challenged (step-up)", num(off.TakeoversChallenged), num(on.TakeoversChallenged))
	row("takeovers denied", num(off.TakeoversDenied), num(on.TakeoversDenied))
	row("a per-IP jail (5 failures / 10 min) would allow", num(off.PerIPJailTakeovers), num(on.PerIPJailTakeovers))
	row("contact emails changed by the attacker", num(off.EmailChanges), num(on.EmailChanges))
	row("fraudulent orders attempted", num(off.FraudOrdersAttempted), num(on.FraudOrdersAttempted))
	row("**fraudulent orders accepted**", "**"+num(off.FraudOrdersAccepted)+"**", "**"+num(on.FraudOrdersAccepted)+"**")
	row("fraudulent value accepted", "¥"+num(off.FraudValueAccepted), "¥"+num(on.FraudValueAccepted))
	row("owners' correct-password logins", num(off.OwnerLogins), num(on.OwnerLogins))
	row("**benign friction**: owners challenged or denied", "**"+withPct(off.OwnerChallenged+off.OwnerDenied, off.OwnerLogins)+"**",
		"**"+withPct(on.OwnerChallenged+on.OwnerDenied, on.OwnerLogins)+"**")
	row("… distinct owners", num(off.OwnersStopped), num(on.OwnersStopped))
	row("… step-ups the owner passed (a challenge all the same)", num(off.OwnerStepUpsPassed), num(on.OwnerStepUpsPassed))
	row("… of them owners whose password the attack had used", withPct(off.OwnerFrictionStolen, off.OwnerLoginsStolen), withPct(on.OwnerFrictionStolen, on.OwnerLoginsStolen))
	row("… all other owners challenged or denied", withPct(off.OwnerChallenged+off.OwnerDenied-off.OwnerFrictionStolen, off.OwnerLogins-off.OwnerLoginsStolen),
		withPct(on.OwnerChallenged+on.OwnerDenied-on.OwnerFrictionStolen, on.OwnerLogins-on.OwnerLoginsStolen))
	if off.OwnerLockedOut+on.OwnerLockedOut > 0 {
		row("owners locked out: the attacker had changed their email", num(off.OwnerLockedOut), num(on.OwnerLockedOut))
	}
	row("owners' orders not accepted", withPct(off.OwnerOrdersStopped, off.OwnerOrders), withPct(on.OwnerOrdersStopped, on.OwnerOrders))
	row("attack", clock(on.AttackStart)+" – "+on.AttackEnd.In(jst).Format("15:04:05"), "same")
	inc := "none"
	if on.IncidentStart != nil {
		inc = fmt.Sprintf("%s, **%s** after the attack started", clock(*on.IncidentStart), on.IncidentAfter)
		if on.IncidentEnd != nil {
			inc += ", closed " + on.IncidentEnd.In(jst).Format("15:04:05")
		}
		inc += fmt.Sprintf("; %s accounts targeted, %s compromised passwords to reset", num(on.IncidentReached), num(on.IncidentCompr))
		if on.Incidents > 1 {
			inc += fmt.Sprintf(" (%d incidents in all)", on.Incidents)
		}
	}
	row("incident", "— (nothing watches)", inc)
	if on.GuardErrors > 0 {
		row("guard errors (fail mode used)", "—", num(on.GuardErrors))
	}

	b.WriteString("\n## Targets of issue 3\n\n")
	if r.Scenario != "distributed" {
		b.WriteString("The issue sets these targets for the `distributed` scenario; they are shown here for comparison.\n\n")
	}
	b.WriteString("| target | got | |\n|---|---|---|\n")
	for _, c := range r.Checks() {
		mark := "met"
		if !c.Met {
			mark = "**not met**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s |\n", c.Target, c.Got, mark)
	}
	fmt.Fprintf(&b, "\n## Timeline\n\n![timeline: login failure and unknown-account rates, decisions, takeovers](%s)\n\n", svg)
	b.WriteString("Top: login failure rate and unknown-account rate (share of all login attempts); the attack's span is shaded red, the incident's blue. " +
		"Middle: the guard's decisions on logins per step (guard on). Bottom: takeovers so far, guard off and on.\n\n## Notes\n\n")
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "- %s\n", n)
	}
	return b.Bytes()
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
