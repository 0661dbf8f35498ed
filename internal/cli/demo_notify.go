package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/atoguard/atoguard/internal/demoshop"
	"github.com/atoguard/atoguard/internal/notify"
)

// demoHookSecret returns the secret the demo guard signs its webhooks to
// the shop with, and the file holding it, made on first start.
func demoHookSecret(dir string) ([]byte, string, error) {
	path := filepath.Join(dir, "shop-webhook.secret")
	b, err := os.ReadFile(path)
	b = bytes.TrimRight(b, "\r\n") // as the guard reads it
	if errors.Is(err, fs.ErrNotExist) {
		b = []byte(randomSecret("whsec_"))
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, "", fmt.Errorf("writing the webhook secret: %w", err)
		}
		return b, path, nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("reading the webhook secret: %w", err)
	}
	if len(b) < 16 {
		return nil, "", fmt.Errorf("webhook secret %s is too short: delete it to make a new one", path)
	}
	return b, path, nil
}

// demoNotify is the demo guard's notify section: every owner notification
// to the shop's webhook receiver, which mails it from the shop's outbox,
// and the dashboard's bulk actions (action.*), which the shop carries out.
func demoNotify(shopURL, secretFile string) notify.Config {
	return notify.Config{
		SiteName:  "あとガード フォンショップ",
		PollEvery: time.Second,
		Retry:     notify.RetryConfig{Base: 2 * time.Second, MaxDelay: time.Minute},
		Webhooks: []notify.WebhookConfig{{
			Name: "shop", URL: shopURL + demoshop.HookPath, SecretFile: secretFile, Kinds: []string{"owner.*", "action.*"},
		}},
	}
}

// loopbackURL is the http URL of a listener, on loopback when it listens
// on every address.
func loopbackURL(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return "http://" + a.String()
	}
	ip := ta.IP
	if ip == nil || ip.IsUnspecified() {
		ip = net.IPv4(127, 0, 0, 1)
	}
	return "http://" + net.JoinHostPort(ip.String(), fmt.Sprint(ta.Port))
}
