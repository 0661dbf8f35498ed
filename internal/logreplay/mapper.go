package logreplay

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/ident"
	"github.com/atoguard/atoguard/internal/logformat"
)

// kind is what a line is to the replay.
type kind uint8

const (
	kindSkip      kind = iota // neither an event nor browsing
	kindBrowse                // a page or asset loaded: the IP browses
	kindEvent                 // an event for the engine
	kindMalformed             // did not parse
)

// item is one line as the parsers hand it to the replay.
type item struct {
	kind kind
	t    time.Time
	ip   netip.Addr
	ev   *event.Event // kindEvent
	err  error        // kindMalformed
	line string       // kindMalformed: the line, for the report's examples
}

// mapper turns lines into items. It holds no state: parsers on every
// core share one.
type mapper struct {
	cfg    Config
	format *logformat.Format // nil for json
	paths  []pattern         // of cfg.Requests, in order
	ignore []pattern         // the requests' and browse.ignore's
}

func newMapper(cfg Config) (*mapper, error) {
	m := &mapper{cfg: cfg}
	if !cfg.IsJSON() {
		f, err := logformat.Compile(cfg.Format)
		if err != nil {
			return nil, fmt.Errorf("format: %w", err)
		}
		m.format = f
	}
	for _, r := range cfg.Requests {
		m.paths = append(m.paths, newPattern(r.Path))
	}
	m.ignore = append(m.ignore, m.paths...)
	for _, p := range cfg.Browse.Ignore {
		m.ignore = append(m.ignore, newPattern(p))
	}
	return m, nil
}

// parse fills it from one line (without its newline); tc, when not nil,
// is the calling goroutine's cache of the last time parsed.
func (m *mapper) parse(line string, it *item, tc *logformat.TimeCache) {
	*it = item{}
	var err error
	if m.format != nil {
		err = m.access(line, it, tc)
	} else {
		err = m.json(line, it)
	}
	if err != nil {
		*it = item{kind: kindMalformed, err: err, line: line}
	}
}

// access maps an access log line.
func (m *mapper) access(line string, it *item, tc *logformat.TimeCache) error {
	rec, err := m.format.ParseCached(line, tc)
	if err != nil {
		return err
	}
	it.t, it.ip = rec.Time, rec.IP
	for i := range m.cfg.Requests {
		r := &m.cfg.Requests[i]
		if !m.paths[i].match(rec.Path) {
			continue
		}
		if r.Method != "" && r.Method != rec.Method {
			continue // the form shown by GET is neither an event nor browsing
		}
		var ok, failed bool
		switch {
		case r.Success.matchAccess(&rec):
			ok = true
		case r.Event == KindLogin && r.Failure.matchAccess(&rec):
			ok, failed = true, true
		}
		if ok {
			it.kind = kindEvent
			it.ev = &event.Event{
				Type: eventType(r.Event, failed), OccurredAt: rec.Time,
				Context: event.Context{IP: rec.IP, UserAgent: strings.Clone(rec.UserAgent)},
			}
		}
		return nil
	}
	if (rec.Method == "GET" || rec.Method == "HEAD") && rec.Status < 400 && !m.ignored(rec.Path) {
		it.kind = kindBrowse
	}
	return nil
}

func (m *mapper) ignored(p string) bool {
	for _, pat := range m.ignore {
		if pat.match(p) {
			return true
		}
	}
	return false
}

// pattern is a path.Match pattern; one without wildcards is compared
// directly.
type pattern struct {
	text    string
	literal bool
}

func newPattern(s string) pattern {
	return pattern{text: s, literal: !strings.ContainsAny(s, `*?[\\`)}
}

func (p pattern) match(s string) bool {
	if p.literal {
		return p.text == s
	}
	ok, _ := path.Match(p.text, s)
	return ok
}

// matchAccess reports whether an access log record has this outcome.
func (o Outcome) matchAccess(rec *logformat.Record) bool {
	if len(o.Status) == 0 && o.Location == "" {
		return false
	}
	if len(o.Status) > 0 && !slices.Contains(o.Status, rec.Status) {
		return false
	}
	if o.Location != "" {
		ok, _ := path.Match(o.Location, locationPath(rec.Location))
		return ok
	}
	return true
}

// locationPath returns the path of a redirect target, absolute or not.
func locationPath(loc string) string {
	if i := strings.Index(loc, "://"); i >= 0 {
		rest := loc[i+3:]
		if j := strings.IndexByte(rest, '/'); j >= 0 {
			loc = rest[j:]
		} else {
			loc = "/"
		}
	}
	p, _, _ := strings.Cut(loc, "?")
	return p
}

func eventType(kind string, failed bool) event.Type {
	switch kind {
	case KindRegistration:
		return event.Registration
	case KindPasswordChange:
		return event.PasswordChanged
	case KindCheckout:
		return event.OrderAttempt
	}
	if failed {
		return event.LoginFailed
	}
	return event.LoginSucceeded
}

// json maps a JSON auth log line.
func (m *mapper) json(line string, it *item) error {
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return fmt.Errorf("%w: %w", logformat.ErrMalformed, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data", logformat.ErrMalformed)
	}
	f := &m.cfg.JSON
	t, err := parseTime(field(obj, f.Time), f.TimeFormat)
	if err != nil {
		return fmt.Errorf("%w: %s: %w", logformat.ErrMalformed, f.Time, err)
	}
	ip, err := netip.ParseAddr(field(obj, f.IP))
	if err != nil {
		return fmt.Errorf("%w: %s: %w", logformat.ErrMalformed, f.IP, err)
	}
	it.t, it.ip = t, ip.Unmap()
	action := field(obj, f.Event)
	for i := range m.cfg.Requests {
		r := &m.cfg.Requests[i]
		if r.Action != action {
			continue
		}
		out := field(obj, f.Outcome)
		failed, unknown := false, false
		switch {
		case slices.Contains(r.Success.Values, out):
		case r.Event == KindLogin && slices.Contains(r.Failure.Unknown, out):
			failed, unknown = true, true
		case r.Event == KindLogin && slices.Contains(r.Failure.Values, out):
			failed = true
		default:
			return nil
		}
		ev := event.Event{
			Type: eventType(r.Event, failed), OccurredAt: t, Login: ident.Normalize(field(obj, f.Login)),
			SessionID: field(obj, f.Session),
			Context:   event.Context{IP: it.ip, UserAgent: field(obj, f.UserAgent), DeviceID: field(obj, f.DeviceID)},
		}
		ev.User.ID = field(obj, f.UserID)
		if f.UserID == "" {
			ev.User.ID = ev.Login
		}
		if unknown {
			ev.User.ID, ev.Properties.Reason = "", event.ReasonUnknownAccount
		}
		if ev.Type == event.OrderAttempt && f.OrderID+f.Amount != "" {
			amount, _ := strconv.ParseInt(field(obj, f.Amount), 10, 64)
			ev.Properties.Order = &event.Order{ID: field(obj, f.OrderID), Amount: amount, Currency: field(obj, f.Currency)}
		}
		it.kind, it.ev = kindEvent, &ev
		return nil
	}
	return nil
}

// field returns the value at a dotted path as a string, or "".
func field(obj map[string]any, name string) string {
	if name == "" {
		return ""
	}
	var v any = obj
	for part := range strings.SplitSeq(name, ".") {
		o, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = o[part]
	}
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

var errNoTime = errors.New("missing")

// parseTime reads a time in one of the JSON time formats.
func parseTime(s, format string) (time.Time, error) {
	if s == "" {
		return time.Time{}, errNoTime
	}
	switch format {
	case "rfc3339":
		return time.Parse(time.RFC3339Nano, s)
	case "unix", "unix_ms":
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return time.Time{}, err
		}
		if format == "unix" {
			f *= 1000
		}
		if f < 0 || f > 1e14 {
			return time.Time{}, errors.New("out of range")
		}
		return time.UnixMilli(int64(f)).UTC(), nil
	}
	return time.Parse(format, s)
}
