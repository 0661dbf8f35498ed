package proxy

import (
	"maps"
	"slices"
	"strings"
	"testing"
)

func TestExtract(t *testing.T) {
	mp := "--B\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na@b.jp\r\n--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"x\"\r\n\r\nfile\r\n--B--\r\n"
	tests := []struct {
		name, ct, body string
		names          []string
		want           Values
		err            bool
	}{
		{"form", "application/x-www-form-urlencoded", "email=a%40b.jp&password=p%26w&sku=1&sku=2", []string{"email", "password", "sku", "none"},
			Values{"email": {"a@b.jp"}, "password": {"p&w"}, "sku": {"1", "2"}}, false},
		{"form without content type", "", "email=x", []string{"email"}, Values{"email": {"x"}}, false},
		{"json nested", "application/json; charset=utf-8", `{"user":{"email":"a@b.jp","pw":"s"},"total":131800,"items":[{"sku":"a"},{"sku":"b"}],"ok":true}`,
			[]string{"user.email", "user.pw", "total", "items.sku", "ok", "user"}, Values{"user.email": {"a@b.jp"}, "user.pw": {"s"}, "total": {"131800"}, "items.sku": {"a", "b"}, "ok": {"true"}}, false},
		{"json sniffed", "", ` {"email":"x"}`, []string{"email"}, Values{"email": {"x"}}, false},
		{"problem+json", "application/vnd.api+json", `{"email":"x"}`, []string{"email"}, Values{"email": {"x"}}, false},
		{"multipart", "multipart/form-data; boundary=B", mp, []string{"email", "f"}, Values{"email": {"a@b.jp"}}, false},
		{"bad json", "application/json", `{"email":`, []string{"email"}, nil, true},
		{"deep json", "application/json", strings.Repeat("[", 40) + strings.Repeat("]", 40), []string{"a"}, nil, true},
		{"bad form", "application/x-www-form-urlencoded", "a=%zz", []string{"a"}, nil, true},
		{"other type", "text/plain", "email=x", []string{"email"}, nil, true},
		{"multipart without boundary", "multipart/form-data", "x", []string{"a"}, nil, true},
	}
	for _, tt := range tests {
		got, err := extract(tt.ct, []byte(tt.body), tt.names)
		if (err != nil) != tt.err {
			t.Errorf("%s: err %v", tt.name, err)
			continue
		}
		if !tt.err && !maps.EqualFunc(got, tt.want, slices.Equal) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseAmount(t *testing.T) {
	for in, want := range map[string]int64{"131800": 131800, "131,800": 131800, "¥131,800": 131800, "1318.00": 1318, " 50000円": 50000,
		"": 0, "-5": 0, "12abc": 0, "99999999999999999999": 0} {
		if got := parseAmount(in); got != want {
			t.Errorf("parseAmount(%q) = %d, want %d", in, got, want)
		}
	}
}

// FuzzExtract: no body makes the parser panic, return more values than
// allowed, or invent a field not asked for.
func FuzzExtract(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", "email=a%40b.jp&password=x&sku=1&sku=2")
	f.Add("application/json", `{"user":{"email":"a"},"items":[{"sku":"a"},{"sku":2}],"password":"p"}`)
	f.Add("multipart/form-data; boundary=B", "--B\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\na\r\n--B--\r\n")
	f.Add("", `[[[[{"email":[1,2,"x"]}]]]]`)
	f.Add("application/json", `{"email":"\ud800","a":"\\"}`)
	names := []string{"email", "password", "sku", "user.email", "items.sku"}
	f.Fuzz(func(t *testing.T, ct, body string) {
		got, err := extract(ct, []byte(body), names)
		if err != nil {
			return
		}
		for k, vs := range got {
			if !slices.Contains(names, k) || len(vs) == 0 || len(vs) > maxValues {
				t.Fatalf("field %q with %d values", k, len(vs))
			}
		}
	})
}
