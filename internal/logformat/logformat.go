// Package logformat parses web server access log lines — the "combined"
// format nginx and Apache write, or any nginx log_format or Apache
// LogFormat string — into records.
package logformat

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The formats known by name.
const (
	Combined = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent "$http_referer" "$http_user_agent"`
	Common   = `$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent`
)

// ErrMalformed is wrapped by every error about a line that does not fit
// its format.
var ErrMalformed = errors.New("malformed line")

// Record is one parsed access log line. Its strings share the line's
// memory.
type Record struct {
	Time      time.Time
	IP        netip.Addr
	Method    string // "" when the request line is not METHOD URI PROTOCOL
	Path      string // the request target without its query
	Query     string
	Status    int
	Location  string // the redirect target ($sent_http_location), when logged
	Referer   string
	UserAgent string
	Bytes     int64
}

// variable is what a format variable fills in.
type variable int

const (
	vIgnored variable = iota
	vAddr
	vForwardedFor
	vTimeLocal
	vTimeISO
	vMsec
	vRequest
	vMethod
	vURI
	vStatus
	vBytes
	vReferer
	vUserAgent
	vLocation
)

var variables = map[string]variable{
	"remote_addr": vAddr, "http_x_forwarded_for": vForwardedFor, "time_local": vTimeLocal,
	"time_iso8601": vTimeISO, "msec": vMsec, "request": vRequest, "request_method": vMethod,
	"request_uri": vURI, "uri": vURI, "status": vStatus, "body_bytes_sent": vBytes, "bytes_sent": vBytes,
	"http_referer": vReferer, "http_user_agent": vUserAgent, "sent_http_location": vLocation,
}

// token is a literal (v < 0) or a variable.
type token struct {
	lit string
	v   variable
	isV bool
}

// Format is a compiled log format.
type Format struct {
	src    string
	tokens []token
	hasIP  bool
	hasT   bool
}

// String returns the format as given (after name and Apache translation).
func (f *Format) String() string { return f.src }

// Compile compiles a format: "combined", "common", an nginx log_format
// string ($variables) or an Apache LogFormat string (%directives). The
// line must carry a client address and a time; variables it does not know
// are skipped. Two variables with nothing between them are refused: where
// one ends would be a guess.
func Compile(format string) (*Format, error) {
	switch format {
	case "combined", "":
		format = Combined
	case "common":
		format = Common
	}
	if !strings.Contains(format, "$") && strings.Contains(format, "%") {
		var err error
		if format, err = fromApache(format); err != nil {
			return nil, err
		}
	}
	f := &Format{src: format}
	for i := 0; i < len(format); {
		if format[i] != '$' {
			j := strings.IndexByte(format[i:], '$')
			if j < 0 {
				j = len(format) - i
			}
			f.tokens = append(f.tokens, token{lit: format[i : i+j]})
			i += j
			continue
		}
		name, n := varName(format[i+1:])
		if name == "" {
			return nil, fmt.Errorf("format: a $ without a variable name at column %d", i+1)
		}
		if k := len(f.tokens); k > 0 && f.tokens[k-1].isV {
			return nil, fmt.Errorf("format: $%s follows another variable with no separator", name)
		}
		v := variables[name]
		f.hasIP = f.hasIP || v == vAddr || v == vForwardedFor
		f.hasT = f.hasT || v == vTimeLocal || v == vTimeISO || v == vMsec
		f.tokens = append(f.tokens, token{v: v, isV: true, lit: name})
		i += 1 + n
	}
	switch {
	case !f.hasIP:
		return nil, errors.New("format: no client address ($remote_addr or $http_x_forwarded_for)")
	case !f.hasT:
		return nil, errors.New("format: no time ($time_local, $time_iso8601 or $msec)")
	}
	return f, nil
}

// varName reads a variable name, bare or in braces, and returns it with
// the bytes it took.
func varName(s string) (string, int) {
	if strings.HasPrefix(s, "{") {
		end := strings.IndexByte(s, '}')
		if end < 2 {
			return "", 0
		}
		return s[1:end], end + 1
	}
	n := 0
	for n < len(s) && (s[n] == '_' || s[n] >= 'a' && s[n] <= 'z' || s[n] >= 'A' && s[n] <= 'Z' || s[n] >= '0' && s[n] <= '9') {
		n++
	}
	return strings.ToLower(s[:n]), n
}

// apache maps Apache LogFormat directives to nginx variables.
var apache = map[string]string{
	"h": "$remote_addr", "a": "$remote_addr", "l": "$ignored_l", "u": "$remote_user", "t": "[$time_local]",
	"r": "$request", "s": "$status", ">s": "$status", "b": "$body_bytes_sent", "B": "$body_bytes_sent",
	"m": "$request_method", "U": "$uri", "D": "$ignored_d", "T": "$ignored_t", "v": "$ignored_v", "O": "$bytes_sent",
	"{referer}i": "$http_referer", "{user-agent}i": "$http_user_agent", "{location}o": "$sent_http_location",
	"{x-forwarded-for}i": "$http_x_forwarded_for",
}

// fromApache translates an Apache LogFormat string.
func fromApache(format string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c == '\\' && i+1 < len(format) && format[i+1] == '"' {
			b.WriteByte('"')
			i++
			continue
		}
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		rest := format[i+1:]
		var d string
		switch {
		case strings.HasPrefix(rest, "%"):
			b.WriteByte('%')
			i++
			continue
		case strings.HasPrefix(rest, "{"):
			end := strings.IndexByte(rest, '}')
			if end < 0 || end+1 >= len(rest) {
				return "", fmt.Errorf("format: unterminated %%{ at column %d", i)
			}
			d = strings.ToLower(rest[:end+2])
		case strings.HasPrefix(rest, ">") || strings.HasPrefix(rest, "<"):
			if len(rest) < 2 {
				return "", fmt.Errorf("format: %% at the end")
			}
			d = rest[:2]
		case rest == "":
			return "", fmt.Errorf("format: %% at the end")
		default:
			d = rest[:1]
		}
		v, ok := apache[d]
		if !ok {
			v = "$ignored_" + strconv.Itoa(i)
		}
		b.WriteString(v)
		i += len(d)
	}
	return b.String(), nil
}

// TimeCache remembers the last time parsed: consecutive lines of a busy
// log mostly share their second. One goroutine uses a cache at a time.
type TimeCache struct {
	text string
	t    time.Time
}

// Parse parses one line (without its newline) into a record.
func (f *Format) Parse(line string) (Record, error) { return f.ParseCached(line, nil) }

// ParseCached is Parse with a cache of the last time parsed (nil: none).
func (f *Format) ParseCached(line string, c *TimeCache) (Record, error) {
	var r Record
	pos := 0
	for i, t := range f.tokens {
		if !t.isV {
			if !strings.HasPrefix(line[pos:], t.lit) {
				return r, fmt.Errorf("%w: want %q at column %d", ErrMalformed, t.lit, pos+1)
			}
			pos += len(t.lit)
			continue
		}
		end := len(line)
		if i+1 < len(f.tokens) {
			end = findLit(line, pos, f.tokens[i+1].lit)
			if end < 0 {
				return r, fmt.Errorf("%w: $%s does not end (no %q after column %d)", ErrMalformed, t.lit, f.tokens[i+1].lit, pos+1)
			}
		}
		if c != nil && t.v == vTimeLocal && c.text != "" && line[pos:end] == c.text {
			r.Time, pos = c.t, end
			continue
		}
		if err := r.set(t.v, line[pos:end]); err != nil {
			return r, fmt.Errorf("%w: $%s: %w", ErrMalformed, t.lit, err)
		}
		if c != nil && t.v == vTimeLocal {
			c.text, c.t = strings.Clone(line[pos:end]), r.Time
		}
		pos = end
	}
	if pos != len(line) {
		return r, fmt.Errorf("%w: trailing text at column %d", ErrMalformed, pos+1)
	}
	if !r.IP.IsValid() {
		return r, fmt.Errorf("%w: no client address", ErrMalformed)
	}
	if r.Time.IsZero() {
		return r, fmt.Errorf("%w: no time", ErrMalformed)
	}
	return r, nil
}

// findLit returns the index of lit in line at or after pos that no
// backslash escapes, or -1.
func findLit(line string, pos int, lit string) int {
	for pos <= len(line) {
		i := strings.Index(line[pos:], lit)
		if i < 0 {
			return -1
		}
		j := pos + i
		bs := 0
		for k := j - 1; k >= pos && line[k] == '\\'; k-- {
			bs++
		}
		if bs%2 == 0 {
			return j
		}
		pos = j + 1
	}
	return -1
}

// set fills in one variable's value.
func (r *Record) set(v variable, s string) error {
	if s == "-" && v != vRequest {
		return nil
	}
	var err error
	switch v {
	case vAddr:
		r.IP, err = netip.ParseAddr(s)
		r.IP = r.IP.Unmap()
	case vForwardedFor:
		if !r.IP.IsValid() {
			first, _, _ := strings.Cut(s, ",")
			r.IP, err = netip.ParseAddr(strings.TrimSpace(first))
			r.IP = r.IP.Unmap()
		}
	case vTimeLocal:
		r.Time, err = time.Parse("02/Jan/2006:15:04:05 -0700", s)
	case vTimeISO:
		r.Time, err = time.Parse(time.RFC3339, s)
	case vMsec:
		var sec float64
		sec, err = strconv.ParseFloat(s, 64)
		if err == nil && (sec < 0 || sec > 1e11) {
			err = errors.New("out of range")
		}
		r.Time = time.UnixMilli(int64(sec * 1000)).UTC()
	case vRequest:
		r.request(s)
	case vMethod:
		r.Method = s
	case vURI:
		r.Path, r.Query, _ = strings.Cut(s, "?")
	case vStatus:
		r.Status, err = strconv.Atoi(s)
		if err == nil && (r.Status < 100 || r.Status > 999) {
			err = errors.New("out of range")
		}
	case vBytes:
		r.Bytes, err = strconv.ParseInt(s, 10, 64)
	case vReferer:
		r.Referer = s
	case vUserAgent:
		r.UserAgent = s
	case vLocation:
		r.Location = s
	}
	return err
}

// request splits "METHOD TARGET PROTOCOL"; anything else (a TLS
// handshake sent to the HTTP port, say) leaves Method empty.
func (r *Record) request(s string) {
	m, rest, ok := strings.Cut(s, " ")
	sp := strings.LastIndexByte(rest, ' ')
	if !ok || sp < 0 || !isToken(m) || !strings.HasPrefix(rest[sp+1:], "HTTP/") {
		return
	}
	r.Method = m
	r.Path, r.Query, _ = strings.Cut(rest[:sp], "?")
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}
