package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// demoStateFile is the file in the demo's data directory that says where
// a running `atoguard demo` listens, for `atoguard simulate --demo`. It
// holds no secret: simulate reads the accounts' password key from
// demo.key beside it, and the API key only from --api-key or
// ATOGUARD_API_KEY.
const demoStateFile = "demo.json"

// demoState is what demo.json holds.
type demoState struct {
	Version  int       `json:"version"`
	PID      int       `json:"pid"`
	Started  time.Time `json:"started_at"`
	GuardURL string    `json:"guard_url"`
	ShopURL  string    `json:"shop_url"`
	// Accounts is the number of accounts the shop was seeded with:
	// u-000001 … with user000001@example.jp …, passwords derived from demo.key.
	Accounts int `json:"accounts"`
	// ForwardedFromLoopback: the shop believes X-Forwarded-For from the
	// loopback address it listens on (--trusted-proxies), which is how
	// simulate plays thousands of source addresses.
	ForwardedFromLoopback bool `json:"forwarded_from_loopback"`
	// CampaignReady is when the guard's campaign detector is done
	// learning (--learn) at the latest and may open an incident.
	CampaignReady time.Time `json:"campaign_detector_ready"`
	// Proxy: the shop runs behind atoguard proxy (demo --proxy), which
	// reports the accounts by ids and devices of its own.
	Proxy bool `json:"proxy,omitempty"`
}

// campaignReady is when a guard started at started, ticking every tick,
// has learned its campaign detector's first learn minutes at the latest:
// the detector counts whole minutes from its first tick.
func campaignReady(started time.Time, tick, learn time.Duration) time.Time {
	if learn < time.Minute {
		return started
	}
	return started.Add(tick).Truncate(time.Minute).Add(learn.Truncate(time.Minute))
}

// writeDemoState writes dir/demo.json (mode 0600) and returns a function
// that removes it again, unless another demo has replaced it meanwhile.
func writeDemoState(dir string, st demoState) (func(), error) {
	st.Version, st.PID = 1, os.Getpid()
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding the demo state: %w", err)
	}
	path := filepath.Join(dir, demoStateFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(data, '\n'), 0o600); err != nil {
		return nil, fmt.Errorf("writing the demo state: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return nil, fmt.Errorf("writing the demo state: %w", err)
	}
	return func() {
		if cur, err := readDemoStateFile(path); err == nil && cur.PID == st.PID && cur.Started.Equal(st.Started) {
			_ = os.Remove(path)
		}
	}, nil
}

func readDemoStateFile(path string) (demoState, error) {
	var st demoState
	data, err := os.ReadFile(path)
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(data, &st); err != nil {
		return st, fmt.Errorf("%s: %w", path, err)
	}
	if st.Version != 1 || st.ShopURL == "" || st.GuardURL == "" || st.Accounts < 1 {
		return st, fmt.Errorf("%s: not a demo state this atoguard understands (version %d)", path, st.Version)
	}
	return st, nil
}

// errNoDemo says there is no running demo where simulate was pointed.
var errNoDemo = errors.New("no running demo")

// findDemo reads dir/demo.json and checks that the demo it describes
// answers: its shop and its guard.
func findDemo(ctx context.Context, dir string) (demoState, error) {
	path := filepath.Join(dir, demoStateFile)
	st, err := readDemoStateFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		if _, serr := os.Stat(filepath.Join(dir, "demo.key")); serr != nil {
			return st, fmt.Errorf("%w in %s: it is not a demo's data directory; start one with `atoguard demo --data %s`", errNoDemo, dir, dir)
		}
		return st, fmt.Errorf("%w in %s (no %s): start it with `atoguard demo --data %s` and keep it running", errNoDemo, dir, demoStateFile, dir)
	}
	if err != nil {
		return st, err
	}
	for _, probe := range []struct{ what, url string }{{"shop", st.ShopURL + "/healthz"}, {"guard", st.GuardURL + "/readyz"}} {
		if err := probeURL(ctx, probe.url); err != nil {
			return st, fmt.Errorf("%w in %s: its %s at %s does not answer (%v); the demo started at %s (pid %d) has stopped? Start it again with `atoguard demo --data %s`",
				errNoDemo, dir, probe.what, probe.url, err, st.Started.Format(time.RFC3339), st.PID, dir)
		}
	}
	if !st.ForwardedFromLoopback {
		return st, fmt.Errorf("the demo in %s does not believe X-Forwarded-For from loopback (--trusted-proxies), which simulate needs to play many source addresses: restart it without --trusted-proxies", dir)
	}
	return st, nil
}

func probeURL(ctx context.Context, u string) error {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	c := &http.Client{Transport: &http.Transport{Proxy: nil}}
	resp, err := c.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

// forwardedFromLoopback reports whether proxies hold the loopback address
// a client on this machine reaches the shop at shopAddr from.
func forwardedFromLoopback(proxies []netip.Prefix, shopAddr net.Addr) bool {
	from := netip.MustParseAddr("127.0.0.1")
	if ta, ok := shopAddr.(*net.TCPAddr); ok && ta.IP.To4() == nil && !ta.IP.IsUnspecified() {
		from = netip.IPv6Loopback()
	}
	for _, p := range proxies {
		if p.Contains(from) {
			return true
		}
	}
	return false
}

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	safe := s != ""
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_./:@%+=,", c)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
