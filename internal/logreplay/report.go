package logreplay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// Report is what a replay found.
type Report struct {
	Inputs            []string         `json:"inputs"`
	Format            string           `json:"format"`
	Lines             int64            `json:"lines"`
	Browse            int64            `json:"browse_lines"` // pages and assets loaded
	Events            map[string]int64 `json:"events"`       // by event type
	Malformed         int64            `json:"malformed_lines"`
	MalformedExamples []Example        `json:"malformed_examples,omitempty"`
	LateLines         int64            `json:"late_lines"`  // older than the slack: replayed at the time reached
	ClockJumps        int64            `json:"clock_jumps"` // runs of late lines
	Jumps             []Jump           `json:"jumps,omitempty"`
	From              time.Time        `json:"from"`
	To                time.Time        `json:"to"`
	Incidents         []Incident       `json:"incidents"`
	// Logins are the successful logins during an incident from sources
	// the engine named (by IP, network, client or user agent).
	Logins         []Login `json:"successful_logins"`
	LoginsOverflow int64   `json:"successful_logins_not_listed,omitempty"`
	// OtherIncidentSuccesses are the successful logins during incidents
	// from sources nothing marked: most are the shop's own customers.
	OtherIncidentSuccesses int64     `json:"other_incident_successes"`
	Sources                []Source  `json:"sources"`                      // IPs the engine named, most attempts first
	SourcesOverflow        int64     `json:"sources_not_listed,omitempty"` // distinct IPs named past max_listed (an estimate, about 1%)
	Accounts               []Account `json:"accounts,omitempty"`           // JSON auth logs: accounts reached
	Timeline               []Point   `json:"timeline"`
	Step                   string    `json:"timeline_step"`
	Elapsed                string    `json:"elapsed"`
	LinesPerSecond         int64     `json:"lines_per_second"`

	zone *time.Location // of the first line: times are shown in it
}

// at formats t in the logs' own zone.
func (r *Report) at(t time.Time) string {
	if r.zone != nil {
		t = t.In(r.zone)
	}
	return t.Format(stamp)
}

// Example is a malformed line quoted in the report.
type Example struct {
	Input string `json:"input"`
	Line  int64  `json:"line"`
	Text  string `json:"text"`
	Error string `json:"error"`
}

// Jump is the start of a run of lines older than the slack.
type Jump struct {
	Input string    `json:"input"`
	Line  int64     `json:"line"`
	From  time.Time `json:"from"` // the latest time seen before it
	To    time.Time `json:"to"`   // the line's own time
}

// Incident is a campaign the engine saw.
type Incident struct {
	ID                  string         `json:"id"`
	Kind                string         `json:"kind"`
	State               string         `json:"state"` // open: still open at the end of the logs
	Start               time.Time      `json:"start"`
	End                 time.Time      `json:"end,omitzero"`
	Attempts            int64          `json:"attempts"`
	DistinctIPs         int64          `json:"distinct_ips"`
	DistinctPrefixes    int64          `json:"distinct_prefixes"`
	AccountsTargeted    int64          `json:"accounts_targeted,omitempty"`
	AccountsCompromised int64          `json:"accounts_compromised,omitempty"`
	TopSources          []store.Source `json:"top_sources"`
	SuccessfulLogins    int            `json:"successful_logins"` // listed in Report.Logins
}

// Login is a successful login from a campaign source.
type Login struct {
	Time      time.Time `json:"time"`
	IP        string    `json:"ip"`
	UserAgent string    `json:"user_agent"`
	Login     string    `json:"login,omitempty"` // JSON auth logs
	Incident  string    `json:"incident"`
	Decision  string    `json:"decision"` // what the guard would have answered
	Reasons   []string  `json:"reasons"`
}

// Source is an IP the engine named as a source of attack traffic.
type Source struct {
	IP        string    `json:"ip"`
	Prefix    string    `json:"prefix"`
	Attempts  int64     `json:"attempts"` // logins after it was first named
	Successes int64     `json:"successes"`
	First     time.Time `json:"first"`
	Last      time.Time `json:"last"`
	Reason    string    `json:"reason"`
	Incident  string    `json:"incident,omitempty"`
}

// Account is an account an incident reached (JSON auth logs).
type Account struct {
	Incident  string    `json:"incident"`
	Account   string    `json:"account"`
	Outcome   string    `json:"outcome"` // what the guard would have answered
	Attempts  int64     `json:"attempts"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// Point is one step of the timeline.
type Point struct {
	Start     time.Time `json:"start"`
	Succeeded int64     `json:"succeeded"`
	Failed    int64     `json:"failed"`
	Flagged   int64     `json:"flagged"` // logins from sources the engine named
}

// timeline counts logins per step, doubling the step when it grows past
// maxPoints, so its memory stays bounded however long the logs.
type timeline struct {
	step  time.Duration
	start time.Time
	pts   []Point
}

const maxPoints = 2048

func (tl *timeline) add(t time.Time, succeeded, flagged bool) {
	if tl.step == 0 {
		tl.step, tl.start = time.Minute, t.Truncate(time.Minute)
	}
	i := int(t.Sub(tl.start) / tl.step)
	if i < 0 {
		i = 0
	}
	for i >= maxPoints {
		tl.coarsen()
		i = int(t.Sub(tl.start) / tl.step)
	}
	for len(tl.pts) <= i {
		tl.pts = append(tl.pts, Point{Start: tl.start.Add(time.Duration(len(tl.pts)) * tl.step)})
	}
	p := &tl.pts[i]
	if succeeded {
		p.Succeeded++
	} else {
		p.Failed++
	}
	if flagged {
		p.Flagged++
	}
}

// coarsen merges pairs of steps.
func (tl *timeline) coarsen() {
	tl.step *= 2
	out := tl.pts[:0]
	for i := 0; i < len(tl.pts); i += 2 {
		p := tl.pts[i]
		if i+1 < len(tl.pts) {
			q := tl.pts[i+1]
			p.Succeeded, p.Failed, p.Flagged = p.Succeeded+q.Succeeded, p.Failed+q.Failed, p.Flagged+q.Flagged
		}
		out = append(out, p)
	}
	tl.pts = out
}

func (tl *timeline) points() ([]Point, string) { return tl.pts, tl.step.String() }

// WriteFiles writes the report as replay.md, replay.json and replay.svg
// in dir and returns their paths.
func (r *Report) WriteFiles(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dir, err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding report: %w", err)
	}
	var out []string
	for _, f := range []struct {
		name string
		data []byte
	}{{"replay.md", r.Markdown("replay.svg")}, {"replay.json", append(js, '\n')}, {"replay.svg", r.SVG()}} {
		p := filepath.Join(dir, f.name)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", p, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// thousands formats n with thousands separators.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

const stamp = "2006-01-02 15:04:05 -0700"

// Summary is the report's headline: the incidents and how many logins
// they reached, for the terminal.
func (r *Report) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s lines (%s malformed), %s to %s, %s logins\n", thousands(r.Lines), thousands(r.Malformed),
		r.at(r.From), r.at(r.To), thousands(r.Events["login.succeeded"]+r.Events["login.failed"]))
	if len(r.Incidents) == 0 {
		b.WriteString("no campaign found\n")
	}
	for _, inc := range r.Incidents {
		end := "still open at the end of the logs"
		if !inc.End.IsZero() {
			end = "to " + r.at(inc.End)
		}
		fmt.Fprintf(&b, "incident %s: %s %s, %s attempts from %s IPs in %s networks, %s successful logins from its sources\n",
			inc.ID, r.at(inc.Start), end, thousands(inc.Attempts), thousands(inc.DistinctIPs), thousands(inc.DistinctPrefixes),
			thousands(int64(inc.SuccessfulLogins)))
		r.summaryLogins(&b, inc)
	}
	fmt.Fprintf(&b, "%s source IPs named", thousands(int64(len(r.Sources))+r.SourcesOverflow))
	if r.SourcesOverflow > 0 {
		fmt.Fprintf(&b, " (%s listed; about %s more past max_listed)", thousands(int64(len(r.Sources))), thousands(r.SourcesOverflow))
	}
	b.WriteString("\n")
	if r.ClockJumps > 0 {
		fmt.Fprintf(&b, "%d clock jumps backwards (%s lines replayed late)\n", r.ClockJumps, thousands(r.LateLines))
	}
	return b.String()
}

// summaryLogins is how many of an incident's successful logins the
// summary quotes.
const summaryLogins = 5

// summaryLogins quotes the first successful logins of an incident.
func (r *Report) summaryLogins(b *strings.Builder, inc Incident) {
	n := 0
	for _, l := range r.Logins {
		if l.Incident != inc.ID {
			continue
		}
		if n++; n > summaryLogins {
			break
		}
		as := ""
		if l.Login != "" {
			as = " as " + l.Login
		}
		fmt.Fprintf(b, "  login %s from %s%s, %s\n", r.at(l.Time), l.IP, as, l.UserAgent)
	}
	if more := inc.SuccessfulLogins - summaryLogins; more > 0 {
		fmt.Fprintf(b, "  … %s more (all in replay.md and replay.json, or --emit logins)\n", thousands(int64(more)))
	}
}

// Markdown renders the report; svg is the timeline's file name beside it.
func (r *Report) Markdown(svg string) []byte {
	var b bytes.Buffer
	b.WriteString("# Replay: were we already hit?\n\n")
	fmt.Fprintf(&b, "Inputs: %s (format `%s`). %s lines from %s to %s, replayed in %s (%s lines/s).\n\n",
		"`"+strings.Join(r.Inputs, "`, `")+"`", r.Format, thousands(r.Lines), r.at(r.From), r.at(r.To),
		r.Elapsed, thousands(r.LinesPerSecond))
	b.WriteString("| | |\n|---|---:|\n")
	fmt.Fprintf(&b, "| pages and assets loaded | %s |\n", thousands(r.Browse))
	for _, t := range []string{"login.succeeded", "login.failed", "registration", "password.changed", "order.attempt"} {
		fmt.Fprintf(&b, "| %s | %s |\n", t, thousands(r.Events[t]))
	}
	fmt.Fprintf(&b, "| malformed lines (skipped) | %s |\n", thousands(r.Malformed))
	fmt.Fprintf(&b, "| lines older than the slack (clock jumps backwards: %d) | %s |\n\n", r.ClockJumps, thousands(r.LateLines))

	b.WriteString("## Incidents\n\n")
	if len(r.Incidents) == 0 {
		b.WriteString("None: no campaign in these logs.\n\n")
	}
	for _, inc := range r.Incidents {
		end := "still open at the end of the logs"
		if !inc.End.IsZero() {
			end = r.at(inc.End)
		}
		fmt.Fprintf(&b, "### %s (%s)\n\n- from %s to %s\n- %s login attempts from %s IPs in %s networks\n",
			inc.ID, inc.Kind, r.at(inc.Start), end, thousands(inc.Attempts), thousands(inc.DistinctIPs), thousands(inc.DistinctPrefixes))
		if inc.AccountsTargeted > 0 {
			fmt.Fprintf(&b, "- %s existing accounts targeted, %s with the right password\n", thousands(inc.AccountsTargeted), thousands(inc.AccountsCompromised))
		}
		fmt.Fprintf(&b, "- **%s successful logins from its sources** (listed below)\n\n", thousands(int64(inc.SuccessfulLogins)))
		if len(inc.TopSources) > 0 {
			b.WriteString("| top source | value | attempts |\n|---|---|---:|\n")
			for _, s := range inc.TopSources {
				fmt.Fprintf(&b, "| %s | `%s` | %s |\n", s.Kind, mdEscape(s.Value), thousands(s.Attempts))
			}
			b.WriteString("\n")
		}
	}
	fmt.Fprintf(&b, "## Successful logins from campaign sources\n\n%s logins", thousands(int64(len(r.Logins))+r.LoginsOverflow))
	if r.LoginsOverflow > 0 {
		fmt.Fprintf(&b, " (%s not listed)", thousands(r.LoginsOverflow))
	}
	fmt.Fprintf(&b, ". Map each to its account in the shop's own records (time, IP, user agent) and reset its password. "+
		"Other successful logins during the incidents, from sources nothing marked: %s.\n\n", thousands(r.OtherIncidentSuccesses))
	if len(r.Logins) > 0 {
		b.WriteString("| time | IP | user agent | login | guard would answer | reasons |\n|---|---|---|---|---|---|\n")
		for i, l := range r.Logins {
			if i == 200 {
				fmt.Fprintf(&b, "\n… %s more in replay.json.\n", thousands(int64(len(r.Logins)-i)))
				break
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.at(l.Time), l.IP, mdEscape(l.UserAgent), mdEscape(l.Login),
				l.Decision, strings.Join(l.Reasons, ", "))
		}
		b.WriteString("\n")
	}
	if len(r.Accounts) > 0 {
		fmt.Fprintf(&b, "## Accounts reached\n\n%s accounts (outcome: what the guard would have answered).\n\n| account | outcome | attempts | first seen |\n|---|---|---:|---|\n", thousands(int64(len(r.Accounts))))
		for i, a := range r.Accounts {
			if i == 200 {
				b.WriteString("\n… more in replay.json.\n")
				break
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %s |\n", mdEscape(a.Account), a.Outcome, a.Attempts, r.at(a.FirstSeen))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "## Sources\n\n%s IPs named by the engine (`--emit ips`), in %d networks (`--emit prefixes`).\n\n",
		thousands(int64(len(r.Sources))+r.SourcesOverflow), len(prefixes(r.Sources)))
	fmt.Fprintf(&b, "## Timeline\n\n![logins per %s: succeeded, failed, from named sources](%s)\n\n", r.Step, svg)
	if r.Malformed > 0 {
		b.WriteString("## Malformed lines\n\n")
		for _, e := range r.MalformedExamples {
			fmt.Fprintf(&b, "- `%s` line %d: %s\n", e.Input, e.Line, mdEscape(e.Error))
		}
		b.WriteString("\n")
	}
	for _, j := range r.Jumps {
		fmt.Fprintf(&b, "- clock jump backwards at `%s` line %d: from %s to %s\n", j.Input, j.Line, r.at(j.From), r.at(j.To))
	}
	return b.Bytes()
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "`", "'", "\n", " ").Replace(s)
}

// SVG draws the logins per step — succeeded, failed, and from named
// sources — with the incidents shaded.
func (r *Report) SVG() []byte {
	const (
		W, H        = 960.0, 320.0
		left, right = 60.0, 20.0
		top, plotH  = 40.0, 230.0
	)
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%g" height="%g" viewBox="0 0 %g %g" font-family="sans-serif" font-size="11">`+"\n", W, H, W, H)
	fmt.Fprintf(&b, `<rect width="%g" height="%g" fill="#fff"/>`+"\n", W, H)
	fmt.Fprintf(&b, `<text x="%g" y="22" font-size="15" font-weight="bold">%s</text>`+"\n", left,
		html.EscapeString("atoguard replay: logins per "+r.Step+" (times UTC)"))
	tl := r.Timeline
	if len(tl) == 0 {
		b.WriteString("</svg>\n")
		return b.Bytes()
	}
	step, _ := time.ParseDuration(r.Step)
	t0, t1 := tl[0].Start, tl[len(tl)-1].Start.Add(step)
	span := t1.Sub(t0).Seconds()
	x := func(t time.Time) float64 { return left + (W-left-right)*t.Sub(t0).Seconds()/span }
	var peak int64 = 1
	for _, p := range tl {
		peak = max(peak, p.Succeeded, p.Failed)
	}
	y := func(v int64) float64 { return top + plotH - plotH*float64(v)/float64(peak) }
	for _, inc := range r.Incidents {
		end := inc.End
		if end.IsZero() {
			end = t1
		}
		fmt.Fprintf(&b, `<rect x="%.1f" y="%g" width="%.1f" height="%g" fill="#cfe0ff"/>`+"\n", x(inc.Start), top, max(1, x(end)-x(inc.Start)), plotH)
	}
	fmt.Fprintf(&b, `<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#000"/>`+"\n", left, top+plotH, W-right, top+plotH)
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="end">%s</text>`+"\n", left-4, top+4, thousands(peak))
	fmt.Fprintf(&b, `<text x="%g" y="%g" text-anchor="end">0</text>`+"\n", left-4, top+plotH)
	for _, s := range []struct {
		color string
		v     func(Point) int64
	}{
		{"#2a9d2a", func(p Point) int64 { return p.Succeeded }},
		{"#d62728", func(p Point) int64 { return p.Failed }},
		{"#7b2cbf", func(p Point) int64 { return p.Flagged }},
	} {
		b.WriteString(`<polyline fill="none" stroke="` + s.color + `" stroke-width="1.2" points="`)
		for _, p := range tl {
			fmt.Fprintf(&b, "%.1f,%.1f ", x(p.Start.Add(step/2)), y(s.v(p)))
		}
		b.WriteString("\"/>\n")
	}
	ticks := 8
	for i := 0; i <= ticks; i++ {
		t := t0.Add(time.Duration(float64(t1.Sub(t0)) * float64(i) / float64(ticks)))
		fmt.Fprintf(&b, `<text x="%.1f" y="%g" text-anchor="middle">%s</text>`+"\n", x(t), top+plotH+16, t.UTC().Format("01-02 15:04"))
	}
	legend := []struct{ color, label string }{
		{"#2a9d2a", "succeeded"}, {"#d62728", "failed"}, {"#7b2cbf", "from named sources"}, {"#cfe0ff", "incident"},
	}
	for i, l := range legend {
		lx := left + float64(i)*170
		fmt.Fprintf(&b, `<rect x="%g" y="%g" width="12" height="12" fill="%s"/><text x="%g" y="%g">%s</text>`+"\n", lx, H-24, l.color, lx+16, H-14, l.label)
	}
	b.WriteString("</svg>\n")
	return b.Bytes()
}
