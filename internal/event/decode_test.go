package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// apiExample is the event of docs/api.md, "POST /v1/events".
const apiExample = `{
  "type": "login.succeeded",
  "occurred_at": "2026-11-25T10:00:00Z",
  "request_id": "shop-req-8d1f",
  "login": "Taro.Yamada@Example.jp",
  "user": {"id": "u-1042", "email": "taro.yamada@example.jp"},
  "session_id": "s-77aa",
  "context": {
    "ip": "203.0.113.7",
    "user_agent": "Mozilla/5.0 ...",
    "accept_language": "ja-JP,ja;q=0.9",
    "device_id": "d-5f0c9e",
    "client_fingerprint": "t13d1516h2_8daaf6152771_b186095e22b6",
    "headers": {"sec-ch-ua": "..."}
  },
  "credential": {"password_sha1": "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"},
  "properties": {}
}`

// apiOrder is properties.order of docs/api.md.
const apiOrder = `{"id": "o-991", "amount": 131800, "currency": "JPY",
 "items": [{"sku": "iphone-x-256-silver", "quantity": 1, "unit_price": 131800}],
 "shipping": {"name": "山田 太郎", "postal_code": "100-0001", "country": "JP",
              "region": "東京都", "city": "千代田区", "line1": "千代田1-1",
              "new_for_user": true},
 "payment": {"method": "carrier_billing", "new_for_user": false},
 "delivery": {"method": "home", "pickup_store": null}}`

// sha1Password is SHA-1("password"), the hash of docs/api.md.
var sha1Password = [20]byte{
	0x5b, 0xaa, 0x61, 0xe4, 0xc9, 0xb9, 0x3f, 0x3f, 0x06, 0x82,
	0x25, 0x0b, 0x6c, 0xf8, 0x33, 0x1b, 0x7e, 0xe6, 0x8f, 0xd8,
}

var (
	at    = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	ip    = netip.MustParseAddr("203.0.113.7")
	ctxIP = Context{IP: ip}
)

// ev returns a login.attempt event with extra top-level members (each
// starting with a comma).
func ev(extra string) string {
	return `{"type":"login.attempt","occurred_at":"2026-11-25T10:00:00Z","login":"taro","context":{"ip":"203.0.113.7"}` + extra + `}`
}

// typed returns an event of type t with the given members after the type
// and time.
func typed(t, members string) string {
	return `{"type":"` + t + `","occurred_at":"2026-11-25T10:00:00Z",` + members + `}`
}

// ctx returns a login.attempt event with extra context members.
func ctx(extra string) string {
	return `{"type":"login.attempt","occurred_at":"2026-11-25T10:00:00Z","login":"taro","context":{"ip":"203.0.113.7"` + extra + `}}`
}

// order returns an order.attempt event with the given properties.order.
func order(o string) string {
	return typed("order.attempt", `"user":{"id":"u-1"},"context":{"ip":"203.0.113.7"},"properties":{"order":`+o+`}`)
}

// item returns an order.attempt event with one item.
func item(it string) string {
	return order(`{"id":"o-1","amount":100,"currency":"JPY","items":[` + it + `]}`)
}

var cmpOpts = cmp.Options{cmp.Comparer(func(a, b netip.Addr) bool { return a == b })}

var validTests = []struct {
	name string
	in   string
	want Event
}{
	{
		name: "docs/api.md example (login.succeeded)",
		in:   apiExample,
		want: Event{
			Type:       LoginSucceeded,
			OccurredAt: at,
			RequestID:  "shop-req-8d1f",
			Login:      "taro.yamada@example.jp",
			User:       User{ID: "u-1042", Email: "taro.yamada@example.jp"},
			SessionID:  "s-77aa",
			Context: Context{
				IP:                ip,
				UserAgent:         "Mozilla/5.0 ...",
				AcceptLanguage:    "ja-JP,ja;q=0.9",
				DeviceID:          "d-5f0c9e",
				ClientFingerprint: "t13d1516h2_8daaf6152771_b186095e22b6",
				Headers:           map[string]string{"sec-ch-ua": "..."},
			},
			Credential: Credential{PasswordSHA1: sha1Password, HasPassword: true},
		},
	},
	{
		name: "login.attempt",
		in:   typed("login.attempt", `"login":"taro@example.jp","context":{"ip":"203.0.113.7"}`),
		want: Event{Type: LoginAttempt, OccurredAt: at, Login: "taro@example.jp", Context: ctxIP},
	},
	{
		name: "login.failed for an unknown account",
		in: typed("login.failed", `"login":"nobody@example.jp","context":{"ip":"203.0.113.7"},
			"credential":{"password_sha1":"5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8"},
			"properties":{"reason":"unknown_account"}`),
		want: Event{
			Type: LoginFailed, OccurredAt: at, Login: "nobody@example.jp", Context: ctxIP,
			Credential: Credential{PasswordSHA1: sha1Password, HasPassword: true},
			Properties: Properties{Reason: ReasonUnknownAccount},
		},
	},
	{
		name: "login.failed with a bad password",
		in:   typed("login.failed", `"login":"taro","user":{"id":"u-1"},"context":{"ip":"203.0.113.7"},"properties":{"reason":"bad_password"}`),
		want: Event{
			Type: LoginFailed, OccurredAt: at, Login: "taro", User: User{ID: "u-1"}, Context: ctxIP,
			Properties: Properties{Reason: ReasonBadPassword},
		},
	},
	{
		name: "registration",
		in: typed("registration", `"user":{"id":"u-2","email":"Hanako@Example.JP"},"context":{"ip":"2001:db8::1"},
			"credential":{"password_sha1":"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"}`),
		want: Event{
			Type: Registration, OccurredAt: at, User: User{ID: "u-2", Email: "hanako@example.jp"},
			Context:    Context{IP: netip.MustParseAddr("2001:db8::1")},
			Credential: Credential{PasswordSHA1: sha1Password, HasPassword: true},
		},
	},
	{
		name: "password.changed",
		in:   typed("password.changed", `"user":{"id":"u-1"},"session_id":"s-1","context":{"ip":"203.0.113.7"}`),
		want: Event{Type: PasswordChanged, OccurredAt: at, User: User{ID: "u-1"}, SessionID: "s-1", Context: ctxIP},
	},
	{
		name: "password.reset_requested",
		in:   typed("password.reset_requested", `"user":{"id":"u-1"},"context":{"ip":"203.0.113.7"}`),
		want: Event{Type: PasswordResetRequested, OccurredAt: at, User: User{ID: "u-1"}, Context: ctxIP},
	},
	{
		name: "profile.updated",
		in:   typed("profile.updated", `"user":{"id":"u-1"},"context":{"ip":"203.0.113.7"},"properties":{"fields":["email","phone"]}`),
		want: Event{
			Type: ProfileUpdated, OccurredAt: at, User: User{ID: "u-1"}, Context: ctxIP,
			Properties: Properties{Fields: []string{"email", "phone"}},
		},
	},
	{
		name: "order.attempt with the order of docs/api.md",
		in:   typed("order.attempt", `"user":{"id":"u-1042"},"session_id":"s-77aa","context":{"ip":"203.0.113.7"},"properties":{"order":`+apiOrder+`}`),
		want: Event{
			Type: OrderAttempt, OccurredAt: at, User: User{ID: "u-1042"}, SessionID: "s-77aa", Context: ctxIP,
			Properties: Properties{Order: &Order{
				ID: "o-991", Amount: 131800, Currency: "JPY",
				Items: []Item{{SKU: "iphone-x-256-silver", Quantity: 1, UnitPrice: 131800}},
				Shipping: Shipping{
					Name: "山田 太郎", PostalCode: "100-0001", Country: "JP", Region: "東京都",
					City: "千代田区", Line1: "千代田1-1", NewForUser: true,
				},
				Payment:  Payment{Method: "carrier_billing"},
				Delivery: Delivery{Method: "home"},
			}},
		},
	},
	{
		name: "mfa.succeeded",
		in:   typed("mfa.succeeded", `"user":{"id":"u-1"},"context":{"ip":"203.0.113.7"},"properties":{"challenge_id":"ch_01JD","method":"totp"}`),
		want: Event{
			Type: MFASucceeded, OccurredAt: at, User: User{ID: "u-1"}, Context: ctxIP,
			Properties: Properties{ChallengeID: "ch_01JD", Method: "totp"},
		},
	},
	{
		name: "mfa.failed",
		in:   typed("mfa.failed", `"user":{"id":"u-1"},"context":{"ip":"203.0.113.7"},"properties":{"method":"webauthn"}`),
		want: Event{
			Type: MFAFailed, OccurredAt: at, User: User{ID: "u-1"}, Context: ctxIP,
			Properties: Properties{Method: "webauthn"},
		},
	},

	// Normalization.
	{
		name: "login and email normalized",
		in:   typed("login.succeeded", `"login":" ＴＡＲＯ@Example.JP\u200b","user":{"id":"u-1","email":"STRAßE@Example.de "},"context":{"ip":"203.0.113.7"}`),
		want: Event{
			Type: LoginSucceeded, OccurredAt: at, Login: "taro@example.jp",
			User: User{ID: "u-1", Email: "strasse@example.de"}, Context: ctxIP,
		},
	},
	{
		name: "ids are not normalized",
		in:   typed("login.succeeded", `"login":"taro","user":{"id":" U-1 "},"session_id":"S-1","context":{"ip":"203.0.113.7"}`),
		want: Event{Type: LoginSucceeded, OccurredAt: at, Login: "taro", User: User{ID: " U-1 "}, SessionID: "S-1", Context: ctxIP},
	},
	{
		name: "header names lower-cased and trimmed",
		in:   ctx(`,"headers":{" Sec-CH-UA ":"\"Chromium\";v=\"130\"","X-Forwarded-For":"198.51.100.1"}`),
		want: Event{Type: LoginAttempt, OccurredAt: at, Login: "taro", Context: Context{IP: ip, Headers: map[string]string{
			"sec-ch-ua": `"Chromium";v="130"`, "x-forwarded-for": "198.51.100.1",
		}}},
	},
	{
		name: "empty headers are nil",
		in:   ctx(`,"headers":{}`),
		want: Event{Type: LoginAttempt, OccurredAt: at, Login: "taro", Context: ctxIP},
	},
	{
		name: "IPv4-mapped IPv6 unmapped",
		in:   `{"type":"login.attempt","occurred_at":"2026-11-25T10:00:00Z","login":"taro","context":{"ip":"::ffff:203.0.113.7"}}`,
		want: Event{Type: LoginAttempt, OccurredAt: at, Login: "taro", Context: ctxIP},
	},
	{
		name: "IPv6 in canonical form",
		in:   `{"type":"login.attempt","occurred_at":"2026-11-25T10:00:00Z","login":"taro","context":{"ip":"2001:DB8:0::1"}}`,
		want: Event{Type: LoginAttempt, OccurredAt: at, Login: "taro", Context: Context{IP: netip.MustParseAddr("2001:db8::1")}},
	},
	{
		name: "time with an offset and fraction stored as UTC",
		in:   `{"type":"login.attempt","occurred_at":"2026-11-25T19:00:00.123456789+09:00","login":"taro","context":{"ip":"203.0.113.7"}}`,
		want: Event{Type: LoginAttempt, OccurredAt: at.Add(123456789 * time.Nanosecond), Login: "taro", Context: ctxIP},
	},
	{
		name: "earliest and latest years",
		in:   `{"type":"login.attempt","occurred_at":"2000-01-01T00:00:00Z","login":"taro","context":{"ip":"203.0.113.7"}}`,
		want: Event{Type: LoginAttempt, OccurredAt: time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), Login: "taro", Context: ctxIP},
	},
	{
		name: "null means absent",
		in: `{"type":"login.attempt","occurred_at":"2026-11-25T10:00:00Z","login":"taro","request_id":null,"user":null,
			"context":{"ip":"203.0.113.7","headers":null,"user_agent":null},"credential":{"password_sha1":null},"properties":null}`,
		want: Event{Type: LoginAttempt, OccurredAt: at, Login: "taro", Context: ctxIP},
	},
	{
		name: "free properties ignored, known ones kept",
		in:   ev(`,"properties":{"campaign":{"x":[1,{"y":null}]},"Cart-Size":3,"method":"password"}`),
		want: Event{Type: LoginAttempt, OccurredAt: at, Login: "taro", Context: ctxIP, Properties: Properties{Method: "password"}},
	},
	{
		name: "reason of another type is free text",
		in:   typed("password.reset_requested", `"user":{"id":"u-1"},"context":{"ip":"203.0.113.7"},"properties":{"reason":"forgot"}`),
		want: Event{Type: PasswordResetRequested, OccurredAt: at, User: User{ID: "u-1"}, Context: ctxIP, Properties: Properties{Reason: "forgot"}},
	},
	{
		name: "escaped keys and values",
		in:   `{"\u0074ype":"login.attempt","occurred_at":"2026-11-25T10:00:00Z","login":"t\u0061ro\/x","context":{"ip":"203.0.113.7"}}`,
		want: Event{Type: LoginAttempt, OccurredAt: at, Login: "taro/x", Context: ctxIP},
	},
	{
		name: "minimal order, zero amount",
		in:   item(`{"sku":"gift","quantity":2,"unit_price":0}`),
		want: Event{
			Type: OrderAttempt, OccurredAt: at, User: User{ID: "u-1"}, Context: ctxIP,
			Properties: Properties{Order: &Order{ID: "o-1", Amount: 100, Currency: "JPY", Items: []Item{{SKU: "gift", Quantity: 2}}}},
		},
	},
	{
		name: "limits are inclusive",
		in:   ev(`,"request_id":"` + strings.Repeat("r", 256) + `"`),
		want: Event{Type: LoginAttempt, OccurredAt: at, Login: "taro", RequestID: strings.Repeat("r", 256), Context: ctxIP},
	},
}

func TestDecodeValid(t *testing.T) {
	for _, tt := range validTests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Decode([]byte(tt.in))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if diff := cmp.Diff(tt.want, got, cmpOpts); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
			if got.OccurredAt.Location() != time.UTC {
				t.Errorf("OccurredAt in %v, want UTC", got.OccurredAt.Location())
			}
			checkRoundTrip(t, got)
		})
	}
}

func TestDecodeEveryType(t *testing.T) {
	covered := map[Type]bool{}
	for _, tt := range validTests {
		covered[tt.want.Type] = true
	}
	for _, typ := range Types {
		if !covered[typ] {
			t.Errorf("no valid example of %s", typ)
		}
	}
}

var errorTests = []struct {
	name   string
	in     string
	field  string
	detail string // a substring of the detail
}{
	// The body as a whole.
	{"empty body", ``, "", "body is empty"},
	{"white space only", " \n", "", "body is empty"},
	{"truncated", `{"type":`, "", "body is not valid JSON: unexpected end of input"},
	{"syntax", `{"type": x}`, "", "body is not valid JSON: unexpected character at byte 10 (looking for beginning of value)"},
	{"syntax in string", "{\"type\": \"a\u0001\"}", "", "body is not valid JSON: unexpected character"},
	{"not UTF-8", "{\"type\": \"\xff\"}", "", "body is not valid UTF-8"},
	{"trailing object", ev(``) + ` {}`, "", "body has data after the JSON value"},
	{"trailing garbage", ev(``) + `x`, "", "body has data after the JSON value"},
	{"array", `[]`, "", "body must be a JSON object"},
	{"null", `null`, "", "body must be a JSON object"},
	{"string", `"login.attempt"`, "", "body must be a JSON object"},

	// Unknown fields, letter case, duplicates.
	{"unknown top-level field", ev(`,"colour":"red"`), "colour", "colour is not a known field"},
	{"unknown field in user", ev(`,"user":{"id":"u","name":"x"}`), "user.name", "user.name is not a known field"},
	{"unknown field in context", ctx(`,"asn":64496`), "context.asn", "is not a known field"},
	{"unknown field in credential", ev(`,"credential":{"password_md5":"x"}`), "credential.password_md5", "is not a known field"},
	{"unknown field in order", order(`{"id":"o","amount":1,"currency":"JPY","coupon":"x","items":[]}`), "properties.order.coupon", "is not a known field"},
	{"unknown field in item", item(`{"sku":"a","quantity":1,"unit_price":1,"colour":"red"}`), "properties.order.items[0].colour", "is not a known field"},
	{"unknown field in shipping", order(`{"id":"o","shipping":{"street":"x"}}`), "properties.order.shipping.street", "is not a known field"},
	{"unknown field with odd name", ev(`,"a.b c\n":1`), `"a.b c\n"`, "is not a known field"},
	{"key differs in case", `{"Type":"login.attempt"}`, "Type", "Type is not a known field (field names are case-sensitive: type)"},
	{"property key differs in case", ev(`,"properties":{"Reason":"x"}`), "properties.Reason", "case-sensitive: reason"},
	{"duplicate key", ev(`,"login":"hanako"`), "login", "login appears twice"},
	{"duplicate key, escaped", ev(`,"l\u006fgin":"hanako"`), "login", "login appears twice"},
	{"duplicate property", ev(`,"properties":{"method":"a","method":"b"}`), "properties.method", "appears twice"},
	{"duplicate header", ctx(`,"headers":{"x-a":"1","x-a":"2"}`), "context.headers.x-a", "appears twice"},

	// Wrong JSON types.
	{"type is a number", `{"type":5}`, "type", "type must be a string"},
	{"login is an object", ev(`,"request_id":{}`), "request_id", "request_id must be a string"},
	{"ip is a number", `{"context":{"ip":203}}`, "context.ip", "context.ip must be a string"},
	{"user is a string", ev(`,"user":"u-1"`), "user", "user must be an object"},
	{"context is an array", `{"context":[]}`, "context", "context must be an object"},
	{"header value is a number", ctx(`,"headers":{"x-a":1}`), "context.headers.x-a", "must be a string"},
	{"headers is an array", ctx(`,"headers":["a"]`), "context.headers", "must be an object"},
	{"hash is a number", ev(`,"credential":{"password_sha1":1234567890}`), "credential.password_sha1", "must be a string"},
	{"properties is an array", ev(`,"properties":[]`), "properties", "properties must be an object"},
	{"fields is a string", ev(`,"properties":{"fields":"email"}`), "properties.fields", "must be an array"},
	{"field is a number", ev(`,"properties":{"fields":["email",1]}`), "properties.fields[1]", "properties.fields[1] must be a string"},
	{"quantity is a string", item(`{"sku":"a","quantity":"1","unit_price":1}`), "properties.order.items[0].quantity", "must be an integer"},
	{"quantity is a fraction", item(`{"sku":"a","quantity":1.5,"unit_price":1}`), "properties.order.items[0].quantity", "must be an integer"},
	{"amount has an exponent", order(`{"amount":1e3}`), "properties.order.amount", "must be an integer"},
	{"amount overflows", order(`{"amount":9223372036854775808}`), "properties.order.amount", "is out of range"},
	{"price underflows", item(`{"unit_price":-9223372036854775809}`), "properties.order.items[0].unit_price", "is out of range"},
	{"new_for_user is a string", order(`{"shipping":{"new_for_user":"yes"}}`), "properties.order.shipping.new_for_user", "must be true or false"},
	{"items is an object", order(`{"items":{}}`), "properties.order.items", "must be an array"},
	{"item is a string", order(`{"items":[{},"x"]}`), "properties.order.items[1]", "must be an object"},

	// Passwords.
	{"password at top level", ev(`,"password":"hunter2"`), "password", "password must not be sent: send password_sha1, never the password"},
	{"password in credential", ev(`,"credential":{"password":"hunter2"}`), "credential.password", "send password_sha1, never the password"},
	{"password in other case", ev(`,"credential":{"Password":"hunter2"}`), "credential.Password", "send password_sha1"},
	{"password escaped", ev(`,"p\u0061ssword":"hunter2"`), "password", "send password_sha1"},
	{"password in properties", ev(`,"properties":{"extra":{"password":"hunter2"}}`), "properties.extra.password", "send password_sha1"},
	{"password before anything else", `{"password":"hunter2","type":1}`, "password", "send password_sha1"},

	// type.
	{"type missing", `{"occurred_at":"2026-11-25T10:00:00Z"}`, "type", "type is required"},
	{"type unknown", `{"type":"login.maybe"}`, "type", "type must be one of login.attempt, login.succeeded, login.failed, registration, password.changed, password.reset_requested, profile.updated, order.attempt, mfa.succeeded, mfa.failed"},
	{"type in other case", `{"type":"LOGIN.ATTEMPT"}`, "type", "type must be one of"},

	// occurred_at.
	{"time missing", `{"type":"login.attempt"}`, "occurred_at", "occurred_at is required"},
	{"time without zone", `{"type":"login.attempt","occurred_at":"2026-11-25T10:00:00"}`, "occurred_at", "must be an RFC 3339 time with a zone"},
	{"date only", `{"type":"login.attempt","occurred_at":"2026-11-25"}`, "occurred_at", "must be an RFC 3339 time"},
	{"comma before the fraction", `{"type":"login.attempt","occurred_at":"2026-11-25T10:00:00,5Z"}`, "occurred_at", "must be an RFC 3339 time"},
	{"offset of 24 hours", `{"type":"login.attempt","occurred_at":"2026-11-25T10:00:00+24:00"}`, "occurred_at", "must be an RFC 3339 time"},
	{"space before the zone", `{"type":"login.attempt","occurred_at":"2026-11-25T10:00:00 +09:00"}`, "occurred_at", "must be an RFC 3339 time"},
	{"unix time", `{"type":"login.attempt","occurred_at":"1764064800"}`, "occurred_at", "must be an RFC 3339 time"},
	{"time is a number", `{"type":"login.attempt","occurred_at":1764064800}`, "occurred_at", "occurred_at must be a string"},
	{"year 1999", `{"type":"login.attempt","occurred_at":"1999-12-31T23:59:59Z"}`, "occurred_at", "between the years 2000 and 2261"},
	{"year 1999 in UTC", `{"type":"login.attempt","occurred_at":"2000-01-01T00:30:00+01:00"}`, "occurred_at", "between the years 2000 and 2261"},
	{"year 3000", `{"type":"login.attempt","occurred_at":"3000-01-01T00:00:00Z"}`, "occurred_at", "between the years 2000 and 2261"},
	// The stores hold times as int64 nanoseconds: up to 2262-04-11.
	{"year 2999", `{"type":"login.attempt","occurred_at":"2999-12-31T23:59:59Z"}`, "occurred_at", "between the years 2000 and 2261"},
	{"past int64 nanoseconds", `{"type":"login.attempt","occurred_at":"2262-04-12T00:00:00Z"}`, "occurred_at", "between the years 2000 and 2261"},
	{"year 2262", `{"type":"login.attempt","occurred_at":"2262-01-01T00:00:00Z"}`, "occurred_at", "between the years 2000 and 2261"},

	// context.
	{"context missing", `{"type":"login.attempt","occurred_at":"2026-11-25T10:00:00Z","login":"taro"}`, "context", "context is required"},
	{"context null", `{"type":"login.attempt","occurred_at":"2026-11-25T10:00:00Z","login":"taro","context":null}`, "context", "context is required"},
	{"ip missing", `{"type":"login.attempt","occurred_at":"2026-11-25T10:00:00Z","login":"taro","context":{}}`, "context.ip", "context.ip is required"},
	{"ip bad", `{"type":"login.attempt","occurred_at":"2026-11-25T10:00:00Z","context":{"ip":"999.1.1.1"}}`, "context.ip", "context.ip is not an IP address"},
	{"ip with port", `{"type":"login.attempt","occurred_at":"2026-11-25T10:00:00Z","context":{"ip":"203.0.113.7:443"}}`, "context.ip", "is not an IP address"},
	{"ip with space", `{"type":"login.attempt","occurred_at":"2026-11-25T10:00:00Z","context":{"ip":" 203.0.113.7"}}`, "context.ip", "is not an IP address"},
	{"ip prefix", `{"type":"login.attempt","occurred_at":"2026-11-25T10:00:00Z","context":{"ip":"203.0.113.0/24"}}`, "context.ip", "is not an IP address"},
	{"ip with zone", `{"type":"login.attempt","occurred_at":"2026-11-25T10:00:00Z","context":{"ip":"fe80::1%eth0"}}`, "context.ip", "context.ip must not have a zone"},

	// Lengths.
	{"login too long", ev(`,"login":"` + strings.Repeat("a", 321) + `"`), "", ""}, // duplicate login: see below
	{"request_id too long", ev(`,"request_id":"` + strings.Repeat("r", 257) + `"`), "request_id", "request_id must be at most 256 bytes"},
	{"email too long", ev(`,"user":{"email":"` + strings.Repeat("a", 321) + `"}`), "user.email", "must be at most 320 bytes"},
	{"user id too long", ev(`,"user":{"id":"` + strings.Repeat("u", 257) + `"}`), "user.id", "must be at most 256 bytes"},
	{"user agent too long", ctx(`,"user_agent":"` + strings.Repeat("M", 1025) + `"`), "context.user_agent", "must be at most 1024 bytes"},
	{"accept_language too long", ctx(`,"accept_language":"` + strings.Repeat("j", 257) + `"`), "context.accept_language", "must be at most 256 bytes"},
	{"header value too long", ctx(`,"headers":{"x-a":"` + strings.Repeat("v", 1025) + `"}`), "context.headers.x-a", "must be at most 1024 bytes"},
	{"too many headers", ctx(`,"headers":{` + manyHeaders(65) + `}`), "context.headers", "context.headers must have at most 64 entries"},

	// Control characters.
	{"NUL in login", typed("login.attempt", `"login":"ta\u0000ro","context":{"ip":"203.0.113.7"}`), "login", "login must not contain control characters"},
	{"newline in user agent", ctx(`,"user_agent":"Mozilla\n"`), "context.user_agent", "must not contain control characters"},
	{"C1 control in device id", ctx(`,"device_id":"d\u0085"`), "context.device_id", "must not contain control characters"},
	{"DEL in session id", ev(`,"session_id":"s\u007f"`), "session_id", "must not contain control characters"},
	{"tab in header value", ctx(`,"headers":{"x-a":"a\tb"}`), "context.headers.x-a", "must not contain control characters"},
	{"control in shipping", order(`{"id":"o","amount":1,"currency":"JPY","items":[{"sku":"a","quantity":1,"unit_price":1}],"shipping":{"line1":"a\u0007"}}`), "properties.order.shipping.line1", "must not contain control characters"},

	// Headers.
	{"header name with space", ctx(`,"headers":{"x a":"1"}`), `context.headers."x a"`, "is not a valid header name"},
	{"header name empty", ctx(`,"headers":{" ":"1"}`), `context.headers." "`, "is not a valid header name"},
	{"header name non-ASCII", ctx(`,"headers":{"ヘッダ":"1"}`), "context.headers.ヘッダ", "is not a valid header name"},
	{"header names collide", ctx(`,"headers":{"X-A":"1","x-a":"2"}`), "context.headers.x-a", "is the same header name as another entry"},

	// credential.password_sha1.
	{"hash too short", ev(`,"credential":{"password_sha1":"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD"}`), "credential.password_sha1", "credential.password_sha1 must be 40 hexadecimal characters"},
	{"hash too long", ev(`,"credential":{"password_sha1":"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD80"}`), "credential.password_sha1", "must be 40 hexadecimal characters"},
	{"hash not hex", ev(`,"credential":{"password_sha1":"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FDG"}`), "credential.password_sha1", "must be 40 hexadecimal characters"},
	{"hash empty", ev(`,"credential":{"password_sha1":""}`), "credential.password_sha1", "must be 40 hexadecimal characters"},
	{"hash is a password", ev(`,"credential":{"password_sha1":"hunter2"}`), "credential.password_sha1", "must be 40 hexadecimal characters"},

	// Required fields per type.
	{"login.attempt without login", typed("login.attempt", `"context":{"ip":"203.0.113.7"}`), "login", "login is required for login.attempt events"},
	{"login only white space", typed("login.attempt", `"login":" \u3000 ","context":{"ip":"203.0.113.7"}`), "login", "login is required for login.attempt events"},
	{"login.succeeded without user id", typed("login.succeeded", `"login":"taro","context":{"ip":"203.0.113.7"}`), "user.id", "user.id is required for login.succeeded events"},
	{"login.succeeded without login", typed("login.succeeded", `"user":{"id":"u-1"},"context":{"ip":"203.0.113.7"}`), "login", "login is required for login.succeeded events"},
	{"login.failed without login", typed("login.failed", `"user":{"id":"u-1"},"context":{"ip":"203.0.113.7"}`), "login", "login is required for login.failed events"},
	{"login.failed bad reason", typed("login.failed", `"login":"taro","context":{"ip":"203.0.113.7"},"properties":{"reason":"typo"}`), "properties.reason", "properties.reason must be one of bad_password, unknown_account, locked"},
	{"registration without user", typed("registration", `"context":{"ip":"203.0.113.7"}`), "user.id", "user.id is required for registration events"},
	{"password.changed without user", typed("password.changed", `"user":{"email":"a@b"},"context":{"ip":"203.0.113.7"}`), "user.id", "is required for password.changed events"},
	{"password.reset_requested without user", typed("password.reset_requested", `"login":"taro","context":{"ip":"203.0.113.7"}`), "user.id", "is required for password.reset_requested events"},
	{"profile.updated without fields", typed("profile.updated", `"user":{"id":"u-1"},"context":{"ip":"203.0.113.7"}`), "properties.fields", "properties.fields is required for profile.updated events"},
	{"profile.updated empty fields", typed("profile.updated", `"user":{"id":"u-1"},"context":{"ip":"203.0.113.7"},"properties":{"fields":[]}`), "properties.fields", "is required for profile.updated events"},
	{"profile.updated without user", typed("profile.updated", `"context":{"ip":"203.0.113.7"},"properties":{"fields":["email"]}`), "user.id", "is required for profile.updated events"},
	{"profile.updated unknown field", typed("profile.updated", `"user":{"id":"u-1"},"context":{"ip":"203.0.113.7"},"properties":{"fields":["email","age"]}`), "properties.fields[1]", "properties.fields[1] must be one of email, phone, shipping_address, notification_settings, payment_method"},
	{"profile.updated repeated field", typed("profile.updated", `"user":{"id":"u-1"},"context":{"ip":"203.0.113.7"},"properties":{"fields":["email","email"]}`), "properties.fields[1]", "repeats email"},
	{"order.attempt without order", typed("order.attempt", `"user":{"id":"u-1"},"context":{"ip":"203.0.113.7"}`), "properties.order", "properties.order is required for order.attempt events"},
	{"order.attempt without user", typed("order.attempt", `"context":{"ip":"203.0.113.7"},"properties":{"order":`+apiOrder+`}`), "user.id", "is required for order.attempt events"},
	{"mfa.succeeded without user", typed("mfa.succeeded", `"context":{"ip":"203.0.113.7"}`), "user.id", "is required for mfa.succeeded events"},
	{"mfa.failed without user", typed("mfa.failed", `"context":{"ip":"203.0.113.7"}`), "user.id", "is required for mfa.failed events"},

	// properties.order.
	{"order id missing", order(`{"amount":1,"currency":"JPY","items":[{"sku":"a","quantity":1,"unit_price":1}]}`), "properties.order.id", "properties.order.id is required"},
	{"order amount missing", order(`{"id":"o","currency":"JPY","items":[{"sku":"a","quantity":1,"unit_price":1}]}`), "properties.order.amount", "is required"},
	{"order amount negative", order(`{"id":"o","amount":-1,"currency":"JPY","items":[{"sku":"a","quantity":1,"unit_price":1}]}`), "properties.order.amount", "must not be negative"},
	{"currency lower case", order(`{"id":"o","amount":1,"currency":"jpy","items":[{"sku":"a","quantity":1,"unit_price":1}]}`), "properties.order.currency", "must be three upper-case letters"},
	{"currency too long", order(`{"id":"o","amount":1,"currency":"JPYX","items":[{"sku":"a","quantity":1,"unit_price":1}]}`), "properties.order.currency", "must be three upper-case letters"},
	{"currency missing", order(`{"id":"o","amount":1,"items":[{"sku":"a","quantity":1,"unit_price":1}]}`), "properties.order.currency", "must be three upper-case letters"},
	{"items missing", order(`{"id":"o","amount":1,"currency":"JPY"}`), "properties.order.items", "must not be empty"},
	{"items empty", order(`{"id":"o","amount":1,"currency":"JPY","items":[]}`), "properties.order.items", "must not be empty"},
	{"sku missing", item(`{"quantity":1,"unit_price":1}`), "properties.order.items[0].sku", "properties.order.items[0].sku is required"},
	{"quantity zero", item(`{"sku":"a","quantity":0,"unit_price":1}`), "properties.order.items[0].quantity", "properties.order.items[0].quantity must be at least 1"},
	{"quantity missing", item(`{"sku":"a","unit_price":1}`), "properties.order.items[0].quantity", "must be at least 1"},
	{"unit_price missing", item(`{"sku":"a","quantity":1}`), "properties.order.items[0].unit_price", "is required"},
	{"unit_price negative", item(`{"sku":"a","quantity":1,"unit_price":-5}`), "properties.order.items[0].unit_price", "must not be negative"},
	{"second item bad", item(`{"sku":"a","quantity":1,"unit_price":1},{"sku":"b","quantity":-1,"unit_price":1}`), "properties.order.items[1].quantity", "must be at least 1"},
	{"item null", item(`null`), "properties.order.items[0].sku", "is required"},
	{"order on another type is validated", ev(`,"properties":{"order":{"id":"o"}}`), "properties.order.amount", "is required"},
}

func init() {
	// A login of 321 ASCII letters: the limit is on the normalized value.
	for i := range errorTests {
		if errorTests[i].name == "login too long" {
			errorTests[i].in = typed("login.attempt", `"login":"`+strings.Repeat("A", 321)+`","context":{"ip":"203.0.113.7"}`)
			errorTests[i].field = "login"
			errorTests[i].detail = "login must be at most 320 bytes"
		}
	}
}

func manyHeaders(n int) string {
	h := make([]string, n)
	for i := range h {
		h[i] = fmt.Sprintf(`"x-h%d":"v"`, i)
	}
	return strings.Join(h, ",")
}

// secrets must never appear in an error detail.
var secrets = []string{"hunter2", "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD", "5baa61e4"}

func TestDecodeErrors(t *testing.T) {
	for _, tt := range errorTests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Decode([]byte(tt.in))
			checkFieldError(t, err, tt.field, tt.detail)
		})
	}
}

func checkFieldError(t *testing.T, err error, field, detail string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want field %q, detail %q", field, detail)
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %T %v, want *FieldError", err, err)
	}
	if fe.Field != field || !strings.Contains(fe.Detail, detail) {
		t.Errorf("got field %q, detail %q\nwant field %q, detail containing %q", fe.Field, fe.Detail, field, detail)
	}
	if fe.Error() != fe.Detail {
		t.Errorf("Error() = %q, want the detail %q", fe.Error(), fe.Detail)
	}
	checkDetail(t, fe)
}

// checkDetail checks what every FieldError promises.
func checkDetail(t *testing.T, fe *FieldError) {
	t.Helper()
	if fe.Field != "" && !strings.HasPrefix(fe.Detail, fe.Field+" ") {
		t.Errorf("detail %q does not start with the field %q", fe.Detail, fe.Field)
	}
	for _, s := range secrets {
		if strings.Contains(strings.ToLower(fe.Detail), strings.ToLower(s)) {
			t.Errorf("detail %q repeats a secret", fe.Detail)
		}
	}
}

func TestDecodeBatch(t *testing.T) {
	one := typed("login.attempt", `"login":"Taro","context":{"ip":"203.0.113.7"}`)
	two := typed("login.failed", `"login":"hanako","context":{"ip":"198.51.100.1"},"properties":{"reason":"bad_password"}`)
	got, err := DecodeBatch([]byte(`{"events":[`+one+`,`+two+`]}`), 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []Event{
		{Type: LoginAttempt, OccurredAt: at, Login: "taro", Context: ctxIP},
		{
			Type: LoginFailed, OccurredAt: at, Login: "hanako",
			Context: Context{IP: netip.MustParseAddr("198.51.100.1")}, Properties: Properties{Reason: ReasonBadPassword},
		},
	}
	if diff := cmp.Diff(want, got, cmpOpts); diff != "" {
		t.Errorf("DecodeBatch (-want +got):\n%s", diff)
	}

	// max <= 0 means MaxBatch.
	if _, err := DecodeBatch([]byte(`{"events":[`+one+`]}`), 0); err != nil {
		t.Errorf("max 0: %v", err)
	}
}

func TestDecodeBatchErrors(t *testing.T) {
	good := ev(``)
	bad := `{"type":"login.attempt","occurred_at":"2026-11-25T10:00:00Z","login":"taro","context":{"ip":"1.2.3"}}`
	tests := []struct {
		name   string
		in     string
		max    int
		field  string
		detail string
	}{
		{"syntax", `{"events":[`, 10, "", "body is not valid JSON"},
		{"trailing data", `{"events":[` + good + `]}]`, 10, "", "body has data after the JSON value"},
		{"not an object", `[` + good + `]`, 10, "", "body must be a JSON object"},
		{"events missing", `{}`, 10, "events", "events is required"},
		{"events null", `{"events":null}`, 10, "events", "events is required"},
		{"events empty", `{"events":[]}`, 10, "events", "events must not be empty"},
		{"events not an array", `{"events":{}}`, 10, "events", "events must be an array"},
		{"too many", `{"events":[` + good + `,` + good + `,` + good + `]}`, 2, "events", "events must have at most 2 events, not 3"},
		{"unknown top-level key", `{"events":[` + good + `],"x":1}`, 10, "x", "x is not a known field"},
		{"key in other case", `{"Events":[` + good + `]}`, 10, "Events", "case-sensitive: events"},
		{"password at top level", `{"password":"hunter2","events":[` + good + `]}`, 10, "password", "send password_sha1"},
		{"bad ip in second event", `{"events":[` + good + `,` + bad + `]}`, 10, "events[1].context.ip", "events[1].context.ip is not an IP address"},
		{"type missing in first", `{"events":[{}]}`, 10, "events[0].type", "events[0].type is required"},
		{"wrong type with index", `{"events":[` + good + `,{"context":{"ip":1}}]}`, 10, "events[1].context.ip", "events[1].context.ip must be a string"},
		{"unknown field with index", `{"events":[` + good + `,` + good + `,` + ev(`,"x":1`) + `]}`, 10, "events[2].x", "events[2].x is not a known field"},
		{"nested index", `{"events":[` + good + `,` + item(`{"sku":"a","quantity":0,"unit_price":1}`) + `]}`, 10, "events[1].properties.order.items[0].quantity", "events[1].properties.order.items[0].quantity must be at least 1"},
		{"password in an event", `{"events":[` + ev(`,"credential":{"password":"hunter2"}`) + `]}`, 10, "events[0].credential.password", "send password_sha1"},
		{"event is a number", `{"events":[` + good + `,1]}`, 10, "events[1]", "events[1] must be an object"},
		{"event is null", `{"events":[null]}`, 10, "events[0]", "events[0] must be an object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeBatch([]byte(tt.in), tt.max)
			checkFieldError(t, err, tt.field, tt.detail)
		})
	}
}

// TestJSONError covers the second line of defence: encoding/json errors
// that checkStructure normally prevents.
func TestJSONError(t *testing.T) {
	tests := []struct {
		in     string
		field  string
		detail string
	}{
		{`{"context":{"ip":5}}`, "context.ip", "context.ip has the wrong type"},
		{`{"properties":{"order":{"amount":"5"}}}`, "properties.order.amount", "properties.order.amount has the wrong type"},
		{`{"colour":1}`, "colour", "colour is not a known field"},
		{`{"password":"hunter2"}`, "password", "password must not be sent"},
		{`[]`, "", "body has the wrong type"},
		{`{`, "", "body is not valid JSON"},
	}
	for _, tt := range tests {
		var w wireEvent
		err := strictUnmarshal([]byte(tt.in), &w)
		checkFieldError(t, err, tt.field, tt.detail)
	}
}

func TestMarshalRedacted(t *testing.T) {
	e, err := Decode([]byte(apiExample))
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.MarshalRedacted()
	if err != nil {
		t.Fatal(err)
	}
	want := `{"type":"login.succeeded","occurred_at":"2026-11-25T10:00:00Z","request_id":"shop-req-8d1f",` +
		`"login":"taro.yamada@example.jp","user":{"id":"u-1042","email":"taro.yamada@example.jp"},"session_id":"s-77aa",` +
		`"context":{"ip":"203.0.113.7","user_agent":"Mozilla/5.0 ...","accept_language":"ja-JP,ja;q=0.9",` +
		`"device_id":"d-5f0c9e","client_fingerprint":"t13d1516h2_8daaf6152771_b186095e22b6","headers":{"sec-ch-ua":"..."}}}`
	if string(got) != want {
		t.Errorf("MarshalRedacted =\n%s\nwant\n%s", got, want)
	}

	o, err := Decode([]byte(validTests[8].in)) // order.attempt
	if err != nil {
		t.Fatal(err)
	}
	got, err = o.MarshalRedacted()
	if err != nil {
		t.Fatal(err)
	}
	want = `{"type":"order.attempt","occurred_at":"2026-11-25T10:00:00Z","user":{"id":"u-1042"},"session_id":"s-77aa",` +
		`"context":{"ip":"203.0.113.7"},"properties":{"order":{"id":"o-991","amount":131800,"currency":"JPY",` +
		`"items":[{"sku":"iphone-x-256-silver","quantity":1,"unit_price":131800}],` +
		`"shipping":{"name":"山田 太郎","postal_code":"100-0001","country":"JP","region":"東京都","city":"千代田区","line1":"千代田1-1","new_for_user":true},` +
		`"payment":{"method":"carrier_billing"},"delivery":{"method":"home"}}}}`
	if string(got) != want {
		t.Errorf("MarshalRedacted =\n%s\nwant\n%s", got, want)
	}
}

// TestCredentialNeverPrinted checks the ways an Event could reach a log.
func TestCredentialNeverPrinted(t *testing.T) {
	e, err := Decode([]byte(apiExample))
	if err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	for name, s := range map[string]string{
		"%v":           fmt.Sprintf("%v", e),
		"%+v":          fmt.Sprintf("%+v", e),
		"%#v":          fmt.Sprintf("%#v", e),
		"%x":           fmt.Sprintf("%x", e.Credential),
		"json.Marshal": string(j),
	} {
		lower := strings.ToLower(s)
		if strings.Contains(lower, "5baa61") || strings.Contains(s, "91 170 97") || strings.Contains(lower, "0x5b, 0xaa") {
			t.Errorf("%s shows the password hash: %s", name, s)
		}
	}
	r, err := e.MarshalRedacted()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(bytes.ToLower(r), []byte("5baa61")) || bytes.Contains(r, []byte("credential")) {
		t.Errorf("MarshalRedacted shows the credential: %s", r)
	}
}

func BenchmarkDecode(b *testing.B) {
	data := []byte(apiExample)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalRedacted(b *testing.B) {
	e, err := Decode([]byte(apiExample))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := e.MarshalRedacted(); err != nil {
			b.Fatal(err)
		}
	}
}

func TestCheckFuture(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	skew := 5 * time.Minute
	tests := []struct {
		name   string
		at     []time.Time
		field  string // "" for no error
		detail string
	}{
		{"past", []time.Time{now.Add(-time.Hour)}, "", ""},
		{"now", []time.Time{now}, "", ""},
		{"at the skew", []time.Time{now.Add(skew)}, "", ""},
		{"past the skew", []time.Time{now.Add(skew + time.Nanosecond)}, "occurred_at", "occurred_at must not be more than 5m0s ahead of the guard's clock (2026-11-25T10:00:00Z)"},
		{"far future", []time.Time{MaxTime}, "occurred_at", "must not be more than 5m0s ahead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := Event{OccurredAt: tt.at[0]}
			err := e.CheckFuture(now, skew)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("CheckFuture = %v, want nil", err)
				}
				return
			}
			checkFieldError(t, err, tt.field, tt.detail)
		})
	}
}

func TestCheckBatchFuture(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	evs := []Event{{OccurredAt: now}, {OccurredAt: now.Add(time.Hour)}, {OccurredAt: now.Add(2 * time.Hour)}}
	err := CheckBatchFuture(evs, now, time.Minute)
	checkFieldError(t, err, "events[1].occurred_at", "events[1].occurred_at must not be more than 1m0s ahead")
	if err := CheckBatchFuture(evs[:1], now, time.Minute); err != nil {
		t.Errorf("CheckBatchFuture of a valid batch = %v, want nil", err)
	}
}
