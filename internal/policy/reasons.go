package policy

import (
	"fmt"
	"sort"
)

// Reason explains part of a decision: a stable code and a detail for
// people.
type Reason struct {
	Code   string `json:"code"`
	Detail string `json:"detail"`
}

// reasonDef is a known reason code: when it applies to an input and how
// to describe it.
type reasonDef struct {
	doc     string
	applies func(*Input) bool
	detail  func(*Input) string
}

func always(*Input) bool { return true }

func text(s string) func(*Input) string { return func(*Input) string { return s } }

// reasons are the stable reason codes. A rule names the codes it reports;
// a code is reported only when it applies, so a reason never claims what
// is not true of the event.
var reasons = map[string]reasonDef{
	"guard.degraded": {
		doc:     "the guard is answering without Redis or its shared records and is configured to fail closed",
		applies: func(in *Input) bool { return in.Guard.Degraded },
		detail:  text("shared state out of reach; failing closed (hot.on_outage: closed)"),
	},
	"campaign.active": {
		doc:     "a credential-stuffing campaign is in progress site-wide",
		applies: func(in *Input) bool { return in.Campaign.Active },
		detail: func(in *Input) string {
			return fmt.Sprintf("credential-stuffing campaign %s in progress (%s above baseline)", in.Campaign.IncidentID, in.Campaign.Metric)
		},
	},
	"campaign.strangers": {
		doc:     "while a campaign is open, correct passwords from strangers (a device and a network the account never used, on a network no account of the shop is known on) run above what the owners bring",
		applies: func(in *Input) bool { return in.Campaign.Strangers },
		detail:  text("more correct passwords from strangers than owners bring: the campaign gets in with correct passwords"),
	},
	"campaign.first_logins": {
		doc:     "while a campaign is open, first logins (accounts with no good session on record) from networks no account of the shop is known on ran over the last hour well beyond what the owners bring",
		applies: func(in *Input) bool { return in.Campaign.FirstLogins },
		detail:  text("first logins from unseen networks run well beyond what owners bring: the campaign gets into accounts with no history"),
	},
	"account.dormant": {
		doc:     "the account's last good session is at least a week old",
		applies: func(in *Input) bool { return in.Account.DaysSinceLogin >= 7 },
		detail: func(in *Input) string {
			return fmt.Sprintf("last good session %.0f days ago", in.Account.DaysSinceLogin)
		},
	},
	"account.new_device": {
		doc:     "the device was never seen in a good session of this account (or no device id was sent)",
		applies: func(in *Input) bool { return !in.Account.DeviceKnown },
		detail: func(in *Input) string {
			if !in.Event.HasDevice {
				return "no device id sent; treated as a new device"
			}
			return "device never seen for this account"
		},
	},
	"account.new_network": {
		doc:     "the network (IPv4 /24, IPv6 /64) was never seen in a good session of this account",
		applies: func(in *Input) bool { return !in.Account.NetworkKnown },
		detail:  text("network never seen for this account"),
	},
	"account.new_country": {
		doc:     "the client's country (GeoIP) was never seen in a good session of this account",
		applies: func(in *Input) bool { return in.Geo.Country != "" && !in.Account.CountryKnown },
		detail: func(in *Input) string {
			return "first login from " + in.Geo.Country + " for this account"
		},
	},
	"account.new_asn": {
		doc:     "the client's network operator (GeoIP ASN) was never seen in a good session of this account",
		applies: func(in *Input) bool { return in.Geo.ASN != 0 && !in.Account.ASNKnown },
		detail: func(in *Input) string {
			return fmt.Sprintf("network operator AS%d %s never seen for this account", in.Geo.ASN, in.Geo.ASOrg)
		},
	},
	"account.new_browser_family": {
		doc:     "the browser family (e.g. Chrome/Windows, version-free) was never seen in a good session of this account",
		applies: func(in *Input) bool { return in.Account.NewBrowserFamily },
		detail:  text("browser family never seen for this account"),
	},
	"account.new_language": {
		doc:     "the browser's language preference (Accept-Language) was never seen in a good session of this account",
		applies: func(in *Input) bool { return in.Account.NewLanguage },
		detail:  text("browser language never seen for this account"),
	},
	"account.unusual_hour": {
		doc:     "the account has logged in often enough, and never at this hour of the day or the hours next to it",
		applies: func(in *Input) bool { return in.Account.UnusualHour },
		detail:  text("no login of this account at this hour of the day"),
	},
	"account.context_mismatch": {
		doc:     "nothing the login carries matches what the account has shown: not the device, the network, the browser family, the language, nor (with GeoIP) the country or network operator",
		applies: func(in *Input) bool { return in.Account.ContextMismatch },
		detail: func(in *Input) string {
			return fmt.Sprintf("nothing of this context matches the account's history (strangeness %d/100)", in.Account.Strangeness)
		},
	},
	"source.unseen_network": {
		doc:     "the network (IPv4 /24, IPv6 /64) was not seen in a good session of any account of the shop in the last 30 to 60 days",
		applies: func(in *Input) bool { return in.Account.Known && !in.Network.SeenInShop },
		detail:  text("network never seen for any account of the shop"),
	},
	"source.unseen_range": {
		doc:     "the network's address block (IPv4 /8, IPv6 /12: what IANA allocates to a regional internet registry, roughly a part of the world) was not seen in a good session of any account of the shop in the last 30 to 60 days: a region the shop's customers are not in",
		applies: func(in *Input) bool { return in.Account.Known && !in.Network.RangeSeenInShop },
		detail:  text("address block (IPv4 /8, IPv6 /12) never seen for any account of the shop"),
	},
	"account.no_history": {
		doc:     "the account has no good session on record yet",
		applies: func(in *Input) bool { return !in.Account.HasHistory },
		detail:  text("no good session on record for this account"),
	},
	"account.mfa_failures": {
		doc:     "step-ups of this account failed in the last 24 hours, since its password last changed",
		applies: func(in *Input) bool { return in.Account.MFAFailures > 0 },
		detail: func(in *Input) string {
			return fmt.Sprintf("%d failed step-ups in the last 24 hours", in.Account.MFAFailures)
		},
	},
	"account.challenge_abandoned": {
		doc:     "challenges of this account expired unanswered in the last 24 hours (each counts as a failed step-up)",
		applies: func(in *Input) bool { return in.Account.ChallengesAbandoned > 0 },
		detail: func(in *Input) string {
			return fmt.Sprintf("%d challenges expired unanswered in the last 24 hours", in.Account.ChallengesAbandoned)
		},
	},
	"order.high_value": {
		doc:     "the order is worth at least the high-value threshold, or holds a risky item",
		applies: func(in *Input) bool { return in.Order.HighValue },
		detail: func(in *Input) string {
			if in.Order.RiskyItem {
				return fmt.Sprintf("risky item in an order of %d %s", in.Order.Amount, in.Order.Currency)
			}
			return fmt.Sprintf("high-value order: %d %s", in.Order.Amount, in.Order.Currency)
		},
	},
	"order.new_address": {
		doc:     "the shipping address was never used in a good order of this account",
		applies: func(in *Input) bool { return in.Order.NewAddress },
		detail:  text("shipping address new for this account"),
	},
	"order.new_pickup_store": {
		doc:     "pickup at a store this account never used",
		applies: func(in *Input) bool { return in.Order.Pickup && in.Order.NewPickupStore },
		detail:  text("store pickup at a store new for this account"),
	},
	"order.drop_point": {
		doc:     "the address or pickup store was used by several accounts recently",
		applies: func(in *Input) bool { return in.Order.DropPointAccounts >= 2 },
		detail: func(in *Input) string {
			return fmt.Sprintf("address or pickup store used by %d accounts recently", in.Order.DropPointAccounts)
		},
	},
	"order.sku_surge": {
		doc:     "an item of the order is suddenly bought by many accounts, many from risky contexts",
		applies: func(in *Input) bool { return in.Order.Surge },
		detail: func(in *Input) string {
			return fmt.Sprintf("item surging across accounts, %.0f%% of its last hour's orders from risky contexts", 100*in.Order.SurgeRiskyShare)
		},
	},
	"order.contact_changed": {
		doc:     "contact data (email, phone, address, notification settings, payment) changed within the cool-down",
		applies: func(in *Input) bool { return in.Order.ContactChangedRecently },
		detail: func(in *Input) string {
			what := "contact data"
			if in.Order.EmailChangedRecently {
				what = "email address"
			}
			return fmt.Sprintf("%s changed %.1f hours before this order", what, in.Order.HoursSinceContactChange)
		},
	},
	"order.new_payment": {
		doc:     "the payment method was never used in a good order of this account",
		applies: func(in *Input) bool { return in.Order.NewPayment },
		detail:  text("payment method new for this account"),
	},
	"order.carrier_billing": {
		doc:     "paid by carrier billing (charged to the phone bill, noticed late)",
		applies: func(in *Input) bool { return in.Order.CarrierBilling },
		detail:  text("carrier billing: charged to the phone bill"),
	},
	"order.convenience_payment": {
		doc:     "paid at a convenience store (no card holder check)",
		applies: func(in *Input) bool { return in.Order.ConvenienceStorePayment },
		detail:  text("paid at a convenience store"),
	},
	"session.risky_login": {
		doc:     "the session began with a login from a device and network the account never used",
		applies: func(in *Input) bool { return in.Session.Known && in.Session.Unfamiliar },
		detail: func(in *Input) string {
			return fmt.Sprintf("session began %.0f minutes ago with an unfamiliar login (risk %d)", in.Session.MinutesSinceLogin, in.Session.LoginRisk)
		},
	},
	"session.challenge_not_passed": {
		doc:     "the session's login was challenged and the step-up was never passed",
		applies: func(in *Input) bool { return in.Session.Challenged && !in.Session.ChallengePassed },
		detail:  text("the login of this session was challenged and never passed the step-up"),
	},
	"session.weak_factor": {
		doc:     "the session's step-up was passed only with SMS, a weak factor",
		applies: func(in *Input) bool { return in.Session.WeakFactor },
		detail:  text("step-up passed with SMS only (phishable, SIM-swappable)"),
	},
	"source.ip_velocity": {
		doc:     "many failed logins from this IP address",
		applies: func(in *Input) bool { return in.IP.Failures10m >= 1 },
		detail: func(in *Input) string {
			return fmt.Sprintf("%.0f failed logins from this IP in 10 minutes (%.0f%% of its attempts)", in.IP.Failures10m, 100*in.IP.FailureRatio)
		},
	},
	"source.ip_many_accounts": {
		doc:     "this IP address tried many accounts, mostly failing or unknown",
		applies: func(in *Input) bool { return in.IP.DistinctLogins1h >= 2 },
		detail: func(in *Input) string {
			return fmt.Sprintf("%.0f accounts tried from this IP in the last hour, %.0f%% failed, %.0f%% unknown", in.IP.DistinctLogins1h, 100*in.IP.FailureRatio, 100*in.IP.UnknownRatio)
		},
	},
	"source.prefix_many_accounts": {
		doc:     "this network prefix tried many accounts, mostly failing or unknown",
		applies: func(in *Input) bool { return in.Prefix.DistinctLogins1h >= 2 },
		detail: func(in *Input) string {
			return fmt.Sprintf("%.0f accounts tried from this network in the last hour, %.0f%% failed, %.0f%% unknown", in.Prefix.DistinctLogins1h, 100*in.Prefix.FailureRatio, 100*in.Prefix.UnknownRatio)
		},
	},
	"source.device_many_accounts": {
		doc:     "one device id was used to log in to many accounts",
		applies: func(in *Input) bool { return in.Device.DistinctLogins1h >= 2 },
		detail: func(in *Input) string {
			return fmt.Sprintf("this device tried %.0f accounts in the last hour", in.Device.DistinctLogins1h)
		},
	},
	"source.fingerprint_velocity": {
		doc:     "many failed logins, many for unknown accounts, from one client fingerprint",
		applies: func(in *Input) bool { return in.Fingerprint.Failures10m >= 1 },
		detail: func(in *Input) string {
			return fmt.Sprintf("%.0f failed logins from this client fingerprint in 10 minutes, %.0f%% for unknown accounts", in.Fingerprint.Failures10m, 100*in.Fingerprint.UnknownRatio)
		},
	},
	"bot.automation_ua": {
		doc:     "the user agent is an HTTP library, attack tool or headless browser",
		applies: func(in *Input) bool { return in.Bot.AutomationUA },
		detail:  func(in *Input) string { return "automation user agent: " + in.Bot.Tool },
	},
	"bot.missing_headers": {
		doc:     "headers every browser sends are missing",
		applies: func(in *Input) bool { return in.Bot.MissingHeaders },
		detail:  text("browser headers missing (Accept-Language or Client Hints)"),
	},
	"login.unknown_account": {
		doc:     "the login named an account that does not exist",
		applies: func(in *Input) bool { return in.Event.UnknownAccount },
		detail:  text("login for an account that does not exist"),
	},
	"credential.breached": {
		doc:     "the password is in the breached-password corpus: a new password is refused, a login asks for a password change",
		applies: func(in *Input) bool { return in.Credential.Breached },
		detail: func(in *Input) string {
			return fmt.Sprintf("this password appears %d times in breached-password corpora", in.Credential.BreachCount)
		},
	},
	"credential.sprayed": {
		doc:     "this password is being tried across many accounts (password spraying)",
		applies: func(in *Input) bool { return in.Credential.SprayAccounts >= 2 },
		detail: func(in *Input) string {
			return fmt.Sprintf("this password failed on %.0f accounts in the last hour", in.Credential.SprayAccounts)
		},
	},
	"credential.spraying": {
		doc:     "a password-spraying attack is in progress site-wide",
		applies: func(in *Input) bool { return in.Credential.SprayActive },
		detail:  text("password spraying in progress: common passwords are being tried across many accounts"),
	},
	"peer.credential_compromised": {
		doc:     "a peer shop's guard saw a campaign use this login with a password that was correct there (federation)",
		applies: func(in *Input) bool { return in.Peer.CredentialCompromised },
		detail:  peerDetail("a campaign used this login's correct password at"),
	},
	"peer.combo_listed": {
		doc:     "a peer shop's guard saw a campaign try this login: it is on a combo list (federation)",
		applies: func(in *Input) bool { return in.Peer.ComboListed },
		detail:  peerDetail("this login is on a combo list tried at"),
	},
	"peer.campaign_source": {
		doc:     "the client's network prefix or browser fingerprint is one a peer shop's campaign came from (federation)",
		applies: func(in *Input) bool { return in.Peer.CampaignSource },
		detail:  peerDetail("this source took part in a campaign at"),
	},
	"peer.drop_point": {
		doc:     "the order goes to an address or pickup store a peer shop's campaign ordered to (federation)",
		applies: func(in *Input) bool { return in.Peer.DropPoint },
		detail:  peerDetail("a campaign's orders went to this address or store at"),
	},
	"peer.sprayed_password": {
		doc:     "the password is one a peer shop's guard saw sprayed across many accounts (federation)",
		applies: func(in *Input) bool { return in.Peer.SprayedPassword },
		detail:  peerDetail("this password was sprayed at"),
	},
	"mfa.failed": {
		doc:     "the user failed a step-up",
		applies: func(in *Input) bool { return in.Event.Type == "mfa.failed" },
		detail:  text("step-up failed"),
	},
	"mfa.weak_factor": {
		doc:     "the step-up used a weak factor (SMS or voice code): nothing is learned and the guard's challenge stays open",
		applies: func(in *Input) bool { return in.Event.Type == "mfa.succeeded" && WeakMFAMethod(in.Event.MFAMethod) },
		detail: func(in *Input) string {
			return "step-up passed with " + in.Event.MFAMethod + ", a weak factor (phishable, SIM-swappable): ask for a strong one before risky actions"
		},
	},
	"mfa.passed": {
		doc:     "the user passed a step-up; its device and network are now familiar",
		applies: func(in *Input) bool { return in.Event.Type == "mfa.succeeded" && !WeakMFAMethod(in.Event.MFAMethod) },
		detail: func(in *Input) string {
			if in.Event.MFAMethod != "" {
				return "step-up passed with " + in.Event.MFAMethod
			}
			return "step-up passed"
		},
	},
}

// peerDetail describes a peer fact: what was seen, at how many peers.
func peerDetail(what string) func(*Input) string {
	return func(in *Input) string {
		if in.Peer.Peers == 1 {
			return what + " another shop of the federation"
		}
		return fmt.Sprintf("%s %d other shops of the federation", what, in.Peer.Peers)
	}
}

// WeakMFAMethod reports whether a step-up method is a weak factor: a code
// sent over the phone network (sms, voice), which phishing and SIM swaps
// defeat (NIST SP 800-63B calls it restricted). Passing one teaches the
// account nothing and passes no challenge of the guard.
func WeakMFAMethod(method string) bool { return method == "sms" || method == "voice" }

// ReasonCode is a documented reason code.
type ReasonCode struct {
	Code string
	Doc  string
}

// ReasonCodes lists every reason code the policy can report, sorted.
func ReasonCodes() []ReasonCode {
	out := make([]ReasonCode, 0, len(reasons))
	for c, d := range reasons {
		out = append(out, ReasonCode{c, d.doc})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}
