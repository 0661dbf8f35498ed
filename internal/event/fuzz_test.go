package event

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/atoguard/atoguard/internal/ident"
	"github.com/google/go-cmp/cmp"
)

func addSeeds(f *testing.F) {
	for _, tt := range validTests {
		f.Add([]byte(tt.in))
	}
	for _, tt := range errorTests {
		f.Add([]byte(tt.in))
	}
}

func FuzzDecode(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Decode(data)
		if err != nil {
			checkFuzzError(t, err)
			return
		}
		checkRoundTrip(t, e)
	})
}

func FuzzDecodeBatch(f *testing.F) {
	for _, tt := range validTests {
		f.Add([]byte(`{"events":[` + tt.in + `]}`))
	}
	f.Add([]byte(`{"events":[` + validTests[0].in + `,` + validTests[1].in + `,` + validTests[8].in + `]}`))
	for _, tt := range errorTests {
		f.Add([]byte(`{"events":[` + ev(``) + `,` + tt.in + `]}`))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const max = 4
		events, err := DecodeBatch(data, max)
		if err != nil {
			checkFuzzError(t, err)
			return
		}
		if len(events) == 0 || len(events) > max {
			t.Fatalf("DecodeBatch returned %d events, max %d", len(events), max)
		}
		parts := make([]string, len(events))
		for i, e := range events {
			checkRoundTrip(t, e)
			r, err := e.MarshalRedacted()
			if err != nil {
				t.Fatal(err)
			}
			parts[i] = string(r)
		}
		// The batch of the redacted events decodes to the same events.
		again, err := DecodeBatch([]byte(`{"events":[`+strings.Join(parts, ",")+`]}`), max)
		if err != nil {
			t.Fatalf("redacted batch does not decode: %v", err)
		}
		for i := range events {
			events[i].Credential = Credential{}
		}
		if diff := cmp.Diff(events, again, cmpOpts); diff != "" {
			t.Fatalf("batch round trip (-first +second):\n%s", diff)
		}
	})
}

func checkFuzzError(t *testing.T, err error) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %T %v is not a *FieldError", err, err)
	}
	if fe.Detail == "" {
		t.Fatalf("empty detail for field %q", fe.Field)
	}
	if !utf8.ValidString(fe.Detail) {
		t.Fatalf("detail %+q is not valid UTF-8", fe.Detail)
	}
	checkDetail(t, fe)
}

// checkRoundTrip checks the invariants of a decoded event and that its
// redacted JSON decodes to the same event without the credential, and
// encodes to the same bytes again.
func checkRoundTrip(t *testing.T, e Event) {
	t.Helper()
	if !e.Context.IP.IsValid() || e.Context.IP.Is4In6() || e.Context.IP.Zone() != "" {
		t.Fatalf("IP %v is invalid, mapped or zoned", e.Context.IP)
	}
	if e.OccurredAt.Location() != time.UTC {
		t.Fatalf("OccurredAt %v not in UTC", e.OccurredAt)
	}
	if y := e.OccurredAt.Year(); y < 2000 || y > 2999 {
		t.Fatalf("OccurredAt %v out of range", e.OccurredAt)
	}
	if ident.Normalize(e.Login) != e.Login || ident.Normalize(e.User.Email) != e.User.Email {
		t.Fatalf("login %+q or email %+q not normalized", e.Login, e.User.Email)
	}
	for k := range e.Context.Headers {
		if k != strings.ToLower(strings.TrimSpace(k)) || k == "" {
			t.Fatalf("header name %+q not normalized", k)
		}
	}
	if e.Context.Headers != nil && len(e.Context.Headers) == 0 {
		t.Fatal("empty, non-nil headers")
	}
	if !e.Credential.HasPassword && e.Credential.PasswordSHA1 != ([20]byte{}) {
		t.Fatal("password hash without HasPassword")
	}

	checkSameAsEncodingJSON(t, &e)
	r, err := e.MarshalRedacted()
	if err != nil {
		t.Fatalf("MarshalRedacted: %v", err)
	}
	if bytes.Contains(r, []byte("credential")) {
		t.Fatalf("redacted JSON has the credential: %s", r)
	}
	again, err := Decode(r)
	if err != nil {
		t.Fatalf("redacted JSON does not decode: %v\n%s", err, r)
	}
	want := e
	want.Credential = Credential{}
	if diff := cmp.Diff(want, again, cmpOpts); diff != "" {
		t.Fatalf("round trip (-decoded +decoded again):\n%s\nredacted: %s", diff, r)
	}
	if again.OccurredAt.Location() != time.UTC {
		t.Fatal("round trip lost UTC")
	}
	r2, err := again.MarshalRedacted()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r, r2) {
		t.Fatalf("redacted JSON not stable:\n%s\n%s", r, r2)
	}
}
