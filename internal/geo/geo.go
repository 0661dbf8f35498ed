// Package geo looks up the country and autonomous system of an IP address in
// MaxMind-format (mmdb) databases, such as GeoLite2 or DB-IP Lite.
package geo

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/oschwald/maxminddb-golang/v2"
)

// Config names the databases to open. The zero value opens none, and every
// lookup then answers Info{}.
type Config struct {
	// CountryDB is the path to a country database with country.iso_code
	// (GeoLite2-Country, GeoLite2-City, DB-IP country or city lite).
	// Empty: countries are not looked up.
	CountryDB string `yaml:"country_db"`
	// ASNDB is the path to an ASN database with autonomous_system_number and
	// autonomous_system_organization (GeoLite2-ASN, DB-IP ASN lite).
	// Empty: autonomous systems are not looked up.
	ASNDB string `yaml:"asn_db"`
}

// Info is what is known of an address. Unknown parts are zero.
type Info struct {
	Country string // ISO 3166-1 alpha-2 code, such as "JP"; "" if unknown
	ASN     uint32 // autonomous system number; 0 if unknown
	ASOrg   string // autonomous system organization; "" if unknown
}

// countryRecord is the part of a country database record that is decoded.
type countryRecord struct {
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
}

// asnRecord is the part of an ASN database record that is decoded.
type asnRecord struct {
	Number uint32 `maxminddb:"autonomous_system_number"`
	Org    string `maxminddb:"autonomous_system_organization"`
}

// records holds one lookup's decoding targets. Passing a pointer to
// Decode's any parameter moves a local to the heap, so Lookup borrows a
// records from recordsPool instead and allocates nothing.
type records struct {
	country countryRecord
	asn     asnRecord
}

var recordsPool = sync.Pool{New: func() any { return new(records) }}

// probeRecords is how many records Open decodes from each database to check
// that it has the expected fields with the expected types.
const probeRecords = 64

// DB answers lookups from the configured databases. It is safe for
// concurrent use, Close included: lookups after Close answer Info{}.
type DB struct {
	mu      sync.RWMutex      // write-locked only by Close
	country *maxminddb.Reader // nil: none configured, or closed
	asn     *maxminddb.Reader // nil: none configured, or closed
}

// Open opens the databases cfg names. A database that is missing, is not an
// mmdb file, or whose records lack the expected fields (or hold them with
// other types) is an error naming its file.
func Open(cfg Config) (*DB, error) {
	d := &DB{}
	if cfg.CountryDB != "" {
		r, err := openChecked(cfg.CountryDB, "country", "country.iso_code",
			func(rec *countryRecord) bool { return rec.Country.ISOCode != "" })
		if err != nil {
			return nil, err
		}
		d.country = r
	}
	if cfg.ASNDB != "" {
		r, err := openChecked(cfg.ASNDB, "ASN", "autonomous_system_number",
			func(rec *asnRecord) bool { return rec.Number != 0 })
		if err != nil {
			d.Close()
			return nil, err
		}
		d.asn = r
	}
	return d, nil
}

// openChecked opens the mmdb file at path and decodes up to probeRecords of
// its records into T: a decoding error, or no record for which has is true,
// means the file is not the kind of database asked for.
func openChecked[T any](path, kind, field string, has func(*T) bool) (*maxminddb.Reader, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening %s database %s: %w", kind, path, err)
	}
	if err := probe(r, field, has); err != nil {
		r.Close()
		return nil, fmt.Errorf("opening %s database %s: %w", kind, path, err)
	}
	return r, nil
}

func probe[T any](r *maxminddb.Reader, field string, has func(*T) bool) error {
	n := 0
	for res := range r.Networks() {
		var rec T
		if err := res.Decode(&rec); err != nil {
			return fmt.Errorf("record for %s: %w", res.Prefix(), err)
		}
		if has(&rec) {
			return nil
		}
		if n++; n == probeRecords {
			break
		}
	}
	return errors.New("no record has " + field)
}

// Lookup returns what the databases know of ip. It never fails: an address
// that is invalid or in no database, or a record that cannot be decoded,
// gives zero fields.
func (d *DB) Lookup(ip netip.Addr) Info {
	var info Info
	if !ip.IsValid() {
		return info
	}
	ip = ip.Unmap()
	recs := recordsPool.Get().(*records)
	*recs = records{}
	defer recordsPool.Put(recs)
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.country != nil {
		if res := d.country.Lookup(ip); res.Found() && res.Decode(&recs.country) == nil {
			info.Country = recs.country.Country.ISOCode
		}
	}
	if d.asn != nil {
		if res := d.asn.Lookup(ip); res.Found() && res.Decode(&recs.asn) == nil {
			info.ASN, info.ASOrg = recs.asn.Number, recs.asn.Org
		}
	}
	return info
}

// Close releases the databases. Calling it again does nothing.
func (d *DB) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	var errs []error
	for _, r := range []**maxminddb.Reader{&d.country, &d.asn} {
		if *r == nil {
			continue
		}
		if err := (*r).Close(); err != nil {
			errs = append(errs, fmt.Errorf("closing geo database: %w", err))
		}
		*r = nil
	}
	return errors.Join(errs...)
}
