package geo

import (
	"errors"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
)

// writeDB builds an mmdb file named name in dir holding records, keyed by
// network, and returns its path.
func writeDB(t testing.TB, dir, name string, records map[string]mmdbtype.DataType) string {
	t.Helper()
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		DatabaseType:            "atoguard-test-" + name,
		IncludeReservedNetworks: true, // the fixtures use documentation ranges
		RecordSize:              24,
	})
	if err != nil {
		t.Fatal(err)
	}
	for network, rec := range records {
		_, ipnet, err := net.ParseCIDR(network)
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Insert(ipnet, rec); err != nil {
			t.Fatalf("inserting %s: %v", network, err)
		}
	}
	path := filepath.Join(dir, name+".mmdb")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tree.WriteTo(f); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func country(iso string) mmdbtype.DataType {
	return mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.String(iso)}}
}

func asn(number uint32, org string) mmdbtype.DataType {
	return mmdbtype.Map{
		"autonomous_system_number":       mmdbtype.Uint32(number),
		"autonomous_system_organization": mmdbtype.String(org),
	}
}

// fixtures writes a country and an ASN database into a fresh directory.
func fixtures(t testing.TB) (dir, countryDB, asnDB string) {
	t.Helper()
	dir = t.TempDir()
	countryDB = writeDB(t, dir, "country", map[string]mmdbtype.DataType{
		"203.0.113.0/24":  country("JP"),
		"198.51.100.0/24": country("US"),
		"2001:db8::/32":   country("DE"),
	})
	asnDB = writeDB(t, dir, "asn", map[string]mmdbtype.DataType{
		"203.0.113.0/24":  asn(2516, "KDDI"),
		"198.51.100.0/24": asn(15169, "GOOGLE"),
		"2001:db8::/32":   asn(3320, "Deutsche Telekom AG"),
	})
	return dir, countryDB, asnDB
}

func mustOpen(t testing.TB, cfg Config) *DB {
	t.Helper()
	db, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestLookup(t *testing.T) {
	_, countryDB, asnDB := fixtures(t)
	both := mustOpen(t, Config{CountryDB: countryDB, ASNDB: asnDB})
	countryOnly := mustOpen(t, Config{CountryDB: countryDB})
	asnOnly := mustOpen(t, Config{ASNDB: asnDB})
	none := mustOpen(t, Config{})

	jp := Info{Country: "JP", ASN: 2516, ASOrg: "KDDI"}
	tests := []struct {
		name string
		db   *DB
		ip   netip.Addr
		want Info
	}{
		{"IPv4 JP", both, netip.MustParseAddr("203.0.113.7"), jp},
		{"IPv4 first of network", both, netip.MustParseAddr("203.0.113.0"), jp},
		{"IPv4 last of network", both, netip.MustParseAddr("203.0.113.255"), jp},
		{"IPv4-mapped IPv6", both, netip.MustParseAddr("::ffff:203.0.113.7"), jp},
		{"IPv4 US", both, netip.MustParseAddr("198.51.100.200"), Info{Country: "US", ASN: 15169, ASOrg: "GOOGLE"}},
		{"IPv6 DE", both, netip.MustParseAddr("2001:db8:1234::1"), Info{Country: "DE", ASN: 3320, ASOrg: "Deutsche Telekom AG"}},
		{"IPv6 with zone", both, netip.MustParseAddr("2001:db8::1%eth0"), Info{Country: "DE", ASN: 3320, ASOrg: "Deutsche Telekom AG"}},
		{"IPv4 in neither", both, netip.MustParseAddr("192.0.2.1"), Info{}},
		{"IPv4 next to a network", both, netip.MustParseAddr("203.0.114.0"), Info{}},
		{"IPv6 in neither", both, netip.MustParseAddr("2001:db9::1"), Info{}},
		{"invalid address", both, netip.Addr{}, Info{}},
		{"country only", countryOnly, netip.MustParseAddr("203.0.113.7"), Info{Country: "JP"}},
		{"ASN only", asnOnly, netip.MustParseAddr("203.0.113.7"), Info{ASN: 2516, ASOrg: "KDDI"}},
		{"no databases", none, netip.MustParseAddr("203.0.113.7"), Info{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.db.Lookup(tt.ip)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Lookup(%v) mismatch (-want +got):\n%s", tt.ip, diff)
			}
		})
	}
}

func TestOpenErrors(t *testing.T) {
	dir, countryDB, asnDB := fixtures(t)
	missing := filepath.Join(dir, "missing.mmdb")
	notMMDB := filepath.Join(dir, "not.mmdb")
	if err := os.WriteFile(notMMDB, []byte("ip,country\n203.0.113.0/24,JP\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty.mmdb")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	asnAsText := writeDB(t, dir, "asn-as-text", map[string]mmdbtype.DataType{
		"203.0.113.0/24": mmdbtype.Map{"autonomous_system_number": mmdbtype.String("AS2516")},
	})
	countryAsNumber := writeDB(t, dir, "country-as-number", map[string]mmdbtype.DataType{
		"203.0.113.0/24": mmdbtype.Map{"country": mmdbtype.Map{"iso_code": mmdbtype.Uint32(392)}},
	})
	noRecords := writeDB(t, dir, "no-records", nil)

	tests := []struct {
		name    string
		cfg     Config
		want    string
		notExst bool // errors.Is(err, fs.ErrNotExist)
	}{
		{
			name:    "missing country database",
			cfg:     Config{CountryDB: missing, ASNDB: asnDB},
			want:    "opening country database " + missing + ": open " + missing + ": no such file or directory",
			notExst: true,
		},
		{
			name:    "missing ASN database",
			cfg:     Config{CountryDB: countryDB, ASNDB: missing},
			want:    "opening ASN database " + missing + ": open " + missing + ": no such file or directory",
			notExst: true,
		},
		{
			name: "country database not an mmdb",
			cfg:  Config{CountryDB: notMMDB},
			want: "opening country database " + notMMDB + ": error opening database: invalid MaxMind DB file",
		},
		{
			name: "ASN database empty",
			cfg:  Config{ASNDB: empty},
			want: "opening ASN database " + empty + ": file is empty",
		},
		{
			name: "ASN database given as country",
			cfg:  Config{CountryDB: asnDB},
			want: "opening country database " + asnDB + ": no record has country.iso_code",
		},
		{
			name: "country database given as ASN",
			cfg:  Config{ASNDB: countryDB},
			want: "opening ASN database " + countryDB + ": no record has autonomous_system_number",
		},
		{
			name: "ASN number is text",
			cfg:  Config{ASNDB: asnAsText},
			want: "opening ASN database " + asnAsText + ": record for 203.0.113.0/24: " +
				"at offset 0, path /autonomous_system_number: maxminddb: cannot unmarshal AS2516 (string) into type uint32",
		},
		{
			name: "country code is a number",
			cfg:  Config{CountryDB: countryAsNumber},
			want: "opening country database " + countryAsNumber + ": record for 203.0.113.0/24: " +
				"at offset 0, path /country/iso_code: maxminddb: cannot unmarshal 392 (uint64) into type string",
		},
		{
			name: "database without records",
			cfg:  Config{CountryDB: noRecords},
			want: "opening country database " + noRecords + ": no record has country.iso_code",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db, err := Open(tt.cfg)
			if err == nil {
				db.Close()
				t.Fatalf("Open(%+v) = nil error, want %q", tt.cfg, tt.want)
			}
			if db != nil {
				t.Errorf("Open(%+v) returned a DB with error %v", tt.cfg, err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Open(%+v) error:\n got %q\nwant %q", tt.cfg, got, tt.want)
			}
			if got := errors.Is(err, fs.ErrNotExist); got != tt.notExst {
				t.Errorf("errors.Is(%v, fs.ErrNotExist) = %v, want %v", err, got, tt.notExst)
			}
		})
	}
}

func TestOpenEmptyConfig(t *testing.T) {
	db, err := Open(Config{})
	if err != nil {
		t.Fatalf("Open(Config{}) error: %v", err)
	}
	for _, s := range []string{"203.0.113.7", "2001:db8::1", "0.0.0.0"} {
		if got := db.Lookup(netip.MustParseAddr(s)); got != (Info{}) {
			t.Errorf("Lookup(%s) = %+v, want Info{}", s, got)
		}
	}
	if err := db.Close(); err != nil {
		t.Errorf("Close() = %v, want nil", err)
	}
}

func TestClose(t *testing.T) {
	_, countryDB, asnDB := fixtures(t)
	db, err := Open(Config{CountryDB: countryDB, ASNDB: asnDB})
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("203.0.113.7")
	if got, want := db.Lookup(ip), (Info{Country: "JP", ASN: 2516, ASOrg: "KDDI"}); got != want {
		t.Fatalf("Lookup(%v) before Close = %+v, want %+v", ip, got, want)
	}
	for i := range 2 {
		if err := db.Close(); err != nil {
			t.Errorf("Close() #%d = %v, want nil", i+1, err)
		}
	}
	if got := db.Lookup(ip); got != (Info{}) {
		t.Errorf("Lookup(%v) after Close = %+v, want Info{}", ip, got)
	}
}

// TestConcurrentLookupAndClose is for the race detector: lookups run while
// the DB closes, and each answers either the record or Info{}.
func TestConcurrentLookupAndClose(t *testing.T) {
	_, countryDB, asnDB := fixtures(t)
	db, err := Open(Config{CountryDB: countryDB, ASNDB: asnDB})
	if err != nil {
		t.Fatal(err)
	}
	ip := netip.MustParseAddr("2001:db8::1")
	want := Info{Country: "DE", ASN: 3320, ASOrg: "Deutsche Telekom AG"}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				if got := db.Lookup(ip); got != want && got != (Info{}) {
					t.Errorf("Lookup(%v) = %+v, want %+v or Info{}", ip, got, want)
					return
				}
			}
		})
	}
	wg.Go(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	wg.Wait()
}

func BenchmarkLookup(b *testing.B) {
	_, countryDB, asnDB := fixtures(b)
	db := mustOpen(b, Config{CountryDB: countryDB, ASNDB: asnDB})
	for _, bb := range []struct {
		name string
		ip   netip.Addr
	}{
		{"IPv4 found", netip.MustParseAddr("203.0.113.7")},
		{"IPv6 found", netip.MustParseAddr("2001:db8::1")},
		{"not found", netip.MustParseAddr("192.0.2.1")},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				db.Lookup(bb.ip)
			}
		})
	}
	b.Run("parallel", func(b *testing.B) {
		ip := netip.MustParseAddr("198.51.100.9")
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				db.Lookup(ip)
			}
		})
	})
}
