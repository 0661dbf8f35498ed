package policy

// Input is what rules see: the facts about one event. Rule expressions
// name its fields, for example `Event.Succeeded && Campaign.Active &&
// !Account.Familiar`. Adding a field is compatible; renaming one breaks
// policies in the field.
type Input struct {
	Event       EventFacts
	IP          SourceFacts // the client IP
	Prefix      SourceFacts // its /24 (IPv4) or /64 (IPv6)
	Device      SourceFacts // the device id, when sent
	UserAgent   SourceFacts
	Fingerprint SourceFacts // the client (TLS) fingerprint, when sent
	Account     AccountFacts
	Network     NetworkFacts // the client's network as the whole shop knows it (accounts' events only)
	Campaign    CampaignFacts
	Bot         BotFacts
	Geo         GeoFacts     // empty unless a GeoIP database is configured
	Order       OrderFacts   // order.attempt only
	Session     SessionFacts // how the event's session began
	Credential  CredentialFacts
	Guard       GuardFacts // the guard's own state
	Peer        PeerFacts  // what other shops' guards reported (federation); empty when federation is off
}

// PeerFacts are what the guards of other shops (peers of the federation)
// reported about this event's login, source, password or drop point, as
// live, unpaused facts (package federation). They say what a peer saw,
// not what happened here: the built-in policy steps up or holds on them,
// never denies on them alone.
type PeerFacts struct {
	// CredentialCompromised: a peer saw a campaign use this login with a
	// password that was correct there.
	CredentialCompromised bool
	// ComboListed: a peer saw a campaign try this login (a customer there
	// or not): it is on a combo list.
	ComboListed bool
	// CampaignSource: the client's network prefix (CampaignPrefix) or its
	// user-agent or client fingerprint cluster (CampaignFingerprint) is
	// one a peer's campaign came from.
	CampaignSource      bool
	CampaignPrefix      bool
	CampaignFingerprint bool
	// DropPoint: the order's shipping address or pickup store is one a
	// peer's campaign ordered to (order.attempt only).
	DropPoint bool
	// SprayedPassword: the event's password is one a peer saw sprayed
	// across many accounts.
	SprayedPassword bool
	// Peers is how many distinct peers reported any of the above.
	Peers int
	// Confidence is the highest confidence (0 to 1) among those reports.
	Confidence float64
}

// Any reports whether any peer reported anything about the event.
func (p PeerFacts) Any() bool {
	return p.CredentialCompromised || p.ComboListed || p.CampaignSource || p.DropPoint || p.SprayedPassword
}

// GuardFacts describe the guard itself.
type GuardFacts struct {
	// Degraded: the guard answers on its own state alone (Redis or the
	// shared records out of reach) and is configured to fail closed
	// (hot.on_outage: closed). Always false when failing open.
	Degraded bool
}

// CredentialFacts describe the password the event carried
// (credential.password_sha1), when it carried one.
type CredentialFacts struct {
	Present bool // the event carried a password digest
	// Breached: the password is in the breached-password corpus (checked on
	// login.succeeded, registration and password.changed).
	Breached    bool
	BreachCount int // times seen in breaches (the built-in list's counts are rank-derived)
	// SprayAccounts is about the number of distinct accounts this password
	// failed on site-wide in the last hour (counted on login.failed, read on
	// every login; see package spray).
	SprayAccounts float64
	Sprayed       bool // SprayAccounts reached the spray detector's open_at
	SprayActive   bool // a password-spraying episode is open site-wide
}

// OrderFacts describe an order.attempt: what is ordered, where it goes,
// how it is paid, and how that compares with the account's past orders
// and with other accounts.
type OrderFacts struct {
	Present                 bool // the event is an order.attempt
	Amount                  int64
	Currency                string
	HighValue               bool // at or above the currency's high-value threshold, or a risky item
	RiskyItem               bool // an item matches the risky SKU list
	NewAddress              bool // shipping address never used in a good order of the account (or flagged new by the shop)
	Pickup                  bool // convenience-store or store pickup
	NewPickupStore          bool
	DropPointAccounts       int  // distinct accounts that used this address or pickup store recently
	Surge                   bool // an item of the order is surging across accounts
	SurgeRiskyShare         float64
	ContactChangedRecently  bool    // a contact field changed within the cool-down
	EmailChangedRecently    bool    // the email changed within the cool-down
	HoursSinceContactChange float64 // -1: no change on record
	NewPayment              bool    // payment method never used in a good order (or flagged new)
	CarrierBilling          bool
	ConvenienceStorePayment bool
	FirstOrder              bool // no good order on record
}

// SessionFacts carry the login of the event's session into later events.
type SessionFacts struct {
	Known         bool // a login for this session was seen
	LoginDecision string
	LoginRisk     int
	Unfamiliar    bool // the login came from a device and network the account never used
	// Stranger: besides, the account had history and no account of the
	// shop was known on the login's network.
	Stranger          bool
	Challenged        bool
	ChallengePassed   bool
	WeakFactor        bool // the step-up passed was SMS only
	MinutesSinceLogin float64
}

// GeoFacts place the client IP, when GeoIP databases are configured.
type GeoFacts struct {
	Country string // ISO 3166-1 alpha-2, e.g. "JP"
	ASN     int
	ASOrg   string
}

// EventFacts describe the event itself.
type EventFacts struct {
	Type           string
	IsLogin        bool // login.attempt, login.succeeded or login.failed
	Attempt        bool
	Succeeded      bool
	Failed         bool
	UnknownAccount bool // failed for an account that does not exist
	HasDevice      bool // a device id was sent
	MFAMethod      string
}

// SourceFacts are one source's decayed counts (see package window): about
// the number of events in the last minute, ten minutes or hour.
type SourceFacts struct {
	Attempts1m       float64
	Attempts10m      float64
	Attempts1h       float64
	Failures10m      float64
	Failures1h       float64
	Unknown1h        float64
	Successes1h      float64
	DistinctLogins1h float64
	FailureRatio     float64 // failures / attempts over the hour
	UnknownRatio     float64 // unknown-account failures / attempts over the hour
}

// AccountFacts say how familiar the event's context is to the account.
type AccountFacts struct {
	Known        bool // the event names an existing account (a user id)
	HasHistory   bool // the account has good sessions on record
	Logins       int
	DeviceKnown  bool
	NetworkKnown bool
	AgentKnown   bool
	CountryKnown bool
	ASNKnown     bool
	Familiar     bool // DeviceKnown or NetworkKnown
	MFAFailures  int  // failed step-ups in the last 24 hours
	// ChallengesAbandoned: of MFAFailures, the challenges that expired
	// unanswered (swept by the guard).
	ChallengesAbandoned int
	// Graded familiarity: beyond the device and the network, the browser
	// family, the language and the hours, weighed per account.
	LanguageKnown    bool // the browser's language preference was seen in a good session
	NewBrowserFamily bool // the browser family (e.g. Chrome/Windows) was never seen; the account has some on record
	NewLanguage      bool // the language preference was never seen; the account has some on record
	UnusualHour      bool // enough logins on record, none at this hour of the day or next to it
	// Strangeness is 0 (everything matches) to 100 (nothing does, on an
	// account that never varies; or no history): each part of the context
	// weighed, a new one counting less on an account that often shows new
	// ones.
	Strangeness int
	// ContextMismatch: the account has history and nothing the login
	// carries matches it (device, network, browser family, language and,
	// with GeoIP, country and network operator).
	ContextMismatch bool
	// DaysSinceLogin is the time since the account's last good session,
	// in days; 0 without history. A dormant account woken by a stranger
	// is a combo list's mark.
	DaysSinceLogin float64
}

// NetworkFacts describe the client's network (IPv4 /24, IPv6 /64) as the
// whole shop knows it.
type NetworkFacts struct {
	// SeenInShop: the network was seen in a good session of some account
	// in the last 30 to 60 days.
	SeenInShop bool
	// RangeSeenInShop: the network's address block (IPv4 /8, IPv6 /12:
	// what IANA allocates to a regional internet registry, roughly a part
	// of the world) was; a block no owner of the shop used is a region its
	// customers are not in (a proxy or hosting network abroad), as GeoIP
	// would tell without a database.
	RangeSeenInShop bool
}

// CampaignFacts describe the site-wide campaign detector.
type CampaignFacts struct {
	Active     bool
	IncidentID string
	Metric     string // what opened it
	// Strangers: while the campaign is open, the correct passwords from
	// strangers (a device and a network the account never used, on a
	// network no account of the shop is known on) run above what the
	// owners bring: the campaign gets in with correct passwords.
	Strangers bool
	// FirstLogins: while the campaign is open, first logins (accounts
	// with no good session on record) from networks no account of the
	// shop is known on ran over the last hour well beyond the owners'
	// share of them: the campaign gets into accounts with no history.
	FirstLogins bool
}

// BotFacts are the automation hints of the request.
type BotFacts struct {
	AutomationUA   bool
	Tool           string
	MissingHeaders bool
}
