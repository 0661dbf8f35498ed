package breach

import "bytes"

// An index stores each entry as a fixed-width record of 21 bytes in the
// bucket of its five-digit prefix. The prefix (20 bits) is implied by the
// bucket, so a record holds the other 140 bits of the digest, left-aligned
// (17.5 bytes), and the count in the remaining 28 bits:
//
//	bytes 0-16   digest nibbles 5-38
//	byte 17      high nibble: digest nibble 39; low nibble: count bits 24-27
//	bytes 18-20  count bits 0-23, big-endian
//
// Records of one bucket sort like their digests, so a lookup is a binary
// search within one bucket and a range answer is one bucket read as is.
const recordSize = 21

// putRecord encodes e into rec, clamping the count to MaxCount.
func putRecord(rec []byte, e *Entry) {
	_ = rec[recordSize-1]
	h := &e.SHA1
	for i := 0; i < 17; i++ {
		rec[i] = h[2+i]<<4 | h[3+i]>>4
	}
	c := uint32(min(max(e.Count, 0), MaxCount))
	rec[17] = h[19]<<4 | byte(c>>24)&0x0f
	rec[18] = byte(c >> 16)
	rec[19] = byte(c >> 8)
	rec[20] = byte(c)
}

// getRecord decodes the record rec of bucket p.
func getRecord(rec []byte, p Prefix, e *Entry) {
	_ = rec[recordSize-1]
	h := &e.SHA1
	h[0] = byte(p >> 12)
	h[1] = byte(p >> 4)
	h[2] = byte(p)<<4 | rec[0]>>4
	for i := 0; i < 17; i++ {
		h[3+i] = rec[i]<<4 | rec[i+1]>>4
	}
	e.Count = int64(rec[17]&0x0f)<<24 | int64(rec[18])<<16 | int64(rec[19])<<8 | int64(rec[20])
}

// recordKey is the part of a record that identifies the digest within its
// bucket.
type recordKey struct {
	head [17]byte
	tail byte // the high nibble of byte 17
}

func keyOf(sha1 *[20]byte) recordKey {
	var k recordKey
	for i := 0; i < 17; i++ {
		k.head[i] = sha1[2+i]<<4 | sha1[3+i]>>4
	}
	k.tail = sha1[19] << 4
	return k
}

// compareRecord compares the digest of rec with k.
func compareRecord(rec []byte, k *recordKey) int {
	if c := bytes.Compare(rec[:17], k.head[:]); c != 0 {
		return c
	}
	a, b := rec[17]&0xf0, k.tail
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// searchBucket finds sha1 among the records of one bucket.
func searchBucket(bucket []byte, sha1 *[20]byte) (int64, bool) {
	k := keyOf(sha1)
	lo, hi := 0, len(bucket)/recordSize
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		rec := bucket[m*recordSize : (m+1)*recordSize]
		switch c := compareRecord(rec, &k); {
		case c < 0:
			lo = m + 1
		case c > 0:
			hi = m
		default:
			var e Entry
			getRecord(rec, PrefixOf(sha1), &e)
			return e.Count, true
		}
	}
	return 0, false
}
