package policy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultPolicyPeerFacts(t *testing.T) {
	p, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	home := AccountFacts{Known: true, HasHistory: true, Logins: 12, DeviceKnown: true, NetworkKnown: true, AgentKnown: true, Familiar: true, LanguageKnown: true}
	stranger := AccountFacts{Known: true, HasHistory: true, Logins: 12, AgentKnown: true, LanguageKnown: true, Strangeness: 40}
	seen := NetworkFacts{SeenInShop: true}
	succeeded := EventFacts{Type: "login.succeeded", IsLogin: true, Succeeded: true}
	failed := EventFacts{Type: "login.failed", IsLogin: true, Failed: true}
	order := EventFacts{Type: "order.attempt"}
	listed := PeerFacts{ComboListed: true, Peers: 1, Confidence: 0.7}
	stolen := PeerFacts{CredentialCompromised: true, ComboListed: true, Peers: 2, Confidence: 0.9}

	tests := []struct {
		name        string
		in          Input
		want        Decision
		wantReasons []string
	}{
		{"listed login from a stranger on a network no account used", Input{Event: succeeded, Account: stranger, Peer: listed}, Challenge,
			[]string{"account.new_device", "account.new_network", "peer.combo_listed", "source.unseen_network"}},
		{"listed login from a stranger on a network the shop knows", Input{Event: succeeded, Account: stranger, Network: seen, Peer: listed}, Allow,
			[]string{"account.new_device", "account.new_network"}},
		{"listed login, no history yet, no campaign", Input{Event: succeeded, Account: AccountFacts{Known: true}, Peer: listed}, Allow, nil},
		{"listed login at home", Input{Event: succeeded, Account: home, Peer: listed}, Allow, nil},
		{"stolen password at home: let in, flagged", Input{Event: succeeded, Account: home, Peer: stolen}, Allow,
			[]string{"peer.credential_compromised"}},
		{"stolen password from a stranger", Input{Event: succeeded, Account: stranger, Network: seen, Peer: stolen}, Challenge,
			[]string{"account.new_device", "account.new_network", "peer.credential_compromised", "peer.combo_listed"}},
		{"listed login failing", Input{Event: failed, Account: stranger, Network: seen, Peer: listed}, Allow, nil},
		{"from a peer's campaign prefix", Input{Event: succeeded, Account: stranger, Network: seen, Peer: PeerFacts{CampaignSource: true, CampaignPrefix: true, Peers: 1}}, Challenge,
			[]string{"account.new_device", "account.new_network", "peer.campaign_source"}},
		{"a peer's fingerprint alone steps nobody up", Input{Event: succeeded, Account: stranger, Network: seen, Peer: PeerFacts{CampaignSource: true, CampaignFingerprint: true, Peers: 1}}, Allow,
			[]string{"account.new_device", "account.new_network"}},
		{"a peer's sprayed password", Input{Event: succeeded, Account: stranger, Network: seen, Peer: PeerFacts{SprayedPassword: true, Peers: 1}}, Challenge,
			[]string{"account.new_device", "account.new_network", "peer.sprayed_password"}},
		{"order to a peer's drop point", Input{Event: order, Account: home, Order: OrderFacts{Present: true, Amount: 3000, Currency: "JPY", HoursSinceContactChange: -1}, Peer: PeerFacts{DropPoint: true, Peers: 1}}, Review,
			[]string{"peer.drop_point"}},
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
			if d := cmp.Diff(tt.wantReasons, codes(res.Reasons)); d != "" {
				t.Errorf("reasons (-want +got):\n%s", d)
			}
		})
	}
}

// TestPeerFactsNeverDenyAlone: whatever peers report, an event the
// built-in policy would not deny without them is not denied with them.
func TestPeerFactsNeverDenyAlone(t *testing.T) {
	p, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	all := PeerFacts{CredentialCompromised: true, ComboListed: true, CampaignSource: true, CampaignPrefix: true,
		CampaignFingerprint: true, DropPoint: true, SprayedPassword: true, Peers: 3, Confidence: 1}
	events := []EventFacts{
		{Type: "login.succeeded", IsLogin: true, Succeeded: true}, {Type: "login.failed", IsLogin: true, Failed: true},
		{Type: "login.attempt", IsLogin: true, Attempt: true}, {Type: "order.attempt"}, {Type: "mfa.succeeded"},
		{Type: "password.changed"}, {Type: "registration"},
	}
	accounts := []AccountFacts{{}, {Known: true}, {Known: true, HasHistory: true, DeviceKnown: true, NetworkKnown: true, Familiar: true}}
	for _, ev := range events {
		for _, acct := range accounts {
			for _, camp := range []bool{false, true} {
				in := Input{Event: ev, Account: acct, Campaign: CampaignFacts{Active: camp}}
				if ev.Type == "order.attempt" {
					in.Order = OrderFacts{Present: true, HighValue: true, Amount: 120000, Currency: "JPY", Pickup: true, HoursSinceContactChange: -1}
				}
				without, err := p.Evaluate(&in)
				if err != nil {
					t.Fatal(err)
				}
				in.Peer = all
				with, err := p.Evaluate(&in)
				if err != nil {
					t.Fatal(err)
				}
				if with.Decision == Deny && without.Decision != Deny {
					t.Errorf("%s %+v campaign=%v: peers turned %s into deny (rules %v)", ev.Type, acct, camp, without.Decision, with.Rules)
				}
			}
		}
	}
}
