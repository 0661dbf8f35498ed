package event

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/atoguard/atoguard/internal/ident"
)

// MaxBatch is the most events POST /v1/events:batch takes (docs/api.md).
const MaxBatch = 1000

// Limits on untrusted input, in bytes of UTF-8 after normalization.
const (
	maxIdentifier  = 320 // login, user.email
	maxID          = 256 // user.id, session_id, request_id, device_id, ...
	maxUserAgent   = 1024
	maxLanguage    = 256
	maxHeaderValue = 1024
	maxHeaderName  = 256
	maxHeaders     = 64
	maxText        = 256 // other strings: reason, method, sku, address lines, ...
	maxItems       = 1000
)

// ProfileFields are the values allowed in properties.fields of a
// profile.updated event.
var ProfileFields = []string{"email", "phone", "shipping_address", "notification_settings", "payment_method"}

// FieldError is the error Decode and DecodeBatch return for any input they
// reject. Field is the JSON path of the offending value ("context.ip",
// "events[3].occurred_at", "properties.order.items[0].quantity"), or "" when
// the body as a whole is wrong (not JSON, not an object, trailing data).
// Detail is a sentence for people; it starts with Field when Field is set,
// and it never repeats a credential or a password.
type FieldError struct {
	Field  string
	Detail string
}

func (e *FieldError) Error() string { return e.Detail }

func fieldError(field, msg string) *FieldError {
	if field == "" {
		return &FieldError{Detail: msg}
	}
	return &FieldError{Field: field, Detail: field + " " + msg}
}

// within returns err with its path moved under prefix (an array element
// such as "events[3]").
func within(prefix string, err error) error {
	var fe *FieldError
	if !errors.As(err, &fe) {
		return err
	}
	if fe.Field == "" {
		return fieldError(prefix, fe.Detail)
	}
	msg := strings.TrimPrefix(fe.Detail, fe.Field+" ")
	return fieldError(prefix+"."+fe.Field, msg)
}

// Decode parses, validates and normalizes one event from untrusted JSON
// (the body of POST /v1/events). Every error it returns is a *FieldError.
func Decode(data []byte) (Event, error) {
	if err := checkSyntax(data); err != nil {
		return Event{}, err
	}
	return decodeEvent(data, "")
}

// DecodeBatch parses {"events": [...]} (the body of POST /v1/events:batch)
// and decodes every event as Decode does. It rejects an empty list and one
// longer than max; max <= 0 means MaxBatch. Every error it returns is a
// *FieldError; errors about one event name it by index ("events[3].type").
func DecodeBatch(data []byte, max int) ([]Event, error) {
	if max <= 0 {
		max = MaxBatch
	}
	if err := checkSyntax(data); err != nil {
		return nil, err
	}
	if err := checkStructure(data, batchSchema, ""); err != nil {
		return nil, err
	}
	var w wireBatch
	if err := strictUnmarshal(data, &w); err != nil {
		return nil, err
	}
	switch {
	case w.Events == nil:
		return nil, fieldError("events", "is required")
	case len(w.Events) == 0:
		return nil, fieldError("events", "must not be empty")
	case len(w.Events) > max:
		return nil, fieldError("events", fmt.Sprintf("must have at most %d events, not %d", max, len(w.Events)))
	}
	events := make([]Event, len(w.Events))
	for i, raw := range w.Events {
		e, err := decodeEvent(raw, "events["+strconv.Itoa(i)+"]")
		if err != nil {
			return nil, err
		}
		events[i] = e
	}
	return events, nil
}

// decodeEvent decodes one event from syntactically valid JSON. path is
// where the event sits in the body ("" for the body itself).
func decodeEvent(data []byte, path string) (Event, error) {
	if err := checkStructure(data, eventSchema, path); err != nil {
		return Event{}, err
	}
	// checkStructure has rejected every key the wire types do not name,
	// with its path: the plain decoder (no Decoder and its buffer, about
	// half the allocations) reads what is left.
	var w wireEvent
	if err := json.Unmarshal(data, &w); err != nil {
		err = jsonError(err)
		if path != "" {
			err = within(path, err)
		}
		return Event{}, err
	}
	e, err := w.event()
	if err != nil {
		if path != "" {
			err = within(path, err)
		}
		return Event{}, err
	}
	return e, nil
}

// checkSyntax rejects a body that is not valid UTF-8 or not exactly one
// JSON value.
func checkSyntax(data []byte) error {
	if !utf8.Valid(data) {
		return &FieldError{Detail: "body is not valid UTF-8"}
	}
	if json.Valid(data) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var v json.RawMessage
	err := dec.Decode(&v)
	var se *json.SyntaxError
	switch {
	case err == nil:
		return &FieldError{Detail: "body has data after the JSON value"}
	case errors.Is(err, io.EOF):
		return &FieldError{Detail: "body is empty"}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &FieldError{Detail: "body is not valid JSON: unexpected end of input"}
	case errors.As(err, &se):
		return &FieldError{Detail: "body is not valid JSON: " + syntaxDetail(se)}
	default:
		return &FieldError{Detail: "body is not valid JSON"}
	}
}

// syntaxDetail describes a syntax error without the character that caused
// it, which could be part of a password sent by mistake.
func syntaxDetail(se *json.SyntaxError) string {
	msg := se.Error()
	if rest, ok := strings.CutPrefix(msg, "invalid character "); ok && len(rest) > 1 {
		// rest is a quoted character, then what the parser expected:
		// `'x' looking for beginning of value`.
		if j := strings.Index(rest[1:], "' "); j >= 0 {
			return fmt.Sprintf("unexpected character at byte %d (%s)", se.Offset, rest[1+j+2:])
		}
		return fmt.Sprintf("unexpected character at byte %d", se.Offset)
	}
	return fmt.Sprintf("%s (at byte %d)", msg, se.Offset)
}

// strictUnmarshal decodes data into v, rejecting unknown fields, and turns
// encoding/json's errors into FieldErrors. checkStructure has already
// rejected what these errors describe; this is a second line of defence,
// for the batch's envelope (an event is decoded without it: the Decoder
// it needs costs half an event's decoding).
func strictUnmarshal(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		return nil
	}
	return jsonError(err)
}

// jsonError converts an error of encoding/json to a *FieldError that names
// the field but never repeats the value.
func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		if te.Field == "" {
			return &FieldError{Detail: "body has the wrong type: " + te.Type.String() + " expected"}
		}
		return fieldError(fullField(te.Field), "has the wrong type")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if key, qerr := strconv.Unquote(name); qerr == nil {
			if strings.EqualFold(key, "password") {
				return fieldError(key, "must not be sent: send password_sha1, never the password")
			}
			return fieldError(displayKey(key), "is not a known field")
		}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &FieldError{Detail: "body is not valid JSON: " + syntaxDetail(se)}
	}
	return &FieldError{Detail: "body is not valid JSON"}
}

// typeList is the detail of an unknown event type.
var typeList = func() string {
	names := make([]string, len(Types))
	for i, t := range Types {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}()

// event validates and normalizes the decoded wire event.
func (w *wireEvent) event() (Event, error) {
	var e Event
	e.Type = Type(w.Type)
	switch {
	case w.Type == "":
		return e, fieldError("type", "is required")
	case !slices.Contains(Types, e.Type):
		return e, fieldError("type", "must be one of "+typeList)
	}

	t, err := occurredAt(w.OccurredAt)
	if err != nil {
		return e, err
	}
	e.OccurredAt = t

	if err := checkText("request_id", w.RequestID, maxID); err != nil {
		return e, err
	}
	e.RequestID = w.RequestID

	e.Login = ident.Normalize(w.Login)
	if err := checkText("login", e.Login, maxIdentifier); err != nil {
		return e, err
	}

	if w.User != nil {
		if err := checkText("user.id", w.User.ID, maxID); err != nil {
			return e, err
		}
		e.User.ID = w.User.ID
		e.User.Email = ident.Normalize(w.User.Email)
		if err := checkText("user.email", e.User.Email, maxIdentifier); err != nil {
			return e, err
		}
	}

	if err := checkText("session_id", w.SessionID, maxID); err != nil {
		return e, err
	}
	e.SessionID = w.SessionID

	if w.Context == nil {
		return e, fieldError("context", "is required")
	}
	if e.Context, err = w.Context.context(); err != nil {
		return e, err
	}

	if w.Credential != nil {
		if e.Credential, err = w.Credential.credential(); err != nil {
			return e, err
		}
	}

	if w.Properties != nil {
		if e.Properties, err = w.Properties.properties(e.Type); err != nil {
			return e, err
		}
	}

	return e, e.checkRequired()
}

// MinTime and MaxTime bound the times an event may carry: from the year
// 2000 to the end of 2261, inside what every store holds (int64
// nanoseconds since 1970 end on 2262-04-11).
var (
	MinTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	MaxTime = time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC).Add(-time.Nanosecond)
)

// occurredAt parses occurred_at: RFC 3339 with a zone, between MinTime
// and MaxTime, returned in UTC.
func occurredAt(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, fieldError("occurred_at", "is required")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	// time.Parse also takes a comma before the fraction and a zone offset
	// of 24 hours, which RFC 3339 does not.
	if _, offset := t.Zone(); err != nil || strings.IndexByte(s, ',') >= 0 || offset <= -24*3600 || offset >= 24*3600 {
		return time.Time{}, fieldError("occurred_at", "must be an RFC 3339 time with a zone, such as 2026-11-25T10:00:00Z")
	}
	t = t.UTC()
	if t.Before(MinTime) || t.After(MaxTime) {
		return time.Time{}, fieldError("occurred_at", "must be between the years 2000 and 2261")
	}
	return t, nil
}

// CheckFuture rejects an event that claims to lie more than skew after
// now, the guard's own clock: a shop's clock may run a little ahead, but
// not further. Its error is a *FieldError naming occurred_at.
func (e *Event) CheckFuture(now time.Time, skew time.Duration) error {
	if e.OccurredAt.Sub(now) <= skew {
		return nil
	}
	return fieldError("occurred_at", fmt.Sprintf("must not be more than %v ahead of the guard's clock (%s)",
		skew, now.UTC().Format(time.RFC3339)))
}

// CheckBatchFuture checks every event of a batch as CheckFuture does; its
// error names the first offending event by index (events[3].occurred_at).
func CheckBatchFuture(evs []Event, now time.Time, skew time.Duration) error {
	for i := range evs {
		if err := evs[i].CheckFuture(now, skew); err != nil {
			return within("events["+strconv.Itoa(i)+"]", err)
		}
	}
	return nil
}

func (w *wireContext) context() (Context, error) {
	var c Context
	if w.IP == "" {
		return c, fieldError("context.ip", "is required")
	}
	ip, err := netip.ParseAddr(w.IP)
	if err != nil {
		return c, fieldError("context.ip", "is not an IP address")
	}
	if ip.Zone() != "" {
		return c, fieldError("context.ip", "must not have a zone")
	}
	c.IP = ip.Unmap()

	for _, f := range []struct {
		name  string
		value string
		max   int
		dst   *string
	}{
		{"context.user_agent", w.UserAgent, maxUserAgent, &c.UserAgent},
		{"context.accept_language", w.AcceptLanguage, maxLanguage, &c.AcceptLanguage},
		{"context.device_id", w.DeviceID, maxID, &c.DeviceID},
		{"context.client_fingerprint", w.ClientFingerprint, maxID, &c.ClientFingerprint},
	} {
		if err := checkText(f.name, f.value, f.max); err != nil {
			return c, err
		}
		*f.dst = f.value
	}

	if len(w.Headers) > maxHeaders {
		return c, fieldError("context.headers", fmt.Sprintf("must have at most %d entries", maxHeaders))
	}
	if len(w.Headers) > 0 {
		c.Headers = make(map[string]string, len(w.Headers))
		// Sorted, so that which of two colliding names is reported does
		// not depend on map order.
		for _, raw := range slices.Sorted(maps.Keys(w.Headers)) {
			name := strings.ToLower(strings.TrimSpace(raw))
			path := "context.headers." + displayKey(raw)
			if !validHeaderName(name) {
				return c, fieldError(path, "is not a valid header name")
			}
			if _, dup := c.Headers[name]; dup {
				return c, fieldError(path, "is the same header name as another entry")
			}
			value := w.Headers[raw]
			if err := checkText(path, value, maxHeaderValue); err != nil {
				return c, err
			}
			c.Headers[name] = value
		}
	}
	return c, nil
}

// validHeaderName reports whether name is an HTTP field name (an RFC 9110
// token) of at most maxHeaderName bytes.
func validHeaderName(name string) bool {
	if name == "" || len(name) > maxHeaderName {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func (w *wireCredential) credential() (Credential, error) {
	var c Credential
	if w.PasswordSHA1 == nil {
		return c, nil
	}
	// The detail never includes the value.
	h := *w.PasswordSHA1
	if len(h) != 2*len(c.PasswordSHA1) {
		return c, fieldError("credential.password_sha1", "must be 40 hexadecimal characters (the SHA-1 of the password)")
	}
	if _, err := hex.Decode(c.PasswordSHA1[:], []byte(h)); err != nil {
		return Credential{}, fieldError("credential.password_sha1", "must be 40 hexadecimal characters (the SHA-1 of the password)")
	}
	c.HasPassword = true
	return c, nil
}

var reasons = []string{ReasonBadPassword, ReasonUnknownAccount, ReasonLocked}

func (w *wireProperties) properties(t Type) (Properties, error) {
	var p Properties
	if t == LoginFailed && w.Reason != "" && !slices.Contains(reasons, w.Reason) {
		return p, fieldError("properties.reason", "must be one of "+strings.Join(reasons, ", "))
	}
	if err := checkText("properties.reason", w.Reason, maxText); err != nil {
		return p, err
	}
	p.Reason = w.Reason

	for i, f := range w.Fields {
		path := "properties.fields[" + strconv.Itoa(i) + "]"
		if !slices.Contains(ProfileFields, f) {
			return p, fieldError(path, "must be one of "+strings.Join(ProfileFields, ", "))
		}
		if slices.Contains(w.Fields[:i], f) {
			return p, fieldError(path, "repeats "+f)
		}
	}
	if len(w.Fields) > 0 {
		p.Fields = w.Fields
	}

	if w.Order != nil {
		o, err := w.Order.order()
		if err != nil {
			return p, err
		}
		p.Order = &o
	}

	if err := checkText("properties.challenge_id", w.ChallengeID, maxID); err != nil {
		return p, err
	}
	p.ChallengeID = w.ChallengeID
	if err := checkText("properties.method", w.Method, maxText); err != nil {
		return p, err
	}
	p.Method = w.Method
	return p, nil
}

func (w *wireOrder) order() (Order, error) {
	const base = "properties.order"
	var o Order
	if w.ID == "" {
		return o, fieldError(base+".id", "is required")
	}
	if err := checkText(base+".id", w.ID, maxID); err != nil {
		return o, err
	}
	o.ID = w.ID
	switch {
	case w.Amount == nil:
		return o, fieldError(base+".amount", "is required")
	case *w.Amount < 0:
		return o, fieldError(base+".amount", "must not be negative")
	}
	o.Amount = *w.Amount
	if !validCurrency(w.Currency) {
		return o, fieldError(base+".currency", "must be three upper-case letters (ISO 4217), such as JPY")
	}
	o.Currency = w.Currency

	switch {
	case len(w.Items) == 0:
		return o, fieldError(base+".items", "must not be empty")
	case len(w.Items) > maxItems:
		return o, fieldError(base+".items", fmt.Sprintf("must have at most %d entries", maxItems))
	}
	o.Items = make([]Item, len(w.Items))
	for i, it := range w.Items {
		path := base + ".items[" + strconv.Itoa(i) + "]"
		switch {
		case it.SKU == "":
			return o, fieldError(path+".sku", "is required")
		case it.Quantity < 1:
			return o, fieldError(path+".quantity", "must be at least 1")
		case it.UnitPrice == nil:
			return o, fieldError(path+".unit_price", "is required")
		case *it.UnitPrice < 0:
			return o, fieldError(path+".unit_price", "must not be negative")
		}
		if err := checkText(path+".sku", it.SKU, maxText); err != nil {
			return o, err
		}
		o.Items[i] = Item{SKU: it.SKU, Quantity: it.Quantity, UnitPrice: *it.UnitPrice}
	}

	if s := w.Shipping; s != nil {
		for _, f := range []struct{ name, value string }{
			{"name", s.Name}, {"postal_code", s.PostalCode}, {"country", s.Country},
			{"region", s.Region}, {"city", s.City}, {"line1", s.Line1}, {"line2", s.Line2},
		} {
			if err := checkText(base+".shipping."+f.name, f.value, maxText); err != nil {
				return o, err
			}
		}
		o.Shipping = Shipping{
			Name: s.Name, PostalCode: s.PostalCode, Country: s.Country, Region: s.Region,
			City: s.City, Line1: s.Line1, Line2: s.Line2, NewForUser: s.NewForUser,
		}
	}
	if p := w.Payment; p != nil {
		if err := checkText(base+".payment.method", p.Method, maxText); err != nil {
			return o, err
		}
		o.Payment = Payment{Method: p.Method, NewForUser: p.NewForUser}
	}
	if d := w.Delivery; d != nil {
		if err := checkText(base+".delivery.method", d.Method, maxText); err != nil {
			return o, err
		}
		if err := checkText(base+".delivery.pickup_store", d.PickupStore, maxText); err != nil {
			return o, err
		}
		o.Delivery = Delivery{Method: d.Method, PickupStore: d.PickupStore}
	}
	return o, nil
}

func validCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// checkRequired checks the fields each event type needs (docs/api.md).
func (e *Event) checkRequired() error {
	var userID, login bool
	switch e.Type {
	case LoginAttempt, LoginFailed:
		login = true
	case LoginSucceeded:
		userID, login = true, true
	case Registration, PasswordChanged, PasswordResetRequested, MFASucceeded, MFAFailed:
		userID = true
	case ProfileUpdated:
		userID = true
		if len(e.Properties.Fields) == 0 {
			return fieldError("properties.fields", "is required for "+string(e.Type)+" events")
		}
	case OrderAttempt:
		userID = true
		if e.Properties.Order == nil {
			return fieldError("properties.order", "is required for "+string(e.Type)+" events")
		}
	}
	if userID && e.User.ID == "" {
		return fieldError("user.id", "is required for "+string(e.Type)+" events")
	}
	if login && e.Login == "" {
		return fieldError("login", "is required for "+string(e.Type)+" events")
	}
	return nil
}

// checkText checks an untrusted string: at most max bytes and no control
// characters (C0, DEL, C1). The input is valid UTF-8 (checkSyntax), and
// encoding/json turns invalid escapes into U+FFFD.
func checkText(field, s string, max int) error {
	if len(s) > max {
		return fieldError(field, fmt.Sprintf("must be at most %d bytes", max))
	}
	for _, r := range s {
		if isControl(r) {
			return fieldError(field, "must not contain control characters")
		}
	}
	return nil
}

func isControl(r rune) bool {
	return r < 0x20 || (0x7f <= r && r < 0xa0)
}

// fullField names a field from the top of the event. The decoder of
// properties (wireProperties.UnmarshalJSON) starts a path of its own;
// Go 1.26's decoder prefixes the outer path to it, Go 1.27's does not.
func fullField(field string) string {
	first, _, _ := strings.Cut(field, ".")
	switch first {
	case "reason", "fields", "order", "challenge_id", "method":
		return "properties." + field
	}
	return field
}
