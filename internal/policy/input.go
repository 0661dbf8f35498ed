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
	Campaign    CampaignFacts
	Bot         BotFacts
	Geo         GeoFacts // empty unless a GeoIP database is configured
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
}

// CampaignFacts describe the site-wide campaign detector.
type CampaignFacts struct {
	Active     bool
	IncidentID string
	Metric     string // what opened it
}

// BotFacts are the automation hints of the request.
type BotFacts struct {
	AutomationUA   bool
	Tool           string
	MissingHeaders bool
}
