package api_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/atoguard/atoguard/internal/api"
)

// realisticEvent returns event i of a shop's traffic as scripts/bench-batch.lua
// sends it: an owner's login (succeeded, or failed with a wrong password)
// from a browser with client hints, or a credential-stuffing attempt on an
// unknown account from an address of its own; every field a shop fills
// in, so the body is as large as real traffic makes it.
func realisticEvent(i int) obj {
	at := t0.Add(time.Duration(i) * time.Millisecond)
	ev := obj{
		"occurred_at": at.Format(time.RFC3339Nano),
		"request_id":  fmt.Sprintf("r-%d", i),
	}
	const agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	if i%10 < 7 {
		o := i * 7 % 5000
		ev["type"] = "login.succeeded"
		ev["login"] = fmt.Sprintf("Owner.%d@Example.jp", o)
		ev["user"] = obj{"id": fmt.Sprintf("u-%d", o), "email": fmt.Sprintf("owner.%d@example.jp", o)}
		ev["session_id"] = fmt.Sprintf("s-%d", i)
		ev["context"] = obj{
			"ip": fmt.Sprintf("198.18.%d.%d", o/250%256, o%250+1), "user_agent": agent,
			"accept_language": "ja-JP,ja;q=0.9", "device_id": fmt.Sprintf("d-%06x", o*7919),
			"client_fingerprint": "t13d1516h2_8daaf6152771_b186095e22b6",
			"headers":            obj{"sec-ch-ua": `"Chromium";v="131", "Not_A Brand";v="24"`, "sec-ch-ua-platform": `"Windows"`},
		}
		ev["credential"] = obj{"password_sha1": fmt.Sprintf("%040X", o)}
		if i%10 >= 5 {
			ev["type"] = "login.failed"
			ev["properties"] = obj{"reason": "bad_password"}
			ev["credential"] = obj{"password_sha1": fmt.Sprintf("%040X", o+1<<20)}
		}
		return ev
	}
	ev["type"] = "login.failed"
	ev["login"] = fmt.Sprintf("combo%d@mail.example", i)
	ev["context"] = obj{"ip": fmt.Sprintf("185.100.%d.%d", i/250%256, i%250+1), "user_agent": agent, "accept_language": "en-US,en;q=0.9"}
	ev["credential"] = obj{"password_sha1": fmt.Sprintf("%040X", i)}
	ev["properties"] = obj{"reason": "unknown_account"}
	return ev
}

// TestFullBatchOfRealisticEvents: with the default limits, a batch of
// max_batch (1,000) events as a shop sends them, every field filled in,
// fits the batch body limit and is answered with one result a event, in
// order, each with an event id of its own.
func TestFullBatchOfRealisticEvents(t *testing.T) {
	f := newFixture(t, options{cfg: api.Config{BootstrapKey: bootstrapSecret}})
	evs := make([]string, 1000)
	for i := range evs {
		evs[i] = mustJSON(realisticEvent(i))
	}
	body := batchJSON(evs...)
	t.Logf("a full batch: %d bytes", len(body))
	if len(body) <= 256<<10 {
		t.Fatalf("the batch is only %d bytes: not a realistic full batch", len(body))
	}
	rec := f.do(t, request{"POST", "/v1/events:batch", nil, body})
	if rec.Code != 200 {
		t.Fatalf("a full batch of %d bytes: %d %s", len(body), rec.Code, rec.Body.String()[:min(300, rec.Body.Len())])
	}
	var got struct {
		Results []struct {
			EventID  string `json:"event_id"`
			Decision string `json:"decision"`
		} `json:"results"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("decoding the answer: %v", err)
	}
	if len(got.Results) != len(evs) {
		t.Fatalf("%d results for %d events", len(got.Results), len(evs))
	}
	seen := map[string]int{}
	for i, r := range got.Results {
		if r.EventID == "" || r.Decision == "" {
			t.Errorf("result %d: %+v, want an event id and a decision", i, r)
		}
		if j, dup := seen[r.EventID]; dup {
			t.Errorf("results %d and %d share the event id %s", j, i, r.EventID)
		}
		seen[r.EventID] = i
	}
}
