package proxy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strings"
)

// maxValues bounds how many values one field may yield, and maxDepth how
// deep a JSON body may nest: a body is untrusted input.
const (
	maxValues = 1000
	maxDepth  = 32
)

// errUnsupported is returned for a body that is neither a form nor JSON.
var errUnsupported = errors.New("body is neither a form nor JSON")

// Values are the values a body holds for each field name asked for.
type Values map[string][]string

// First returns the first value of name, or "".
func (v Values) First(name string) string {
	if vs := v[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// extract reads the fields names from a request body of content type ct:
// an URL-encoded or multipart form, or JSON, where a name is a dotted path
// (items.sku reads sku of every element of the array items). Names not in
// the body are absent from the answer.
func extract(ct string, body []byte, names []string) (Values, error) {
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		// No or a broken Content-Type: what a form or JSON looks like.
		mt = "application/x-www-form-urlencoded"
		if t := bytes.TrimLeft(body, " \t\r\n"); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
			mt = "application/json"
		}
	}
	switch {
	case mt == "application/x-www-form-urlencoded":
		return formValues(body, names)
	case mt == "multipart/form-data":
		return multipartValues(body, params["boundary"], names)
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return jsonValues(body, names)
	}
	return nil, fmt.Errorf("%w: %s", errUnsupported, mt)
}

func formValues(body []byte, names []string) (Values, error) {
	q, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, fmt.Errorf("parsing form: %w", err)
	}
	out := Values{}
	for _, n := range names {
		if vs, ok := q[n]; ok {
			out[n] = vs[:min(len(vs), maxValues)]
		}
	}
	return out, nil
}

func multipartValues(body []byte, boundary string, names []string) (Values, error) {
	if boundary == "" {
		return nil, errors.New("multipart form without a boundary")
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := Values{}
	mr := multipart.NewReader(bytes.NewReader(body), boundary)
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("parsing multipart form: %w", err)
		}
		name := p.FormName()
		if !want[name] || p.FileName() != "" || len(out[name]) >= maxValues {
			continue
		}
		v, err := io.ReadAll(p) // bounded by the body, itself bounded
		if err != nil {
			return nil, fmt.Errorf("parsing multipart form: %w", err)
		}
		out[name] = append(out[name], string(v))
	}
}

func jsonValues(body []byte, names []string) (Values, error) {
	if err := checkDepth(body); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("parsing JSON: %w", err)
	}
	out := Values{}
	for _, n := range names {
		var vs []string
		collect(doc, strings.Split(n, "."), &vs)
		if len(vs) > 0 {
			out[n] = vs
		}
	}
	return out, nil
}

// checkDepth refuses JSON nested deeper than maxDepth, before decoding it.
func checkDepth(body []byte) error {
	depth, inString, escaped := 0, false, false
	for _, c := range body {
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			if depth++; depth > maxDepth {
				return fmt.Errorf("parsing JSON: nested deeper than %d", maxDepth)
			}
		case c == '}' || c == ']':
			depth--
		}
	}
	return nil
}

// collect appends the scalar values at path under v; arrays are walked
// element by element.
func collect(v any, path []string, out *[]string) {
	if len(*out) >= maxValues {
		return
	}
	switch x := v.(type) {
	case []any:
		for _, e := range x {
			collect(e, path, out)
		}
	case map[string]any:
		if len(path) == 0 {
			return
		}
		if e, ok := x[path[0]]; ok {
			collect(e, path[1:], out)
		}
	case string:
		if len(path) == 0 {
			*out = append(*out, x)
		}
	case json.Number:
		if len(path) == 0 {
			*out = append(*out, x.String())
		}
	case bool:
		if len(path) == 0 {
			*out = append(*out, fmt.Sprint(x))
		}
	}
}
