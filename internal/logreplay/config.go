package logreplay

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/logformat"
)

// Config says how to read a shop's logs and which of their lines are
// events. The zero value of a field means its default.
type Config struct {
	// Format is "combined" (default), "common", an nginx log_format
	// string, an Apache LogFormat string, or "json" for JSON lines of an
	// application's auth log (fields mapped by JSON).
	Format string `yaml:"format"`
	// Slack is how far lines may be out of time order and still be
	// replayed in order (default 2m); a line older than that is a clock
	// jump backwards, reported and replayed at the time reached.
	Slack time.Duration `yaml:"slack"`
	// Requests say which requests are events and how their outcome looks.
	Requests []Request `yaml:"requests"`
	// Browse tells clients that load pages from those that only post to
	// the forms (access logs only).
	Browse Browse `yaml:"browse"`
	// JSON maps the fields of a JSON auth log (format json).
	JSON JSONFields `yaml:"json"`
	// Engine tunes the detectors as in the guard's configuration.
	Engine engine.Config `yaml:"engine"`
	// MaxListed caps the sources and logins listed in the report (default
	// 100000); past it only counts grow.
	MaxListed int `yaml:"max_listed"`
}

// Event kinds a request can be.
const (
	KindLogin          = "login"
	KindRegistration   = "registration"
	KindPasswordChange = "password_change"
	KindCheckout       = "checkout"
)

var kinds = []string{KindLogin, KindRegistration, KindPasswordChange, KindCheckout}

// Request maps requests to events: in an access log by method and path,
// in a JSON auth log by the value of the event field (Action).
type Request struct {
	Event  string `yaml:"event"`  // login, registration, password_change or checkout
	Method string `yaml:"method"` // access log: e.g. POST (empty: any)
	Path   string `yaml:"path"`   // access log: a path.Match pattern, e.g. /login
	Action string `yaml:"action"` // json: the value of json.event
	// Success and Failure say how the outcome looks; a request matching
	// neither is not an event (e.g. the form shown again with a CSRF
	// error, a 5xx). Only logins have failures.
	Success Outcome `yaml:"success"`
	Failure Outcome `yaml:"failure"`
}

// Outcome is how a success or a failure looks.
type Outcome struct {
	Status   []int    `yaml:"status"`   // access log: status codes
	Location string   `yaml:"location"` // access log: path.Match pattern of the redirect target (needs $sent_http_location)
	Values   []string `yaml:"values"`   // json: values of json.outcome
	// Unknown are the failure values meaning no such account (json).
	Unknown []string `yaml:"unknown"`
}

// Browse says which requests show a client browsing the shop.
type Browse struct {
	// Window is how long before a login a page or asset must have been
	// loaded from the IP for the login to count as browsing (default 30m).
	Window time.Duration `yaml:"window"`
	// Ignore are path.Match patterns of requests that are not browsing
	// besides the requests mapped to events (e.g. /login, health checks).
	Ignore []string `yaml:"ignore"`
	// MaxIPs caps the IPs remembered (default 1000000).
	MaxIPs int `yaml:"max_ips"`
}

// JSONFields names the fields of a JSON auth log line (dotted paths for
// nested objects).
type JSONFields struct {
	Time       string `yaml:"time"`        // required
	TimeFormat string `yaml:"time_format"` // rfc3339 (default), unix, unix_ms or a Go layout
	IP         string `yaml:"ip"`          // required
	Event      string `yaml:"event"`       // required: what happened (matched by requests[].action)
	Outcome    string `yaml:"outcome"`     // success or failure (default: the event field)
	Login      string `yaml:"login"`
	UserID     string `yaml:"user_id"` // empty: the login names the account
	UserAgent  string `yaml:"user_agent"`
	DeviceID   string `yaml:"device_id"`
	Session    string `yaml:"session"`
	OrderID    string `yaml:"order_id"`
	Amount     string `yaml:"amount"`
	Currency   string `yaml:"currency"`
}

// ExampleConfig is a starting configuration for an nginx or Apache combined log
// (`atoguard replay check` validates it).
const ExampleConfig = `# atoguard replay configuration
format: combined          # or an nginx log_format / Apache LogFormat string, or json
slack: 2m                 # lines may be this far out of order
requests:
  - event: login
    method: POST
    path: /login
    success: {status: [302, 303]}   # with $sent_http_location logged, add location: "/mypage*"
    failure: {status: [200, 401]}
  - event: registration
    method: POST
    path: /register
    success: {status: [302, 303]}
  - event: password_change
    method: POST
    path: /mypage/password
    success: {status: [302, 303]}
  - event: checkout
    method: POST
    path: /checkout
    success: {status: [302, 303]}
browse:
  window: 30m
  ignore: [/login, /favicon.ico, /robots.txt]
`

// Load reads a configuration file strictly.
func Load(file string) (Config, error) {
	f, err := os.Open(file)
	if err != nil {
		return Config{}, fmt.Errorf("reading replay configuration: %w", err)
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", file, err)
	}
	return c, nil
}

// Parse decodes a configuration strictly (unknown keys are errors), fills
// in defaults and validates it, reporting every problem at once.
func Parse(r io.Reader) (Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return Config{}, fmt.Errorf("reading: %w", err)
	}
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("decoding YAML: %w", err)
	}
	c = c.withDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func (c Config) withDefaults() Config {
	if c.Format == "" {
		c.Format = "combined"
	}
	if c.Slack <= 0 {
		c.Slack = 2 * time.Minute
	}
	if c.Browse.Window <= 0 {
		c.Browse.Window = 30 * time.Minute
	}
	if c.Browse.MaxIPs <= 0 {
		c.Browse.MaxIPs = 1_000_000
	}
	if c.Engine.Incidents.SaveEvery <= 0 {
		// The report reads the incidents once, at the end: estimating
		// their sources every second of the logs' time is wasted work.
		c.Engine.Incidents.SaveEvery = time.Minute
	}
	if c.MaxListed <= 0 {
		c.MaxListed = 100_000
	}
	if c.JSON.TimeFormat == "" {
		c.JSON.TimeFormat = "rfc3339"
	}
	if c.JSON.Outcome == "" {
		c.JSON.Outcome = c.JSON.Event
	}
	return c
}

// IsJSON reports whether the input is JSON lines.
func (c Config) IsJSON() bool { return c.Format == "json" }

// Validate reports every problem of a configuration with defaults filled in.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.IsJSON() {
		for name, v := range map[string]string{"json.time": c.JSON.Time, "json.ip": c.JSON.IP, "json.event": c.JSON.Event} {
			if v == "" {
				bad("%s: required with format json", name)
			}
		}
	} else if _, err := logformat.Compile(c.Format); err != nil {
		bad("format: %w", err)
	}
	if len(c.Requests) == 0 {
		bad("requests: none given: say which requests are logins")
	}
	for i, r := range c.Requests {
		at := fmt.Sprintf("requests[%d]", i)
		if !slices.Contains(kinds, r.Event) {
			bad("%s.event: %q is not one of %v", at, r.Event, kinds)
		}
		if r.Event != KindLogin && !r.Failure.empty() {
			bad("%s.failure: only logins have failures", at)
		}
		if c.IsJSON() {
			if r.Action == "" {
				bad("%s.action: required with format json", at)
			}
			if r.Path != "" || r.Method != "" || len(r.Success.Status)+len(r.Failure.Status) > 0 || r.Success.Location+r.Failure.Location != "" {
				bad("%s: method, path, status and location are for access logs", at)
			}
			if len(r.Success.Values) == 0 {
				bad("%s.success.values: none given", at)
			}
			continue
		}
		if r.Action != "" || len(r.Success.Values)+len(r.Failure.Values)+len(r.Success.Unknown)+len(r.Failure.Unknown) > 0 {
			bad("%s: action, values and unknown are for format json", at)
		}
		if _, err := path.Match(r.Path, "/"); r.Path == "" || err != nil {
			bad("%s.path: %q is not a path pattern", at, r.Path)
		}
		for _, o := range []Outcome{r.Success, r.Failure} {
			if _, err := path.Match(o.Location, "/"); err != nil {
				bad("%s: location %q: %w", at, o.Location, err)
			}
		}
		if len(r.Success.Status) == 0 && r.Success.Location == "" {
			bad("%s.success: give status or location", at)
		}
	}
	for _, p := range c.Browse.Ignore {
		if _, err := path.Match(p, "/"); err != nil {
			bad("browse.ignore: %q: %w", p, err)
		}
	}
	switch c.JSON.TimeFormat {
	case "rfc3339", "unix", "unix_ms":
	default:
		if _, err := time.Parse(c.JSON.TimeFormat, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Format(c.JSON.TimeFormat)); err != nil {
			bad("json.time_format: %q: %w", c.JSON.TimeFormat, err)
		}
	}
	return errors.Join(errs...)
}

func (o Outcome) empty() bool {
	return len(o.Status) == 0 && o.Location == "" && len(o.Values) == 0 && len(o.Unknown) == 0
}
