package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/webhook"
)

// Headers of a webhook delivery besides the signature (package webhook
// owns them).
const (
	HeaderNotificationID = webhook.HeaderNotificationID
	HeaderKind           = webhook.HeaderKind
)

// hookTarget is one configured webhook, its secret loaded.
type hookTarget struct {
	url    string // never logged nor put in an error: it may be a secret
	secret secret // empty: unsigned
}

// webhookSender posts notifications to named webhooks.
type webhookSender struct {
	hooks  map[string]hookTarget
	client *http.Client
}

func newWebhookSender(cfg []WebhookConfig, getenv func(string) string) (*webhookSender, error) {
	w := &webhookSender{
		hooks: make(map[string]hookTarget, len(cfg)),
		client: &http.Client{
			// A redirect could carry the payload somewhere else: a 3xx is
			// a failed delivery.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	for i, c := range cfg {
		s, err := loadSecret(fmt.Sprintf("notify.webhooks[%d] (%s)", i, c.Name), c.SecretFile, c.SecretEnv, getenv)
		if err != nil {
			return nil, err
		}
		w.hooks[c.Name] = hookTarget{url: c.URL, secret: s}
	}
	return w, nil
}

// send posts n's payload to the webhook n.Recipient names, signed at now.
// A 2xx answer is a delivery; 410 Gone is a permanent failure; anything
// else is tried again later.
func (w *webhookSender) send(ctx context.Context, n store.Notification, now time.Time) error {
	h, ok := w.hooks[n.Recipient]
	if !ok {
		// Kept for retry: a webhook missing from the configuration may
		// come back with the next start, within the retry period.
		return fmt.Errorf("webhook %q is not configured", n.Recipient)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(n.Payload))
	if err != nil {
		return permanent(fmt.Errorf("webhook %q: building the request failed", n.Recipient))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "atoguard-notify/1")
	req.Header.Set(HeaderNotificationID, n.ID)
	req.Header.Set(HeaderKind, n.Kind)
	if len(h.secret.b) > 0 {
		req.Header.Set(client.SignatureHeader, client.SignWebhook(h.secret.b, now, n.Payload))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		// A *url.Error quotes the URL, which may hold a secret.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("webhook %q: %w", n.Recipient, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusGone:
		return permanent(fmt.Errorf("webhook %q answered %d: the receiver is gone", n.Recipient, resp.StatusCode))
	}
	return fmt.Errorf("webhook %q answered %d", n.Recipient, resp.StatusCode)
}
