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
	"campaign.active": {
		doc:     "a credential-stuffing campaign is in progress site-wide",
		applies: func(in *Input) bool { return in.Campaign.Active },
		detail: func(in *Input) string {
			return fmt.Sprintf("credential-stuffing campaign %s in progress (%s above baseline)", in.Campaign.IncidentID, in.Campaign.Metric)
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
	"account.no_history": {
		doc:     "the account has no good session on record yet",
		applies: func(in *Input) bool { return !in.Account.HasHistory },
		detail:  text("no good session on record for this account"),
	},
	"account.mfa_failures": {
		doc:     "step-ups of this account failed in the last 24 hours",
		applies: func(in *Input) bool { return in.Account.MFAFailures > 0 },
		detail: func(in *Input) string {
			return fmt.Sprintf("%d failed step-ups in the last 24 hours", in.Account.MFAFailures)
		},
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
	"mfa.failed": {
		doc:     "the user failed a step-up",
		applies: func(in *Input) bool { return in.Event.Type == "mfa.failed" },
		detail:  text("step-up failed"),
	},
	"mfa.passed": {
		doc:     "the user passed a step-up; its device and network are now familiar",
		applies: func(in *Input) bool { return in.Event.Type == "mfa.succeeded" },
		detail: func(in *Input) string {
			if in.Event.MFAMethod != "" {
				return "step-up passed with " + in.Event.MFAMethod
			}
			return "step-up passed"
		},
	},
}

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
