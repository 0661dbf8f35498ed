package policy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func codes(rs []Reason) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Code)
	}
	return out
}

func TestDefaultPolicy(t *testing.T) {
	p, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	home := AccountFacts{Known: true, HasHistory: true, Logins: 12, DeviceKnown: true, NetworkKnown: true, AgentKnown: true, Familiar: true}
	stranger := AccountFacts{Known: true, HasHistory: true, Logins: 12, AgentKnown: true, LanguageKnown: true, Strangeness: 55}
	// nothing matches: a fresh device, a new network, a browser family and
	// a language the owner never used
	crew := AccountFacts{Known: true, HasHistory: true, Logins: 12, NewBrowserFamily: true, NewLanguage: true, Strangeness: 90, ContextMismatch: true}
	seen := NetworkFacts{SeenInShop: true, RangeSeenInShop: true}
	inRange := NetworkFacts{RangeSeenInShop: true} // a new network in a range the shop's owners use
	succeeded := EventFacts{Type: "login.succeeded", IsLogin: true, Succeeded: true}
	failed := EventFacts{Type: "login.failed", IsLogin: true, Failed: true}
	campaign := CampaignFacts{Active: true, IncidentID: "inc_1", Metric: "unknown-account failures"}
	nat := SourceFacts{Attempts1h: 400, Failures1h: 32, DistinctLogins1h: 300, FailureRatio: 0.08, UnknownRatio: 0.01}
	stuffer := SourceFacts{Attempts1h: 40, Failures10m: 30, Failures1h: 36, Unknown1h: 18, DistinctLogins1h: 38, FailureRatio: 0.9, UnknownRatio: 0.45}

	tests := []struct {
		name        string
		in          Input
		want        Decision
		wantReasons []string
	}{
		{"owner at home", Input{Event: succeeded, Account: home}, Allow, nil},
		{"owner with a new phone on a quiet day", Input{Event: succeeded, Account: AccountFacts{Known: true, HasHistory: true, NetworkKnown: true, Familiar: true}},
			Allow, []string{"account.new_device"}},
		{"stranger on a quiet day", Input{Event: succeeded, Account: stranger}, Allow, []string{"account.new_device", "account.new_network"}},
		{"stranger with the owner's browser and language during a campaign", Input{Event: succeeded, Account: stranger, Network: inRange, Campaign: campaign}, Allow,
			[]string{"campaign.active", "account.new_device", "account.new_network"}},
		{"stranger with the owner's browser and language during a campaign, from a range no owner used", Input{Event: succeeded, Account: stranger, Campaign: campaign}, Challenge,
			[]string{"campaign.active", "source.unseen_range", "account.new_device", "account.new_network"}},
		{"stranger from a range no owner used, without a campaign", Input{Event: succeeded, Account: stranger}, Allow,
			[]string{"account.new_device", "account.new_network"}},
		{"owner at home in a range no other owner used, during a campaign", Input{Event: succeeded, Account: home, Campaign: campaign}, Allow, nil},
		{"stranger in a language the account never used on a quiet day", Input{Event: succeeded, Account: AccountFacts{Known: true, HasHistory: true, Logins: 12, AgentKnown: true, NewLanguage: true, Strangeness: 65}, Network: inRange}, Challenge,
			[]string{"account.new_device", "account.new_network", "account.new_language", "source.unseen_network"}},
		{"a young account's stranger in a new language on a quiet day", Input{Event: succeeded, Account: AccountFacts{Known: true, HasHistory: true, Logins: 2, AgentKnown: true, NewLanguage: true, Strangeness: 65}, Network: inRange}, Allow,
			[]string{"account.new_device", "account.new_network"}},
		{"the owner's known device in a new language", Input{Event: succeeded, Account: AccountFacts{Known: true, HasHistory: true, Logins: 12, DeviceKnown: true, AgentKnown: true, NewLanguage: true, Familiar: true}, Network: inRange}, Allow, nil},
		{"stranger with a new browser family during a campaign", Input{Event: succeeded, Account: AccountFacts{Known: true, HasHistory: true, Logins: 12, NewBrowserFamily: true, LanguageKnown: true, Strangeness: 75}, Network: seen, Campaign: campaign}, Challenge,
			[]string{"campaign.active", "account.new_device", "account.new_network", "account.new_browser_family"}},
		{"no history during a campaign, from the owners' address blocks", Input{Event: succeeded, Account: AccountFacts{Known: true}, Network: inRange, Campaign: campaign}, Allow,
			[]string{"campaign.active"}},
		{"no history during a campaign, from a block no owner used", Input{Event: succeeded, Account: AccountFacts{Known: true}, Campaign: campaign}, Challenge,
			[]string{"campaign.active", "source.unseen_range", "account.new_device", "account.new_network", "account.no_history"}},
		{"no history during a strangers campaign, from a range no owner used", Input{Event: succeeded, Account: AccountFacts{Known: true}, Campaign: CampaignFacts{Active: true, IncidentID: "inc_1", Strangers: true}}, Challenge,
			[]string{"campaign.active", "source.unseen_range", "account.new_device", "account.new_network", "account.no_history"}},
		{"no history during a campaign, from a network the shop knows", Input{Event: succeeded, Account: AccountFacts{Known: true}, Network: seen, Campaign: campaign}, Allow,
			[]string{"campaign.active"}},
		{"crew-shaped stranger on a quiet day", Input{Event: succeeded, Account: crew}, Challenge,
			[]string{"account.context_mismatch", "account.new_device", "account.new_network", "account.new_browser_family", "account.new_language", "source.unseen_network"}},
		{"nothing matches, on a network the shop knows (a traveller at a friend's)", Input{Event: succeeded, Account: crew, Network: seen}, Allow,
			[]string{"account.new_device", "account.new_network"}},
		{"owner at home during a campaign", Input{Event: succeeded, Account: home, Campaign: campaign}, Allow, nil},
		{"owner behind carrier NAT with a new phone", Input{Event: succeeded, IP: nat, Prefix: nat, Account: AccountFacts{Known: true, HasHistory: true, NetworkKnown: true, Familiar: true}},
			Allow, []string{"account.new_device"}},
		{"owner behind carrier NAT, typo", Input{Event: failed, IP: nat, Prefix: nat, Account: home}, Allow, nil},
		{"stuffing IP", Input{Event: succeeded, IP: stuffer, Account: stranger}, Deny, []string{"source.ip_many_accounts", "source.ip_velocity", "account.new_device", "account.new_network"}},
		{"stuffing IP but the owner's own device", Input{Event: succeeded, IP: stuffer, Account: home}, Allow, nil},
		{"hydra", Input{Event: failed, Account: stranger, Bot: BotFacts{AutomationUA: true, Tool: "hydra", MissingHeaders: true}}, Deny, []string{"bot.automation_ua"}},
		{"headerless stranger", Input{Event: succeeded, Account: stranger, Bot: BotFacts{MissingHeaders: true}}, Challenge,
			[]string{"bot.missing_headers", "account.new_device", "account.new_network"}},
		{"stranger after a failed step-up", Input{Event: succeeded, Account: AccountFacts{Known: true, HasHistory: true, AgentKnown: true, MFAFailures: 2}}, Challenge,
			[]string{"account.mfa_failures", "account.new_device", "account.new_network"}},
		{"owner at home with a new phone after a failed step-up", Input{Event: succeeded, Account: AccountFacts{Known: true, HasHistory: true, NetworkKnown: true, Familiar: true, MFAFailures: 2}}, Allow,
			[]string{"account.new_device"}},
		{"stranger from a new country", Input{Event: succeeded, Account: stranger, Geo: GeoFacts{Country: "US", ASN: 15169, ASOrg: "GOOGLE"}}, Challenge,
			[]string{"account.new_country", "account.new_device", "account.new_network", "account.new_asn"}},
		{"new phone at home abroad is not a stranger", Input{Event: succeeded, Account: AccountFacts{Known: true, HasHistory: true, NetworkKnown: true, Familiar: true}, Geo: GeoFacts{Country: "US"}},
			Allow, []string{"account.new_device"}},
		{"one device on many accounts", Input{Event: EventFacts{Type: "login.succeeded", IsLogin: true, Succeeded: true, HasDevice: true}, Device: SourceFacts{DistinctLogins1h: 9}, Account: stranger}, Challenge,
			[]string{"source.device_many_accounts", "account.new_device", "account.new_network"}},
		{"registration with a breached password", Input{Event: EventFacts{Type: "registration"}, Account: AccountFacts{Known: true}, Credential: CredentialFacts{Present: true, Breached: true, BreachCount: 10000}},
			Deny, []string{"credential.breached"}},
		{"password changed to a breached one", Input{Event: EventFacts{Type: "password.changed"}, Account: home, Credential: CredentialFacts{Present: true, Breached: true, BreachCount: 3}},
			Deny, []string{"credential.breached"}},
		{"registration with a fresh password", Input{Event: EventFacts{Type: "registration"}, Account: AccountFacts{Known: true}, Credential: CredentialFacts{Present: true}}, Allow, nil},
		{"owner at home with a breached password", Input{Event: succeeded, Account: home, Credential: CredentialFacts{Present: true, Breached: true, BreachCount: 52579}},
			Allow, []string{"credential.breached"}},
		{"sprayed password, wrong", Input{Event: EventFacts{Type: "login.failed", IsLogin: true, Failed: true, UnknownAccount: true}, Credential: CredentialFacts{Present: true, SprayAccounts: 40, Sprayed: true}},
			Deny, []string{"credential.sprayed", "login.unknown_account"}},
		{"sprayed password, right, stranger", Input{Event: succeeded, Account: stranger, Credential: CredentialFacts{Present: true, Breached: true, BreachCount: 10000, SprayAccounts: 40, Sprayed: true}},
			Challenge, []string{"credential.breached", "credential.sprayed", "account.new_device", "account.new_network"}},
		{"sprayed password, right, owner at home", Input{Event: succeeded, Account: home, Credential: CredentialFacts{Present: true, SprayAccounts: 40, Sprayed: true}}, Allow, nil},
		{"breached password from a stranger while spraying goes on", Input{Event: succeeded, Account: stranger, Credential: CredentialFacts{Present: true, Breached: true, BreachCount: 2, SprayAccounts: 1, SprayActive: true}},
			Challenge, []string{"credential.breached", "credential.spraying", "account.new_device", "account.new_network"}},
		{"breached password at home while spraying goes on", Input{Event: succeeded, Account: home, Credential: CredentialFacts{Present: true, Breached: true, BreachCount: 2, SprayActive: true}},
			Allow, []string{"credential.breached"}},
		{"a password failing on a few accounts", Input{Event: failed, Account: stranger, Credential: CredentialFacts{Present: true, SprayAccounts: 3}}, Allow, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := p.Evaluate(&tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if res.Decision != tt.want {
				t.Errorf("decision = %s, want %s (rules %v)", res.Decision, tt.want, res.Rules)
			}
			if diff := cmp.Diff(tt.wantReasons, codes(res.Reasons)); diff != "" {
				t.Errorf("reasons mismatch (-want +got):\n%s", diff)
			}
			if res.Decision != Allow && res.Risk < 50 {
				t.Errorf("risk = %d for %s, want >= 50", res.Risk, res.Decision)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string // every one must appear
	}{
		{"unknown key", "version: 1\nrules: []\nextra: 1\n", []string{"field extra not found"}},
		{"bad version and no rules", "version: 2\n", []string{"version: 2 is not supported", "rules: none given"}},
		{"every rule problem at once", `version: 1
rules:
  - id: a
    when: Event.Succeeded && Nope.X
    decision: allow
  - id: a
    when: "1 + 1"
    decision: block
    risk: 101
    reasons: [made.up]
  - when: ""
    decision: deny
`, []string{"rules[0] (a): when:", "unknown name Nope", "rules[1] (a): id is used twice", `decision "block"`, "risk 101", `reason "made.up"`, "expected bool", "rules[2]: id is empty", "rules[2]: when is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml))
			if err == nil {
				t.Fatal("Parse succeeded, want error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestLoadAndStats(t *testing.T) {
	path := filepath.Join(t.TempDir(), "p.yaml")
	if err := os.WriteFile(path, []byte("version: 1\nrules:\n  - id: all\n    when: Event.IsLogin\n    decision: challenge\n    risk: 50\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if _, err := p.Evaluate(&Input{Event: EventFacts{IsLogin: true}}); err != nil {
			t.Fatal(err)
		}
	}
	if got := p.Stats()[0].Fired; got != 3 {
		t.Errorf("fired = %d, want 3", got)
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("Load of a missing file succeeded")
	}
}

func TestEveryReasonHasDoc(t *testing.T) {
	for _, c := range ReasonCodes() {
		if c.Doc == "" || !strings.Contains(c.Code, ".") {
			t.Errorf("reason %q: doc %q", c.Code, c.Doc)
		}
	}
}
