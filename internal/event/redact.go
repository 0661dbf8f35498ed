package event

import (
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// MarshalRedacted returns the event as JSON in the shape of docs/api.md, without
// the credential: the form kept in the audit log. Decoding the result gives
// the same event, but for an empty Credential. The error is always nil.
func (e Event) MarshalRedacted() ([]byte, error) {
	return e.AppendRedacted(make([]byte, 0, e.redactedSizeHint())), nil
}

// AppendRedacted appends the JSON of MarshalRedacted to dst: the same
// bytes encoding/json writes for the wire types (keys in field order,
// empty fields left out, header names sorted, strings escaped as
// encoding/json escapes them), in one pass without reflection.
func (e *Event) AppendRedacted(dst []byte) []byte {
	dst = append(dst, `{"type":`...)
	dst = appendString(dst, string(e.Type))
	dst = append(dst, `,"occurred_at":"`...)
	dst = e.OccurredAt.UTC().AppendFormat(dst, time.RFC3339Nano)
	dst = append(dst, '"')
	dst = appendField(dst, "request_id", e.RequestID)
	dst = appendField(dst, "login", e.Login)
	if e.User != (User{}) {
		dst = append(dst, `,"user":{`...)
		n := len(dst)
		dst = appendFields(dst, "id", e.User.ID, "email", e.User.Email)
		dst = append(dropComma(dst, n), '}')
	}
	dst = appendField(dst, "session_id", e.SessionID)
	dst = e.Context.appendJSON(dst)
	p := &e.Properties
	if p.Reason != "" || len(p.Fields) > 0 || p.Order != nil || p.ChallengeID != "" || p.Method != "" {
		dst = append(dst, `,"properties":{`...)
		n := len(dst)
		dst = appendField(dst, "reason", p.Reason)
		if len(p.Fields) > 0 {
			dst = append(dst, `,"fields":[`...)
			for i, f := range p.Fields {
				if i > 0 {
					dst = append(dst, ',')
				}
				dst = appendString(dst, f)
			}
			dst = append(dst, ']')
		}
		if p.Order != nil {
			dst = p.Order.appendJSON(append(dst, `,"order":`...))
		}
		dst = appendField(dst, "challenge_id", p.ChallengeID)
		dst = appendField(dst, "method", p.Method)
		dst = dropComma(dst, n)
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

// redactedSizeHint is about the length of the event's redacted JSON.
func (e *Event) redactedSizeHint() int {
	c := &e.Context
	n := 160 + len(e.RequestID) + len(e.Login) + len(e.User.ID) + len(e.User.Email) + len(e.SessionID) +
		len(c.UserAgent) + len(c.AcceptLanguage) + len(c.DeviceID) + len(c.ClientFingerprint)
	for k, v := range c.Headers {
		n += len(k) + len(v) + 6
	}
	if o := e.Properties.Order; o != nil {
		n += 200 + 64*len(o.Items)
	}
	return n
}

func (c *Context) appendJSON(dst []byte) []byte {
	dst = append(dst, `,"context":{"ip":"`...)
	if c.IP.IsValid() {
		dst = c.IP.AppendTo(dst)
	}
	dst = append(dst, '"')
	dst = appendFields(dst, "user_agent", c.UserAgent, "accept_language", c.AcceptLanguage)
	dst = appendFields(dst, "device_id", c.DeviceID, "client_fingerprint", c.ClientFingerprint)
	if len(c.Headers) > 0 {
		var buf [maxHeaders]string
		names := buf[:0]
		for k := range c.Headers {
			names = append(names, k)
		}
		slices.Sort(names)
		dst = append(dst, `,"headers":{`...)
		for i, k := range names {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendString(dst, c.Headers[k])
		}
		dst = append(dst, '}')
	}
	return append(dst, '}')
}

func (o *Order) appendJSON(dst []byte) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendString(dst, o.ID)
	dst = append(dst, `,"amount":`...)
	dst = strconv.AppendInt(dst, o.Amount, 10)
	dst = append(dst, `,"currency":`...)
	dst = appendString(dst, o.Currency)
	dst = append(dst, `,"items":[`...)
	for i, it := range o.Items {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"sku":`...)
		dst = appendString(dst, it.SKU)
		dst = append(dst, `,"quantity":`...)
		dst = strconv.AppendInt(dst, it.Quantity, 10)
		dst = append(dst, `,"unit_price":`...)
		dst = strconv.AppendInt(dst, it.UnitPrice, 10)
		dst = append(dst, '}')
	}
	dst = append(dst, ']')
	if s := &o.Shipping; *s != (Shipping{}) {
		dst = append(dst, `,"shipping":{`...)
		n := len(dst)
		dst = appendFields(dst, "name", s.Name, "postal_code", s.PostalCode)
		dst = appendFields(dst, "country", s.Country, "region", s.Region)
		dst = appendFields(dst, "city", s.City, "line1", s.Line1)
		dst = appendField(dst, "line2", s.Line2)
		dst = appendBool(dst, "new_for_user", s.NewForUser)
		dst = append(dropComma(dst, n), '}')
	}
	if p := o.Payment; p != (Payment{}) {
		dst = append(dst, `,"payment":{`...)
		n := len(dst)
		dst = appendField(dst, "method", p.Method)
		dst = appendBool(dst, "new_for_user", p.NewForUser)
		dst = append(dropComma(dst, n), '}')
	}
	if d := o.Delivery; d != (Delivery{}) {
		dst = append(dst, `,"delivery":{`...)
		n := len(dst)
		dst = appendFields(dst, "method", d.Method, "pickup_store", d.PickupStore)
		dst = append(dropComma(dst, n), '}')
	}
	return append(dst, '}')
}

// appendField appends `,"name":"value"` unless value is empty (omitempty).
func appendField(dst []byte, name, value string) []byte {
	if value == "" {
		return dst
	}
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	dst = append(dst, '"', ':')
	return appendString(dst, value)
}

// appendFields is appendField of two fields.
func appendFields(dst []byte, name1, value1, name2, value2 string) []byte {
	return appendField(appendField(dst, name1, value1), name2, value2)
}

// appendBool appends `,"name":true` when value is true (omitempty).
func appendBool(dst []byte, name string, value bool) []byte {
	if !value {
		return dst
	}
	dst = append(dst, ',', '"')
	dst = append(dst, name...)
	return append(dst, `":true`...)
}

// dropComma removes the comma at dst[n], the first of an object's
// members written by appendField after its opening brace.
func dropComma(dst []byte, n int) []byte {
	if len(dst) > n && dst[n] == ',' {
		return append(dst[:n], dst[n+1:]...)
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaped as encoding/json
// escapes it: <, > and & as \u003c, \u003e and \u0026; U+2028 and U+2029;
// control characters (\b, \f, \n, \r, \t short); invalid UTF-8 as
// U+FFFD (which decoded events never carry: they are valid UTF-8).
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\uFFFD"...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// String implements fmt.Stringer so that printing an event with %v never
// shows the password hash.
func (Credential) String() string { return "REDACTED" }

// GoString implements fmt.GoStringer for %#v, for the same reason.
func (Credential) GoString() string { return "event.Credential{REDACTED}" }

// MarshalJSON keeps the password hash out of any JSON made from an Event
// with encoding/json directly. Use MarshalRedacted for the API shape.
func (Credential) MarshalJSON() ([]byte, error) { return []byte(`"REDACTED"`), nil }
