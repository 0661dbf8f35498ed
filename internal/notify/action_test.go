package notify_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/store"
)

// actionConfig sends action kinds to the shop's webhook only, and email.
func actionConfig() notify.Config {
	cfg := plannerConfig()
	cfg.Webhooks[0].Kinds = []string{"owner.*", "action.*"}
	return cfg
}

func TestOperatorActionGoesToTheShopWithTheOldAddress(t *testing.T) {
	p := newPlanner(t, actionConfig())
	now := time.Date(2026, time.November, 25, 12, 0, 0, 0, time.UTC)
	for _, kind := range notify.ActionKinds() {
		t.Run(kind, func(t *testing.T) {
			a := notify.Action{Kind: kind, Operator: "ops-taro", Incident: "inc_1", Batch: "b-1", Accounts: 3, At: day(10.5)}
			got := p.OperatorAction(a, notify.ActionTarget{Owner: takenOver(), Outcome: store.OutcomeAllowed}, now)
			// Webhooks only: the shop carries actions out; no email.
			if diff := cmp.Diff([]route{{store.ChannelWebhook, "shop"}}, routes(got)); diff != "" {
				t.Fatalf("routes (-want +got):\n%s", diff)
			}
			n := got[0]
			if n.Kind != kind || n.Account != "u-1042" || n.State != store.NotificationPending {
				t.Errorf("notification %+v", n)
			}
			pl := payloadOf(t, n)
			if diff := cmp.Diff([]string{"taro@example.jp", "attacker@example.net"}, pl.To); diff != "" {
				t.Errorf("to (-want +got):\n%s", diff)
			}
			var d struct {
				Action, Operator, Incident, Outcome, Batch string
				Accounts                                   int
			}
			if err := json.Unmarshal(pl.Data, &d); err != nil {
				t.Fatal(err)
			}
			want := strings.TrimPrefix(kind, "action.")
			if d.Action != want || d.Operator != "ops-taro" || d.Incident != "inc_1" || d.Outcome != "allowed" || d.Batch != "b-1" || d.Accounts != 3 {
				t.Errorf("data %+v", d)
			}
			if !strings.Contains(pl.Text, "-----") || pl.Subject == "" {
				t.Errorf("subject %q text %q", pl.Subject, pl.Text)
			}
			// The same batch enqueues once per account: a double submit is
			// skipped by the outbox.
			again := p.OperatorAction(a, notify.ActionTarget{Owner: takenOver(), Outcome: store.OutcomeAllowed}, now.Add(time.Second))
			if again[0].DedupeKey != n.DedupeKey || again[0].ID == n.ID {
				t.Errorf("dedupe keys %q and %q, ids %q and %q", n.DedupeKey, again[0].DedupeKey, n.ID, again[0].ID)
			}
		})
	}
}

func TestOperatorActionNeedsAWebhookTakingIt(t *testing.T) {
	p := newPlanner(t, plannerConfig()) // owner.* and operator.* only
	for _, kind := range notify.ActionKinds() {
		if p.TakesKind(kind) {
			t.Errorf("TakesKind(%s) without an action webhook", kind)
		}
		a := notify.Action{Kind: kind, Operator: "ops", Incident: "inc_1", Batch: "b", Accounts: 1, At: day(1)}
		if got := p.OperatorAction(a, notify.ActionTarget{Owner: takenOver()}, day(1)); len(got) != 0 {
			t.Errorf("%s: %d notifications", kind, len(got))
		}
	}
	var nilPlanner *notify.Planner
	if nilPlanner.TakesKind(notify.KindNotifyOwner) {
		t.Error("nil planner takes a kind")
	}
	p = newPlanner(t, actionConfig())
	if got := p.OperatorAction(notify.Action{Kind: "action.nope", At: day(1)}, notify.ActionTarget{Owner: takenOver()}, day(1)); got != nil {
		t.Errorf("unknown kind: %d notifications", len(got))
	}
}

func TestOwnerNoticeSaysWhetherThePasswordWorked(t *testing.T) {
	p := newPlanner(t, actionConfig())
	a := notify.Action{Kind: notify.KindNotifyOwner, Operator: "ops", Incident: "inc_1", Batch: "b", Accounts: 2, At: day(10.5)}
	in := payloadOf(t, p.OperatorAction(a, notify.ActionTarget{Owner: takenOver(), Outcome: store.OutcomeChallengePassed}, day(11))[0])
	tried := payloadOf(t, p.OperatorAction(a, notify.ActionTarget{Owner: takenOver(), Outcome: store.OutcomeDenied}, day(11))[0])
	if !strings.Contains(in.Text, "signed in to your account with its correct password") || !strings.Contains(in.Text, "Example Mobile") {
		t.Errorf("allowed notice:\n%s", in.Text)
	}
	if !strings.Contains(tried.Text, "tried to sign in") {
		t.Errorf("denied notice:\n%s", tried.Text)
	}
}
