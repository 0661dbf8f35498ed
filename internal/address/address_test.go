package address

import "testing"

func TestKeyVariantsAgree(t *testing.T) {
	tests := []struct {
		name     string
		variants []Address
	}{
		{"千代田", []Address{
			{PostalCode: "100-0001", Country: "JP", Region: "東京都", City: "千代田区", Line1: "千代田1-1"},
			{PostalCode: "〒100-0001", Country: "jp", Region: "東京都", City: "千代田区", Line1: "千代田１−１"},
			{PostalCode: "１００－０００１", Country: "JP", Region: "東京都 ", City: " 千代田区", Line1: "千代田 一丁目1番"},
			{PostalCode: "1000001", Country: "JP", Region: "東京都", City: "千代田区", Line1: "千代田1丁目1"},
			{PostalCode: "100 0001", Country: "JP", Region: "東京都", City: "千代田区", Line1: "千代田１ー１"},
		}},
		{"梅田 with building", []Address{
			{PostalCode: "530-0001", Country: "JP", Region: "大阪府", City: "大阪市北区", Line1: "梅田3-1-3", Line2: "ABCビル 5F"},
			{PostalCode: "530-0001", Country: "JP", Region: "大阪府", City: "大阪市北区", Line1: "梅田三丁目１番３号", Line2: "ＡＢＣビル５Ｆ"},
			{PostalCode: "530-0001", Country: "JP", Region: "大阪府", City: "大阪市北区", Line1: "梅田３丁目１番地の３", Line2: "ａｂｃビル　５ｆ"},
			{PostalCode: "530-0001", Country: "JP", Region: "大阪府", City: "大阪市北区", Line1: "梅田3―1―3", Line2: "ABCビル5F"},
		}},
		{"twenty-three", []Address{
			{PostalCode: "060-0001", Country: "JP", Region: "北海道", City: "札幌市中央区", Line1: "北一条西二十三丁目4番"},
			{PostalCode: "060-0001", Country: "JP", Region: "北海道", City: "札幌市中央区", Line1: "北一条西23-4"},
		}},
		{"convenience store pickup written two ways", []Address{
			{PostalCode: "150-0002", Country: "JP", Region: "東京都", City: "渋谷区", Line1: "渋谷２－２４－１２"},
			{PostalCode: "150-0002", Country: "JP", Region: "東京都", City: "渋谷区", Line1: "渋谷二丁目24番12号"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := Key(tt.variants[0])
			for i, v := range tt.variants[1:] {
				if got := Key(v); got != want {
					t.Errorf("variant %d: Key = %q, want %q", i+1, got, want)
				}
			}
		})
	}
}

func TestKeyDistinguishes(t *testing.T) {
	a := Address{PostalCode: "100-0001", Country: "JP", Region: "東京都", City: "千代田区", Line1: "千代田1-1"}
	for _, b := range []Address{
		{PostalCode: "100-0001", Country: "JP", Region: "東京都", City: "千代田区", Line1: "千代田1-2"},
		{PostalCode: "100-0002", Country: "JP", Region: "東京都", City: "千代田区", Line1: "千代田1-1"},
		{PostalCode: "102-0074", Country: "JP", Region: "東京都", City: "千代田区", Line1: "九段南1-1"},
		{PostalCode: "100-0001", Country: "JP", Region: "東京都", City: "千代田区", Line1: "千代田11"},
	} {
		if Key(a) == Key(b) {
			t.Errorf("%+v and %+v share key %q", a, b, Key(a))
		}
	}
	if Key(Address{}) != "" {
		t.Error("empty address has a key")
	}
}

func TestNormalize(t *testing.T) {
	tests := map[string]string{
		"九段南一丁目２番１号":    "九段南1-2-1",
		"千代田　1－1":       "千代田1-1",
		"西新宿二丁目8番1号":    "西新宿2-8-1",
		"銀座四丁目":         "銀座4",
		"ｶﾀｶﾅﾋﾞﾙ 101号室": "カタカナビル101号室",
	}
	for in, want := range tests {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
	if got := Postal("〒１００－０００１"); got != "1000001" {
		t.Errorf("Postal = %q", got)
	}
}

func FuzzKey(f *testing.F) {
	f.Add("100-0001", "東京都", "千代田区", "千代田一丁目1番")
	f.Add("", "", "", "二十三番地の十号")
	f.Fuzz(func(t *testing.T, postal, region, city, line string) {
		a := Address{PostalCode: postal, Region: region, City: city, Line1: line}
		if Key(a) != Key(a) {
			t.Fatal("Key is not deterministic")
		}
	})
}
