package webhook_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/webhook"
)

// TestJSON pins the wire form shops decode.
func TestJSON(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		v    any
		want string
	}{
		{
			name: "operator payload: no account, no addresses",
			v: webhook.Payload{ID: "ntf_1", Kind: webhook.KindIncidentOpened, CreatedAt: at, OccurredAt: at,
				Subject: "s", Text: "t", Data: json.RawMessage(`{}`)},
			want: `{"id":"ntf_1","kind":"operator.incident_opened","created_at":"2026-11-25T10:00:00Z",` +
				`"occurred_at":"2026-11-25T10:00:00Z","subject":"s","text":"t","data":{}}`,
		},
		{
			name: "action payload",
			v: webhook.Payload{ID: "ntf_2", Kind: webhook.KindFreezeOrders, CreatedAt: at, OccurredAt: at, Account: "u-1",
				To: []string{"old@example.jp", "new@example.jp"}, Subject: "s", Text: "t", Data: json.RawMessage(`{}`)},
			want: `{"id":"ntf_2","kind":"action.freeze_orders","created_at":"2026-11-25T10:00:00Z",` +
				`"occurred_at":"2026-11-25T10:00:00Z","account":"u-1","to":["old@example.jp","new@example.jp"],` +
				`"subject":"s","text":"t","data":{}}`,
		},
		{
			name: "action data",
			v:    webhook.ActionData{Action: "freeze_orders", Operator: "ops", Incident: "inc_1", Batch: "b-1", Accounts: 2, At: at},
			want: `{"action":"freeze_orders","operator":"ops","incident":"inc_1","batch":"b-1","accounts":2,"at":"2026-11-25T10:00:00Z"}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(tt.v)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(b); got != tt.want {
				t.Errorf("got  %s\nwant %s", got, tt.want)
			}
		})
	}
}
