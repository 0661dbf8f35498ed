package breach

import (
	"bufio"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/bits"
	"os"
	"sync"

	"github.com/FastFilter/xorfilter"
)

// The index file, version 1 (little-endian):
//
//	header   80 bytes (see header)
//	records  21 bytes each, bucket by bucket (see record.go)
//	table    (NumPrefixes+1) uint32: table[p] is the number of records in
//	         the buckets before p, so bucket p is records table[p]..table[p+1]
//	filters  2^shardBits binary fuse filters (8-bit fingerprints), one per
//	         range of the digest's top shardBits bits, over the digest's
//	         first 8 bytes
//
// The header records the offsets and a CRC-32C of the table and the
// filters, which are loaded into memory at open; records stay on disk and
// are read one bucket at a time.
const (
	headerSize  = 80
	tableSize   = 4 * (NumPrefixes + 1)
	fileVersion = 1
	// maxShardKeys bounds the keys of one filter, and so the memory an
	// import needs to build it (about 30 bytes a key).
	maxShardKeys = 1 << 22
	maxShardBits = 12
)

var magic = [8]byte{'A', 'G', 'P', 'W', 'I', 'D', 'X', '\n'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is returned when an index file is not a valid index.
var ErrCorrupt = errors.New("corrupt breached-password index")

type header struct {
	version   uint32
	shardBits uint32
	entries   uint64
	tableOff  uint64
	filterOff uint64
	filterLen uint64
	id        [16]byte // random, new for every index written
	crc       uint32   // CRC-32C of table and filters
}

func (h *header) marshal() []byte {
	b := make([]byte, headerSize)
	copy(b, magic[:])
	le := binary.LittleEndian
	le.PutUint32(b[8:], h.version)
	le.PutUint32(b[12:], h.shardBits)
	le.PutUint64(b[16:], h.entries)
	le.PutUint64(b[24:], h.tableOff)
	le.PutUint64(b[32:], h.filterOff)
	le.PutUint64(b[40:], h.filterLen)
	copy(b[48:64], h.id[:])
	le.PutUint32(b[64:], h.crc)
	// b[68:76] reserved
	le.PutUint32(b[76:], crc32.Checksum(b[:76], castagnoli))
	return b
}

func (h *header) unmarshal(b []byte, size int64) error {
	le := binary.LittleEndian
	if len(b) < headerSize || [8]byte(b[:8]) != magic {
		return fmt.Errorf("%w: not an index file", ErrCorrupt)
	}
	if le.Uint32(b[76:]) != crc32.Checksum(b[:76], castagnoli) {
		return fmt.Errorf("%w: header checksum", ErrCorrupt)
	}
	h.version = le.Uint32(b[8:])
	if h.version != fileVersion {
		return fmt.Errorf("%w: version %d, want %d", ErrCorrupt, h.version, fileVersion)
	}
	h.shardBits = le.Uint32(b[12:])
	h.entries = le.Uint64(b[16:])
	h.tableOff = le.Uint64(b[24:])
	h.filterOff = le.Uint64(b[32:])
	h.filterLen = le.Uint64(b[40:])
	copy(h.id[:], b[48:64])
	h.crc = le.Uint32(b[64:])
	switch {
	case h.shardBits > maxShardBits,
		h.entries > 1<<32-1,
		h.tableOff != headerSize+h.entries*recordSize,
		h.filterOff != h.tableOff+tableSize,
		h.filterLen > uint64(size),
		h.filterOff+h.filterLen != uint64(size):
		return fmt.Errorf("%w: inconsistent sizes", ErrCorrupt)
	}
	return nil
}

// Index is an on-disk index of breached-password digests, opened read-only.
// It is safe for concurrent use.
type Index struct {
	f         *os.File
	hdr       header
	table     []uint32
	shardBits uint
	filters   []xorfilter.BinaryFuse[uint8]
}

// Open opens an index file written by Import. It loads the prefix table
// (4 MiB) and the filters (about 1.1 bytes an entry) into memory.
func Open(path string) (*Index, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening breached-password index: %w", err)
	}
	ix, err := load(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("breached-password index %s: %w", path, err)
	}
	return ix, nil
}

func load(f *os.File) (*Index, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	b := make([]byte, headerSize)
	if _, err := f.ReadAt(b, 0); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: truncated", ErrCorrupt)
		}
		return nil, err
	}
	ix := &Index{f: f}
	if err := ix.hdr.unmarshal(b, st.Size()); err != nil {
		return nil, err
	}
	ix.shardBits = uint(ix.hdr.shardBits)
	rest := make([]byte, tableSize+ix.hdr.filterLen)
	if _, err := f.ReadAt(rest, int64(ix.hdr.tableOff)); err != nil {
		return nil, fmt.Errorf("reading table and filters: %w", err)
	}
	if crc32.Checksum(rest, castagnoli) != ix.hdr.crc {
		return nil, fmt.Errorf("%w: table or filter checksum", ErrCorrupt)
	}
	ix.table = make([]uint32, NumPrefixes+1)
	prev := uint32(0)
	for i := range ix.table {
		v := binary.LittleEndian.Uint32(rest[4*i:])
		if v < prev {
			return nil, fmt.Errorf("%w: table not sorted", ErrCorrupt)
		}
		ix.table[i], prev = v, v
	}
	if uint64(prev) != ix.hdr.entries || ix.table[0] != 0 {
		return nil, fmt.Errorf("%w: table does not cover the records", ErrCorrupt)
	}
	if ix.filters, err = readFilters(rest[tableSize:], 1<<ix.shardBits); err != nil {
		return nil, err
	}
	return ix, nil
}

// Close closes the index file.
func (ix *Index) Close() error { return ix.f.Close() }

// Len returns the number of entries.
func (ix *Index) Len() int64 { return int64(ix.hdr.entries) }

// ID identifies this version of the index: every import writes a new one.
func (ix *Index) ID() string { return hex.EncodeToString(ix.hdr.id[:]) }

// FilterBytes returns the memory the filters take.
func (ix *Index) FilterBytes() int64 {
	var n int64
	for i := range ix.filters {
		n += int64(len(ix.filters[i].Fingerprints))
	}
	return n
}

func filterKey(sha1 *[20]byte) uint64 { return binary.BigEndian.Uint64(sha1[:8]) }

// MayContain reports whether the filter admits sha1: false means it is
// certainly absent; true means present or a false positive (about 0.4%).
func (ix *Index) MayContain(sha1 [20]byte) bool { return ix.mayContain(&sha1) }

func (ix *Index) mayContain(sha1 *[20]byte) bool {
	k := filterKey(sha1)
	f := &ix.filters[shardOf(k, ix.shardBits)]
	if len(f.Fingerprints) == 0 {
		return false
	}
	return f.Contains(k)
}

func shardOf(key uint64, shardBits uint) int {
	if shardBits == 0 {
		return 0
	}
	return int(key >> (64 - shardBits))
}

var bucketPool = sync.Pool{New: func() any { b := make([]byte, 0, 64*recordSize); return &b }}

// bucket reads the records of prefix p into a pooled buffer.
func (ix *Index) bucket(p Prefix) (*[]byte, error) {
	lo, hi := ix.table[p], ix.table[p+1]
	bp := bucketPool.Get().(*[]byte)
	n := int(hi-lo) * recordSize
	if cap(*bp) < n {
		*bp = make([]byte, n)
	}
	*bp = (*bp)[:n]
	if n == 0 {
		return bp, nil
	}
	if _, err := ix.f.ReadAt(*bp, headerSize+int64(lo)*recordSize); err != nil {
		bucketPool.Put(bp)
		return nil, fmt.Errorf("reading breached-password index: %w", err)
	}
	return bp, nil
}

// Count returns how often sha1 was seen.
func (ix *Index) Count(sha1 [20]byte) (int64, bool, error) {
	if !ix.mayContain(&sha1) {
		return 0, false, nil
	}
	bp, err := ix.bucket(PrefixOf(&sha1))
	if err != nil {
		return 0, false, err
	}
	defer bucketPool.Put(bp)
	n, ok := searchBucket(*bp, &sha1)
	return n, ok, nil
}

// Range returns the entries under prefix p, sorted by digest.
func (ix *Index) Range(p Prefix) ([]Entry, error) {
	if p >= NumPrefixes {
		return nil, fmt.Errorf("prefix %d: %w", p, ErrBadPrefix)
	}
	bp, err := ix.bucket(p)
	if err != nil {
		return nil, err
	}
	defer bucketPool.Put(bp)
	out := make([]Entry, len(*bp)/recordSize)
	for i := range out {
		getRecord((*bp)[i*recordSize:], p, &out[i])
	}
	return out, nil
}

// cursor reads an index's entries in digest order, sequentially.
type cursor struct {
	ix  *Index
	r   *bufio.Reader
	p   Prefix
	i   uint32
	rec [recordSize]byte
}

func (ix *Index) cursor() *cursor {
	return &cursor{ix: ix, r: bufio.NewReaderSize(io.NewSectionReader(ix.f, headerSize, int64(ix.hdr.entries)*recordSize), 1<<20)}
}

// next decodes the next entry into e; ok is false at the end.
func (c *cursor) next(e *Entry) (bool, error) {
	for c.p < NumPrefixes && c.ix.table[c.p+1] <= c.i {
		c.p++
	}
	if c.p >= NumPrefixes {
		return false, nil
	}
	if _, err := io.ReadFull(c.r, c.rec[:]); err != nil {
		return false, fmt.Errorf("reading breached-password index: %w", err)
	}
	getRecord(c.rec[:], c.p, e)
	c.i++
	return true, nil
}

// shardBitsFor returns how many top bits of the digest split the filter so
// that a shard holds at most maxShardKeys of n keys.
func shardBitsFor(n uint64) uint {
	if n <= maxShardKeys {
		return 0
	}
	return min(uint(bits.Len64((n-1)/maxShardKeys)), maxShardBits)
}

// A filter is stored as its parameters (seed uint64, then segment length,
// its mask, segment count, segment count × length and the number of
// fingerprints, uint32 each) followed by the fingerprints.
const filterHeader = 8 + 5*4

func appendFilter(b []byte, f *xorfilter.BinaryFuse[uint8]) []byte {
	le := binary.LittleEndian
	b = le.AppendUint64(b, f.Seed)
	b = le.AppendUint32(b, f.SegmentLength)
	b = le.AppendUint32(b, f.SegmentLengthMask)
	b = le.AppendUint32(b, f.SegmentCount)
	b = le.AppendUint32(b, f.SegmentCountLength)
	b = le.AppendUint32(b, uint32(len(f.Fingerprints)))
	return append(b, f.Fingerprints...)
}

// readFilters decodes n filters, checking their parameters so that a
// lookup can never index out of range.
func readFilters(b []byte, n int) ([]xorfilter.BinaryFuse[uint8], error) {
	le := binary.LittleEndian
	out := make([]xorfilter.BinaryFuse[uint8], n)
	for i := range out {
		if len(b) < filterHeader {
			return nil, fmt.Errorf("%w: filter %d truncated", ErrCorrupt, i)
		}
		f := &out[i]
		f.Seed = le.Uint64(b)
		f.SegmentLength = le.Uint32(b[8:])
		f.SegmentLengthMask = le.Uint32(b[12:])
		f.SegmentCount = le.Uint32(b[16:])
		f.SegmentCountLength = le.Uint32(b[20:])
		fp := uint64(le.Uint32(b[24:]))
		b = b[filterHeader:]
		if fp == 0 {
			continue
		}
		sl, sc := uint64(f.SegmentLength), uint64(f.SegmentCount)
		if sl == 0 || sl&(sl-1) != 0 || sl > 1<<18 || uint64(f.SegmentLengthMask) != sl-1 ||
			uint64(f.SegmentCountLength) != sc*sl || fp != (sc+2)*sl || uint64(len(b)) < fp {
			return nil, fmt.Errorf("%w: filter %d parameters", ErrCorrupt, i)
		}
		f.Fingerprints = b[:fp:fp]
		b = b[fp:]
	}
	if len(b) != 0 {
		return nil, fmt.Errorf("%w: trailing filter bytes", ErrCorrupt)
	}
	return out, nil
}

// indexWriter writes an index file from entries given in digest order.
type indexWriter struct {
	f         *os.File
	w         *bufio.Writer
	n         uint64
	counts    []uint32 // records per prefix
	shardBits uint
	shard     int
	keys      []uint64 // of the current shard
	filters   []byte
	builder   xorfilter.BinaryFuseBuilder
	last      [20]byte
	rec       [recordSize]byte
}

// newIndexWriter starts an index in f (empty, positioned at 0) for at most
// maxEntries entries.
func newIndexWriter(f *os.File, maxEntries uint64) (*indexWriter, error) {
	if maxEntries > 1<<32-1 {
		return nil, fmt.Errorf("%d entries: an index holds at most %d", maxEntries, uint64(1<<32-1))
	}
	w := &indexWriter{f: f, w: bufio.NewWriterSize(f, 1<<20), counts: make([]uint32, NumPrefixes), shardBits: shardBitsFor(maxEntries)}
	if _, err := w.w.Write(make([]byte, headerSize)); err != nil {
		return nil, err
	}
	return w, nil
}

// add appends e, whose digest must be greater than the previous one's.
func (w *indexWriter) add(e *Entry) error {
	if w.n > 0 && compareSHA1(&e.SHA1, &w.last) <= 0 {
		return fmt.Errorf("index entries out of order")
	}
	if w.n == 1<<32-1 {
		return fmt.Errorf("an index holds at most %d entries", w.n)
	}
	w.last = e.SHA1
	k := filterKey(&e.SHA1)
	if s := shardOf(k, w.shardBits); s != w.shard {
		if err := w.flushShards(s); err != nil {
			return err
		}
	}
	if len(w.keys) == 0 || w.keys[len(w.keys)-1] != k {
		w.keys = append(w.keys, k)
	}
	putRecord(w.rec[:], e)
	if _, err := w.w.Write(w.rec[:]); err != nil {
		return err
	}
	w.counts[PrefixOf(&e.SHA1)]++
	w.n++
	return nil
}

// flushShards builds the current shard's filter and empty ones up to
// shard next.
func (w *indexWriter) flushShards(next int) error {
	for w.shard < next {
		if len(w.keys) == 0 {
			w.filters = appendFilter(w.filters, &xorfilter.BinaryFuse[uint8]{})
		} else {
			f, err := xorfilter.BuildBinaryFuse[uint8](&w.builder, w.keys)
			if err != nil {
				return fmt.Errorf("building filter: %w", err)
			}
			w.filters = appendFilter(w.filters, &f)
		}
		w.keys = w.keys[:0]
		w.shard++
	}
	return nil
}

// finish writes the table, the filters and the header, and syncs the
// file. It returns the new index's id.
func (w *indexWriter) finish() (string, error) {
	if err := w.flushShards(1 << w.shardBits); err != nil {
		return "", err
	}
	crc := crc32.New(castagnoli)
	out := io.MultiWriter(w.w, crc)
	table := make([]byte, 0, tableSize)
	var sum uint32
	for _, c := range w.counts {
		table = binary.LittleEndian.AppendUint32(table, sum)
		sum += c
	}
	table = binary.LittleEndian.AppendUint32(table, sum)
	if _, err := out.Write(table); err != nil {
		return "", err
	}
	if _, err := out.Write(w.filters); err != nil {
		return "", err
	}
	if err := w.w.Flush(); err != nil {
		return "", err
	}
	h := header{
		version: fileVersion, shardBits: uint32(w.shardBits), entries: w.n,
		tableOff: headerSize + w.n*recordSize, filterLen: uint64(len(w.filters)), crc: crc.Sum32(),
	}
	h.filterOff = h.tableOff + tableSize
	_, _ = rand.Read(h.id[:]) // crypto/rand.Read never fails
	if _, err := w.f.WriteAt(h.marshal(), 0); err != nil {
		return "", err
	}
	if err := w.f.Sync(); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.id[:]), nil
}
