package log

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/br2k/br2k/runtime"
)

// codecVersion is the first byte of every encoded entry. A change of the
// layout below gets a new version; DecodeEntry keeps reading the old ones.
const codecVersion byte = 1

const flagResult byte = 1 << 0 // Result != nil

// Layout of version 1 (varint is encoding/binary's zig-zag varint, uvarint
// its unsigned varint):
//
//	byte     version (1)
//	byte     kind
//	byte     flags (bit 0: has Result)
//	uvarint  Index
//	varint   Term
//	uvarint  Subject.Index
//	varint   Time
//	8 bytes  Seed, little endian
//	uvarint  len(Op), len(Subject.ID), len(Key), len(Payload)
//	if Result: varint Result.Status, uvarint len(Result.Body)
//	bytes    Op, Subject.ID, Key, Payload[, Result.Body]
//
// The variable-length fields come last and back to back, so that decoding
// copies the three strings in one allocation and the two byte slices in
// another.

// ErrBadEntry is wrapped by every DecodeEntry error.
var ErrBadEntry = errors.New("log: malformed entry")

// EntrySize is the length of EncodeEntry(e).
func EntrySize(e *runtime.Entry) int {
	n := 3 + 8 +
		uvarintLen(e.Index) + varintLen(e.Term) + uvarintLen(e.Subject.Index) + varintLen(e.Time) +
		uvarintLen(uint64(len(e.Op))) + uvarintLen(uint64(len(e.Subject.ID))) +
		uvarintLen(uint64(len(e.Key))) + uvarintLen(uint64(len(e.Payload))) +
		len(e.Op) + len(e.Subject.ID) + len(e.Key) + len(e.Payload)
	if e.Result != nil {
		n += varintLen(int64(e.Result.Status)) + uvarintLen(uint64(len(e.Result.Body))) + len(e.Result.Body)
	}
	return n
}

// EncodeEntry returns the binary encoding of e (every field, Result
// included). It allocates once.
func EncodeEntry(e *runtime.Entry) []byte {
	return appendEntry(make([]byte, 0, EntrySize(e)), e)
}

// appendEntry appends the encoding of e to b.
func appendEntry(b []byte, e *runtime.Entry) []byte {
	var flags byte
	if e.Result != nil {
		flags |= flagResult
	}
	b = append(b, codecVersion, byte(e.Kind), flags)
	b = binary.AppendUvarint(b, e.Index)
	b = binary.AppendVarint(b, e.Term)
	b = binary.AppendUvarint(b, e.Subject.Index)
	b = binary.AppendVarint(b, e.Time)
	b = binary.LittleEndian.AppendUint64(b, e.Seed)
	b = binary.AppendUvarint(b, uint64(len(e.Op)))
	b = binary.AppendUvarint(b, uint64(len(e.Subject.ID)))
	b = binary.AppendUvarint(b, uint64(len(e.Key)))
	b = binary.AppendUvarint(b, uint64(len(e.Payload)))
	if e.Result != nil {
		b = binary.AppendVarint(b, int64(e.Result.Status))
		b = binary.AppendUvarint(b, uint64(len(e.Result.Body)))
	}
	b = append(b, e.Op...)
	b = append(b, e.Subject.ID...)
	b = append(b, e.Key...)
	b = append(b, e.Payload...)
	if e.Result != nil {
		b = append(b, e.Result.Body...)
	}
	return b
}

// entryAlloc holds an entry and its outcome in one allocation.
type entryAlloc struct {
	e runtime.Entry
	o runtime.Outcome
}

// DecodeEntry decodes what EncodeEntry produced. It never retains b: the
// entry owns copies of its strings and bytes. An empty Payload or
// Result.Body decodes as nil. Input that is not a complete, well-formed
// encoding (unknown version, truncated, trailing bytes, lengths out of range)
// returns an error wrapping ErrBadEntry.
func DecodeEntry(b []byte) (*runtime.Entry, error) {
	if len(b) < 3 {
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrBadEntry, len(b))
	}
	if b[0] != codecVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrBadEntry, b[0])
	}
	kind, flags := runtime.Kind(b[1]), b[2]
	if flags&^flagResult != 0 {
		return nil, fmt.Errorf("%w: unknown flags %#x", ErrBadEntry, flags)
	}
	d := decoder{b: b, off: 3}
	index := d.uvarint()
	term := d.varint()
	subjectIndex := d.uvarint()
	tm := d.varint()
	seed := d.fixed64()
	nOp, nID, nKey, nPayload := d.uvarint(), d.uvarint(), d.uvarint(), d.uvarint()
	var status int64
	var nBody uint64
	if flags&flagResult != 0 {
		status = d.varint()
		nBody = d.uvarint()
		if int64(int(status)) != status {
			d.fail("result status out of range")
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	rest := uint64(len(b) - d.off)
	// Each length is at most rest, so the sums cannot overflow.
	for _, n := range [...]uint64{nOp, nID, nKey, nPayload, nBody} {
		if n > rest {
			return nil, fmt.Errorf("%w: field length %d exceeds the %d bytes left", ErrBadEntry, n, rest)
		}
	}
	nStr, nBytes := nOp+nID+nKey, nPayload+nBody
	if nStr+nBytes != rest {
		return nil, fmt.Errorf("%w: fields take %d bytes, %d are left", ErrBadEntry, nStr+nBytes, rest)
	}

	a := new(entryAlloc)
	e := &a.e
	e.Index, e.Term, e.Kind, e.Time, e.Seed = index, term, kind, tm, seed
	e.Subject.Index = subjectIndex
	data := b[d.off:]
	if nStr > 0 {
		s := string(data[:nStr])
		e.Op = s[:nOp]
		e.Subject.ID = s[nOp : nOp+nID]
		e.Key = s[nOp+nID : nStr]
	}
	if nBytes > 0 {
		buf := make([]byte, nBytes)
		copy(buf, data[nStr:])
		if nPayload > 0 {
			e.Payload = buf[:nPayload:nPayload]
		}
		if nBody > 0 {
			a.o.Body = buf[nPayload:nBytes:nBytes]
		}
	}
	if flags&flagResult != 0 {
		a.o.Status = int(status)
		e.Result = &a.o
	}
	return e, nil
}

// decoder reads varints from b, remembering the first error.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s at byte %d", ErrBadEntry, what, d.off)
	}
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad uvarint")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b[d.off:])
	if n <= 0 {
		d.fail("bad varint")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) fixed64() uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b)-d.off < 8 {
		d.fail("truncated")
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b[d.off:])
	d.off += 8
	return v
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func varintLen(v int64) int {
	u := uint64(v) << 1
	if v < 0 {
		u = ^u
	}
	return uvarintLen(u)
}

// batchVersion is the first byte of an encoded batch.
const batchVersion byte = 1

// EncodeBatch encodes entries with consecutive indices as one etcd value:
//
//	byte     version (1)
//	uvarint  number of entries
//	then per entry: uvarint length, EncodeEntry bytes
//
// It allocates once.
func EncodeBatch(es []*runtime.Entry) []byte {
	n := 1 + uvarintLen(uint64(len(es)))
	for _, e := range es {
		s := EntrySize(e)
		n += uvarintLen(uint64(s)) + s
	}
	b := make([]byte, 0, n)
	b = append(b, batchVersion)
	b = binary.AppendUvarint(b, uint64(len(es)))
	for _, e := range es {
		b = binary.AppendUvarint(b, uint64(EntrySize(e)))
		b = appendEntry(b, e)
	}
	return b
}

// DecodeBatch decodes what EncodeBatch produced. It checks that the batch
// is not empty and its indices are consecutive; errors wrap ErrBadEntry. It
// never retains b.
func DecodeBatch(b []byte) ([]*runtime.Entry, error) {
	if len(b) < 2 || b[0] != batchVersion {
		return nil, fmt.Errorf("%w: not a batch (%d bytes)", ErrBadEntry, len(b))
	}
	d := decoder{b: b, off: 1}
	n := d.uvarint()
	if d.err != nil {
		return nil, d.err
	}
	// Each entry takes at least 2 bytes, which bounds a forged count.
	if n == 0 || n > uint64(len(b)-d.off)/2 {
		return nil, fmt.Errorf("%w: batch of %d entries in %d bytes", ErrBadEntry, n, len(b))
	}
	es := make([]*runtime.Entry, 0, n)
	for i := range n {
		size := d.uvarint()
		if d.err != nil {
			return nil, d.err
		}
		if size > uint64(len(b)-d.off) {
			return nil, fmt.Errorf("%w: batch entry %d of %d bytes exceeds the %d left", ErrBadEntry, i, size, len(b)-d.off)
		}
		e, err := DecodeEntry(b[d.off : d.off+int(size)])
		if err != nil {
			return nil, fmt.Errorf("batch entry %d: %w", i, err)
		}
		if i > 0 && e.Index != es[i-1].Index+1 {
			return nil, fmt.Errorf("%w: batch entry %d has index %d after %d", ErrBadEntry, i, e.Index, es[i-1].Index)
		}
		es = append(es, e)
		d.off += int(size)
	}
	if d.off != len(b) {
		return nil, fmt.Errorf("%w: %d bytes after the batch", ErrBadEntry, len(b)-d.off)
	}
	return es, nil
}
