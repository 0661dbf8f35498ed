package event

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// encoding/json (v1) matches object keys case-insensitively, lets a later
// duplicate key win, reports unknown fields without their path and type
// errors without array indices. checkStructure closes those gaps before the
// wire structs are decoded: it walks the (already syntax-checked) JSON
// against a schema derived from the wire types and rejects, with the full
// path of the offending field,
//   - a key named "password" (in any letter case) anywhere,
//   - unknown keys in closed objects, and keys of an open object that
//     differ from a known key only in letter case,
//   - duplicate keys,
//   - values of the wrong JSON kind, and numbers that are not int64 integers,
//   - more than maxHeaders entries in a free map.
// null is accepted for every field and means "absent", as in encoding/json.

type kind uint8

const (
	kindAny    kind = iota // anything; nested keys are only checked for "password"
	kindString             // string
	kindInt                // integer that fits int64
	kindBool               // true or false
	kindObject             // object with known keys (open: other keys allowed)
	kindArray              // array of elem
	kindMap                // object with free keys, values of elem
)

// node is the schema of one JSON value.
type node struct {
	kind   kind
	names  []string       // kindObject: the known keys, in field order
	fields []*node        // kindObject: the schema of each known key
	index  map[string]int // kindObject: key → position in names and fields
	open   bool           // kindObject: unknown keys are allowed
	elem   *node          // kindArray, kindMap
}

var (
	anyNode         = &node{kind: kindAny}
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	openObjectTypes = map[reflect.Type]bool{reflect.TypeFor[wireProperties](): true}

	eventSchema = schemaOf(reflect.TypeFor[wireEvent]())
	batchSchema = schemaOf(reflect.TypeFor[wireBatch]())
)

// schemaOf derives the schema of the JSON that encoding/json decodes into
// a value of type t.
func schemaOf(t reflect.Type) *node {
	if t == rawMessageType {
		return anyNode
	}
	switch t.Kind() {
	case reflect.Pointer:
		return schemaOf(t.Elem())
	case reflect.String:
		return &node{kind: kindString}
	case reflect.Int64:
		return &node{kind: kindInt}
	case reflect.Bool:
		return &node{kind: kindBool}
	case reflect.Slice:
		return &node{kind: kindArray, elem: schemaOf(t.Elem())}
	case reflect.Map:
		return &node{kind: kindMap, elem: schemaOf(t.Elem())}
	case reflect.Struct:
		n := &node{kind: kindObject, index: map[string]int{}, open: openObjectTypes[t]}
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				panic("event: wire field without a json name: " + t.Name() + "." + f.Name)
			}
			n.index[name] = len(n.names)
			n.names = append(n.names, name)
			n.fields = append(n.fields, schemaOf(f.Type))
		}
		if len(n.names) > 64 {
			panic("event: too many fields in " + t.Name())
		}
		return n
	}
	panic("event: no schema for " + t.String())
}

// segment is one step of a path: an object key or an array index.
type segment struct {
	key   []byte // raw key, still escaped when esc
	esc   bool
	index int // -1 for a key
}

// scanner walks one JSON value that json.Valid accepted.
type scanner struct {
	data []byte
	i    int
	base string // path prefix, e.g. "events[3]"
	path []segment
}

// checkStructure checks data, a valid JSON object, against n. base is the
// path of data itself ("" for a request body).
func checkStructure(data []byte, n *node, base string) error {
	s := scanner{data: data, base: base, path: make([]segment, 0, 8)}
	s.ws()
	if s.peek() != '{' {
		if base == "" {
			return &FieldError{Detail: "body must be a JSON object"}
		}
		return fieldError(base, "must be an object")
	}
	return s.value(n)
}

func (s *scanner) peek() byte {
	if s.i < len(s.data) {
		return s.data[s.i]
	}
	return 0
}

func (s *scanner) ws() {
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) value(n *node) error {
	s.ws()
	switch c := s.peek(); {
	case c == '{':
		switch n.kind {
		case kindObject, kindMap, kindAny:
			return s.object(n)
		}
	case c == '[':
		switch n.kind {
		case kindArray, kindAny:
			return s.array(n)
		}
	case c == '"':
		s.str()
		if n.kind == kindString || n.kind == kindAny {
			return nil
		}
	case c == 't' || c == 'f' || c == 'n':
		s.literal()
		if c == 'n' || n.kind == kindBool || n.kind == kindAny {
			return nil
		}
	default:
		num := s.number()
		switch n.kind {
		case kindAny:
			return nil
		case kindInt:
			if !isInteger(num) {
				return s.errorf("must be an integer")
			}
			if !fitsInt64(num) {
				return s.errorf("is out of range")
			}
			return nil
		}
	}
	return s.errorf("%s", kindMismatch[n.kind])
}

var kindMismatch = [...]string{
	kindString: "must be a string",
	kindInt:    "must be an integer",
	kindBool:   "must be true or false",
	kindObject: "must be an object",
	kindArray:  "must be an array",
	kindMap:    "must be an object",
}

func (s *scanner) object(n *node) error {
	s.i++                // {
	var seen uint64      // kindObject: known keys already seen
	var mapKeys []string // kindMap: keys already seen
	for {
		s.ws()
		if s.peek() == '}' {
			s.i++
			return nil
		}
		if s.peek() == ',' {
			s.i++
			s.ws()
		}
		raw, esc := s.str()
		key := raw
		if esc {
			key = []byte(unescape(raw))
		}
		s.ws()
		s.i++ // :
		s.path = append(s.path, segment{key: raw, esc: esc, index: -1})
		if bytes.EqualFold(key, []byte("password")) {
			return s.errorf("must not be sent: send password_sha1, never the password")
		}
		child := anyNode
		switch n.kind {
		case kindObject:
			if j, ok := n.index[string(key)]; ok {
				if seen&(1<<j) != 0 {
					return s.errorf("appears twice")
				}
				seen |= 1 << j
				child = n.fields[j]
			} else if hint := n.caseHint(key); hint != "" {
				return s.errorf("is not a known field (field names are case-sensitive: %s)", hint)
			} else if !n.open {
				return s.errorf("is not a known field")
			}
		case kindMap:
			k := string(key)
			for _, m := range mapKeys {
				if m == k {
					return s.errorf("appears twice")
				}
			}
			if len(mapKeys) == maxHeaders {
				s.path = s.path[:len(s.path)-1]
				return s.errorf("must have at most %d entries", maxHeaders)
			}
			mapKeys = append(mapKeys, k)
			child = n.elem
		}
		if err := s.value(child); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
	}
}

// caseHint returns the known key that equals key but for letter case.
func (n *node) caseHint(key []byte) string {
	for _, name := range n.names {
		if bytes.EqualFold(key, []byte(name)) {
			return name
		}
	}
	return ""
}

func (s *scanner) array(n *node) error {
	s.i++ // [
	elem := n.elem
	if n.kind == kindAny {
		elem = anyNode
	}
	for index := 0; ; index++ {
		s.ws()
		if s.peek() == ']' {
			s.i++
			return nil
		}
		if s.peek() == ',' {
			s.i++
		}
		s.path = append(s.path, segment{index: index})
		if err := s.value(elem); err != nil {
			return err
		}
		s.path = s.path[:len(s.path)-1]
	}
}

// str skips a string and returns its contents, still escaped when esc.
func (s *scanner) str() (raw []byte, esc bool) {
	s.i++ // "
	start := s.i
	for s.i < len(s.data) {
		switch s.data[s.i] {
		case '\\':
			esc = true
			s.i += 2
			continue
		case '"':
			raw = s.data[start:s.i]
			s.i++
			return raw, esc
		}
		s.i++
	}
	return s.data[start:], esc
}

func (s *scanner) literal() {
	for s.i < len(s.data) && 'a' <= s.data[s.i] && s.data[s.i] <= 'z' {
		s.i++
	}
}

func (s *scanner) number() []byte {
	start := s.i
	for s.i < len(s.data) && strings.IndexByte("+-.0123456789eE", s.data[s.i]) >= 0 {
		s.i++
	}
	if s.i == start && s.i < len(s.data) {
		s.i++ // cannot happen on valid JSON; make progress anyway
	}
	return s.data[start:s.i]
}

func isInteger(num []byte) bool {
	return len(num) > 0 && bytes.IndexAny(num, ".eE") < 0
}

func fitsInt64(num []byte) bool {
	neg := num[0] == '-'
	if neg {
		num = num[1:]
	}
	limit := uint64(1<<63 - 1)
	if neg {
		limit++
	}
	var v uint64
	for _, c := range num {
		d := uint64(c - '0')
		if v > (limit-d)/10 {
			return false
		}
		v = v*10 + d
	}
	return true
}

// unescape decodes the contents of a JSON string that has escapes.
func unescape(raw []byte) string {
	quoted := make([]byte, 0, len(raw)+2)
	quoted = append(append(append(quoted, '"'), raw...), '"')
	var s string
	if json.Unmarshal(quoted, &s) != nil {
		return string(raw) // cannot happen on valid JSON
	}
	return s
}

func (s *scanner) errorf(format string, args ...any) error {
	return fieldError(s.pathString(), fmt.Sprintf(format, args...))
}

func (s *scanner) pathString() string {
	var b strings.Builder
	b.WriteString(s.base)
	for _, seg := range s.path {
		if seg.index >= 0 {
			fmt.Fprintf(&b, "[%d]", seg.index)
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		key := string(seg.key)
		if seg.esc {
			key = unescape(seg.key)
		}
		b.WriteString(displayKey(key))
	}
	return b.String()
}

// displayKey renders an untrusted object key for an error message: as it
// is when short and printable, else quoted and cut short.
func displayKey(key string) string {
	const max = 64
	plain := len(key) <= max && key != ""
	for _, r := range key {
		if isControl(r) || r == utf8.RuneError || r == '"' || r == '.' || r == '[' || r == ' ' {
			plain = false
			break
		}
	}
	if plain {
		return key
	}
	if len(key) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(key[cut]) {
			cut--
		}
		return strconv.Quote(key[:cut]) + "…"
	}
	return strconv.Quote(key)
}
