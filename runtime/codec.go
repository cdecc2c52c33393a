package runtime

import (
	"cmp"
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	goruntime "runtime"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unsafe"
)

// The snapshot format. A snapshot is SnapshotVersion followed by the
// replicated fields of the state in declaration order, each encoded by its
// type, with no names, tags or padding:
//
//   - bool: one byte, 0 or 1.
//   - unsigned integers: a varint (encoding/binary's Uvarint); signed
//     integers: a zig-zag varint (Varint). Decoding refuses a value out of
//     the type's range and a varint longer than it needs to be.
//   - float32, float64: the IEEE 754 bits, 4 or 8 bytes, little-endian.
//   - string: its length as a varint, then its bytes. []byte is the same,
//     but its length is written plus one, 0 meaning nil; a byte array is
//     its bytes.
//   - time.Time: the Unix seconds (zig-zag), the nanoseconds (varint) and the
//     zone offset in seconds (zig-zag), 0 meaning UTC. The zone's name and
//     the monotonic reading are not kept, as in JSON.
//   - struct: its fields in order (for the state type, the replicated ones).
//   - array: its elements in order.
//   - slice: its length plus one (0 is nil), then its elements.
//   - pointer, *big.Int and map: a reference tag (0 nil, 1 a new value
//     follows, n ≥ 2 the value numbered n-2 again). New values are numbered
//     0, 1, 2, ... in the order they are met, pointers and maps together;
//     the state itself is number 0. So a value reached twice is written
//     once, and a cycle ends in a reference back.
//   - a new pointer's value follows its tag; a big.Int's is its magnitude's
//     length in bytes times two plus its sign bit (1 negative), then the
//     magnitude, big-endian, without leading zeros.
//   - a new map: its length, then key and value pairs in increasing key
//     order: strings by bytes, integers by value, encoding.TextMarshaler
//     keys by their text, which is what is written (as a string).
//
// Equal states give equal bytes: maps are sorted, and nothing depends on
// addresses or on map iteration order. Decoding accepts only what encoding
// writes: it refuses unknown versions, truncated input, lengths longer than
// what is left, keys out of order, bad references and trailing bytes, and
// allocates no more than a small multiple of the input's size.
const SnapshotVersion byte = 1

// MaxSnapshotDepth is how deep pointers, slices and maps may nest in a
// snapshot: deeper values (a linked list of more nodes) are refused when
// encoding and decoding, so that decoding an input cannot exhaust the stack.
const MaxSnapshotDepth = 100_000

// ErrBadSnapshot is wrapped by every error of decoding a malformed snapshot.
var ErrBadSnapshot = errors.New("bad snapshot")

// Codec is one pass of the snapshot codec over a state: it encodes the state
// or decodes it. Generated code writes one function per type,
// func(*Codec, *T), which calls the helpers of this file on each part of the
// value in order (String, Uint, Ptr, Map, ...); each helper writes the value
// when encoding and sets it when decoding, so that one function serves both
// directions and they cannot drift apart.
//
// Encoding numbers the pointers and maps it meets, and remembers them in a
// memo (see memo) to write a reference back when one is met again. Errors
// are sticky: after the first, helpers read nothing and leave zero values,
// and EncodeSnapshot or DecodeSnapshot returns that error.
type Codec struct {
	mode  mode
	w     writer
	r     reader
	depth int
	memo  memo                 // encoding
	refs  []any                // decoding: the pointers and maps met so far, by number
	room  int                  // decoding: bytes that slices and maps may still take up front (see prealloc)
	slabs map[reflect.Type]any // decoding: the slab of each pointed-to type (see newValue)
	// split allows an encoding pass to encode half of a large map in a
	// second goroutine (see encodeMapSplit); set on a snapshot's pass, off
	// on the half's own pass and while the other half is encoded.
	split bool
}

// mode is what a Codec pass does.
type mode uint8

const (
	modeEncode mode = iota // write the state
	modeDecode             // read the state
)

// EncodeSnapshot encodes the state whose replicated fields code encodes.
func EncodeSnapshot[S any](state *S, code func(*Codec, *S)) ([]byte, error) {
	return encodeSnapshot(state, code, goruntime.GOMAXPROCS(0) > 1)
}

// encodeSnapshot is EncodeSnapshot, with large maps split in two halves
// (encodeMapSplit) if split.
func encodeSnapshot[S any](state *S, code func(*Codec, *S), split bool) ([]byte, error) {
	c := &Codec{split: split}
	c.memo.list = takeList()
	c.memo.meet(refKey{typeWord(state), uintptr(unsafe.Pointer(state))})
	c.w.buf = append(takeBuf(&spares.out, 1024), SnapshotVersion)
	code(c, state)
	c.memo.release()
	if c.r.err != nil {
		keepBuf(&spares.out, c.w.buf)
		return nil, fmt.Errorf("snapshot %s: %w", reflect.TypeFor[S]().Name(), c.r.err)
	}
	return c.w.buf, nil
}

// DecodeSnapshot decodes snapshot into the replicated fields of *state (the
// ones code sets), leaving its other fields alone. On error *state is not
// changed.
func DecodeSnapshot[S any](snapshot []byte, state *S, code func(*Codec, *S)) error {
	c := &Codec{mode: modeDecode, refs: []any{state}, room: math.MaxInt}
	if len(snapshot) < math.MaxInt/preallocPerByte {
		c.room = preallocPerByte * len(snapshot)
	}
	c.r.in = snapshot
	switch v := c.r.byte(); {
	case len(snapshot) == 0:
		c.r.err = nil
		c.r.fail("empty input")
	case v == '{':
		c.r.fail("format version %d is a JSON snapshot, of br2k before format %d", v, SnapshotVersion)
	case v != SnapshotVersion:
		c.r.fail("unknown format version %d (want %d)", v, SnapshotVersion)
	}
	// Decode into a copy, so that a snapshot that fails half-way leaves the
	// state alone. A reference to the state (number 0) is to state itself,
	// which holds the copy once it is assigned back.
	tmp := *state
	if c.r.err == nil {
		code(c, &tmp)
	}
	if c.r.err == nil && c.r.off != len(c.r.in) {
		c.r.fail("%d bytes after the state", len(c.r.in)-c.r.off)
	}
	if c.r.err != nil {
		return fmt.Errorf("restore %s: %w", reflect.TypeFor[S]().Name(), c.r.err)
	}
	*state = tmp
	return nil
}

// Decoding reports whether c decodes.
func (c *Codec) Decoding() bool { return c.mode == modeDecode }

// Err is the first error of the pass, nil if there is none.
func (c *Codec) Err() error { return c.r.err }

// fail records an error of the pass: of the input when decoding (see
// reader.fail), of the state when encoding.
func (c *Codec) fail(format string, args ...any) {
	switch {
	case c.mode == modeDecode:
		c.r.fail(format, args...)
	case c.r.err == nil:
		c.r.err = fmt.Errorf(format, args...)
	}
}

// enter counts one level of nesting, and reports false (and fails) past
// MaxSnapshotDepth; leave undoes it.
func (c *Codec) enter() bool {
	c.depth++
	if c.depth > MaxSnapshotDepth {
		c.fail("values nest deeper than %d levels", MaxSnapshotDepth)
		return false
	}
	return true
}

func (c *Codec) leave() { c.depth-- }

// Bool encodes or decodes a bool.
func Bool[T ~bool](c *Codec, v *T) {
	switch c.mode {
	case modeEncode:
		b := byte(0)
		if *v {
			b = 1
		}
		c.w.buf = append(c.w.buf, b)
	case modeDecode:
		switch b := c.r.byte(); b {
		case 0, 1:
			*v = b == 1
		default:
			c.r.fail("bool byte is %d, not 0 or 1", b)
		}
	}
}

// Int encodes or decodes a signed integer.
func Int[T ~int | ~int8 | ~int16 | ~int32 | ~int64](c *Codec, v *T) {
	switch c.mode {
	case modeEncode:
		c.w.varint(int64(*v))
	case modeDecode:
		x := c.r.varint()
		if int64(T(x)) != x {
			c.r.fail("integer %d overflows %T", x, *v)
			return
		}
		*v = T(x)
	}
}

// Uint encodes or decodes an unsigned integer.
func Uint[T ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr](c *Codec, v *T) {
	switch c.mode {
	case modeEncode:
		c.w.uvarint(uint64(*v))
	case modeDecode:
		x := c.r.uvarint()
		if uint64(T(x)) != x {
			c.r.fail("integer %d overflows %T", x, *v)
			return
		}
		*v = T(x)
	}
}

// Float64 encodes or decodes a float64.
func Float64[T ~float64](c *Codec, v *T) {
	switch c.mode {
	case modeEncode:
		c.w.buf = binary.LittleEndian.AppendUint64(c.w.buf, math.Float64bits(float64(*v)))
	case modeDecode:
		if b := c.r.bytes(8, "float64"); b != nil {
			*v = T(math.Float64frombits(binary.LittleEndian.Uint64(b)))
		}
	}
}

// Float32 encodes or decodes a float32.
func Float32[T ~float32](c *Codec, v *T) {
	switch c.mode {
	case modeEncode:
		c.w.buf = binary.LittleEndian.AppendUint32(c.w.buf, math.Float32bits(float32(*v)))
	case modeDecode:
		if b := c.r.bytes(4, "float32"); b != nil {
			*v = T(math.Float32frombits(binary.LittleEndian.Uint32(b)))
		}
	}
}

// String encodes or decodes a string.
func String[T ~string](c *Codec, v *T) {
	switch c.mode {
	case modeEncode:
		c.w.string(string(*v))
	case modeDecode:
		*v = T(c.r.string())
	}
}

// Bytes encodes or decodes a byte slice.
func Bytes[S ~[]E, E ~uint8](c *Codec, v *S) {
	switch c.mode {
	case modeEncode:
		if *v == nil {
			c.w.uvarint(0)
			return
		}
		c.w.uvarint(uint64(len(*v)) + 1)
		for _, b := range *v {
			c.w.buf = append(c.w.buf, byte(b))
		}
	case modeDecode:
		n, ok := c.r.nilLength(1, "byte slice")
		if !ok {
			*v = nil
			return
		}
		b := c.r.bytes(n, "byte slice")
		s := make(S, n)
		for i := range b {
			s[i] = E(b[i])
		}
		*v = s
	}
}

// ByteArray encodes or decodes a byte array, given as a slice of it.
func ByteArray[E ~uint8](c *Codec, a []E) {
	switch c.mode {
	case modeEncode:
		for _, b := range a {
			c.w.buf = append(c.w.buf, byte(b))
		}
	case modeDecode:
		b := c.r.bytes(len(a), "byte array")
		for i := range b {
			a[i] = E(b[i])
		}
	}
}

// Time encodes or decodes a time.Time.
func Time(c *Codec, v *time.Time) {
	switch c.mode {
	case modeEncode:
		c.w.time(*v)
	case modeDecode:
		*v = c.r.time()
	}
}

// BigInt encodes or decodes a *big.Int, which, like any pointer, may be
// shared.
func BigInt[P ~*big.Int](c *Codec, v *P) {
	Ptr(c, v, bigInt)
}

func bigInt(c *Codec, v *big.Int) {
	switch c.mode {
	case modeEncode:
		c.w.bigInt(v)
	case modeDecode:
		c.r.bigInt(v)
	}
}

// Ptr encodes or decodes a pointer whose value elem encodes or decodes. A
// pointer met before in this pass is a reference to it.
func Ptr[P ~*T, T any](c *Codec, v *P, elem func(*Codec, *T)) {
	if c.mode == modeDecode {
		decodePtr(c, v, elem)
		return
	}
	p := (*T)(*v)
	if p == nil {
		c.w.buf = append(c.w.buf, 0)
		return
	}
	if !c.meet(refKey{typeWord(p), uintptr(unsafe.Pointer(p))}) {
		return
	}
	if c.enter() {
		elem(c, p)
		c.leave()
	}
}

// meet writes the reference tag of a pointer or map, a reference back to a
// value met before or 1 for a new one, and reports whether the value is new
// and follows.
func (c *Codec) meet(k refKey) bool {
	if n, ok := c.memo.meet(k); !ok {
		c.w.uvarint(uint64(n) + 2)
		return false
	}
	c.w.buf = append(c.w.buf, 1)
	return true
}

func decodePtr[P ~*T, T any](c *Codec, v *P, elem func(*Codec, *T)) {
	switch tag := c.r.uvarint(); {
	case c.r.err != nil, tag == 0:
		*v = nil
	case tag == 1:
		p := newValue[T](c)
		c.refs = append(c.refs, p)
		if c.enter() {
			elem(c, p)
			c.leave()
		}
		*v = P(p)
	default:
		ref := c.ref(tag)
		if ref == nil {
			return
		}
		p, ok := ref.(*T)
		if !ok {
			c.r.fail("reference %d is to a %s, not a %s", tag-2, refType(ref), reflect.TypeFor[*T]())
			return
		}
		*v = P(p)
	}
}

// slabBytes bounds the bytes of one slab's array; slabMin is its first
// length (a slab doubles up to the bound, so that a few values of a type
// do not take a whole array).
const (
	slabBytes = 32 << 10
	slabMin   = 8
)

// slab hands out the elements of an array of T in turn (see stringArena for
// why).
type slab[T any] struct {
	items []T
	next  int
}

// newValue returns a new zero T for a decoded pointer, from the pass's slab
// of T. A T larger than a slab's bound, or of no size, is allocated alone.
func newValue[T any](c *Codec) *T {
	size := unsafe.Sizeof(*new(T))
	if size == 0 || size > slabBytes/slabMin {
		return new(T)
	}
	key := reflect.TypeFor[T]()
	s, _ := c.slabs[key].(*slab[T])
	if s == nil || s.next == len(s.items) {
		n := slabMin
		if s != nil {
			n = min(2*len(s.items), int(slabBytes/size))
		}
		s = &slab[T]{items: make([]T, n)}
		if c.slabs == nil {
			c.slabs = make(map[reflect.Type]any)
		}
		c.slabs[key] = s
	}
	p := &s.items[s.next]
	s.next++
	return p
}

// PtrTo returns the function that codes a *T whose value elem codes (with
// Ptr).
func PtrTo[T any](elem func(*Codec, *T)) func(*Codec, **T) {
	return func(c *Codec, v **T) { Ptr(c, v, elem) }
}

// ref returns the value numbered tag-2, nil (and an error) if there is none.
func (c *Codec) ref(tag uint64) any {
	if n := tag - 2; n < uint64(len(c.refs)) {
		return c.refs[n]
	}
	c.r.fail("reference %d to a value not met yet (%d so far)", tag-2, len(c.refs))
	return nil
}

func refType(v any) string { return reflect.TypeOf(v).String() }

// preallocPerByte is how many bytes of memory a pass that decodes an input
// may make room for up front, per byte of the input: its budget (room).
//
// A length is checked against the bytes left, at least one per element,
// but an element may take many more bytes of memory than of input (a
// slice's 24 for the 1 byte of an empty one), and maps and slices nest, so
// that each of a chain of them, each claiming the rest of the input, would
// make room for that much. Room made up front is taken from the budget, so
// that all of it together stays within a small multiple of the input;
// elements beyond it are appended as they are read, each of them backed by
// bytes of input. Elements seldom take more than 24 bytes of memory per
// byte of input (an empty slice's header; a map's entry counts twice its
// slot, for the slots a map keeps free), so that for what the encoder
// writes, all slices and maps are still made at their full length at once.
const preallocPerByte = 32

// prealloc returns for how many of n elements of size bytes of memory each
// to make room up front (n, unless the budget runs out), and takes their
// room from the budget.
func (c *Codec) prealloc(n int, size uintptr) int {
	if size == 0 || n == 0 {
		return n
	}
	k := min(n, max(c.room, 0)/int(size))
	c.room -= k * int(size)
	return k
}

// Slice encodes or decodes a slice whose elements elem encodes or decodes.
//
// An element whose type has a size takes at least a byte: every such type
// has a part that does (a bool, a number, a length, a reference tag), and
// generated code writes every field of a struct (but the state's fields
// tagged br2k:"-", which br2kgen refuses below the state, so that the state
// as an element has none). An element of no size takes no byte, holds
// nothing and is neither written nor read.
func Slice[S ~[]E, E any](c *Codec, v *S, elem func(*Codec, *E)) {
	// Values of no size are nothing to write or walk.
	empty := unsafe.Sizeof(*new(E)) == 0
	if c.mode == modeEncode {
		if *v == nil {
			c.w.buf = append(c.w.buf, 0)
			return
		}
		c.w.uvarint(uint64(len(*v)) + 1)
		if empty || !c.enter() {
			return
		}
		for i := range *v {
			elem(c, &(*v)[i])
		}
		c.leave()
		return
	}
	min := 1
	if empty {
		min = 0
	}
	n, ok := c.r.nilLength(min, "slice")
	if !ok {
		*v = nil
		return
	}
	if empty {
		// Any length that fits an int: a slice of values of no size takes
		// no memory however long it is (its elements share one address),
		// and it has nothing to read, so a huge length costs nothing. To
		// refuse long ones would refuse what the encoder writes (nothing
		// limits the length of a []struct{}), and every snapshot of such a
		// state, as it is loaded, after it was taken.
		*v = make(S, n)
		return
	}
	if !c.enter() {
		return
	}
	// n elements take at least n bytes, but may take much more memory (a
	// [64]uint64 of zeros is 64 bytes, and 512 in memory): make room for
	// as many as the pass's budget allows (prealloc), and append the rest
	// as they are read, so that a length that the rest of the input does
	// not bear out allocates little.
	s := make(S, c.prealloc(n, unsafe.Sizeof(*new(E))))
	for i := range s {
		if c.r.err != nil {
			break
		}
		elem(c, &s[i])
	}
	if len(s) < n {
		var x, zero E // one variable: &x escapes to elem
		for i := len(s); i < n && c.r.err == nil; i++ {
			x = zero
			elem(c, &x)
			s = append(s, x)
		}
	}
	c.leave()
	*v = s
}

// mapKey is the memo key of a map: a map value is a pointer to the map, and
// the same map may be reached as two map types (a named one and its
// underlying type), so maps share one type word, 0, that no pointer has.
func mapKey[M ~map[K]V, K comparable, V any](m M) refKey {
	return refKey{0, uintptr(*(*unsafe.Pointer)(unsafe.Pointer(&m)))}
}

// mapHead writes or reads the reference tag of a map and reports whether
// its entries follow: when encoding, to be written; when decoding, to be
// read into *v, made and numbered, and n is their number.
func mapHead[M ~map[K]V, K comparable, V any](c *Codec, v *M) (n int, entries bool) {
	if c.mode == modeEncode {
		if *v == nil {
			c.w.buf = append(c.w.buf, 0)
			return 0, false
		}
		if !c.meet(mapKey(*v)) {
			return 0, false
		}
		c.w.uvarint(uint64(len(*v)))
		if k := reflect.TypeFor[V]().Kind(); k == reflect.Pointer || k == reflect.Map {
			// Each value may be a new one to number: make room at once.
			c.memo.list = slices.Grow(c.memo.list, len(*v))
		}
		return len(*v), c.enter()
	}
	switch tag := c.r.uvarint(); {
	case c.r.err != nil, tag == 0:
		*v = nil
		return 0, false
	case tag == 1:
		// An entry takes at least a byte, its key's (a string's length, an
		// integer's varint, a TextMarshaler's text as a string); its value
		// may take none (a set's struct{}).
		n = c.r.length(1, "map")
		if unsafe.Sizeof(*new(K)) == 0 && n > 1 {
			// All keys of a type of no size are one key.
			c.r.fail("map of %d values with keys of no size", n)
			n = 0
		}
		// n entries take at least n bytes, but more memory: make room for
		// as many as the pass's budget allows (prealloc); the map grows
		// past them as entries are read. An entry's slot is its key, its
		// value and a control byte; a map has up to about twice the slots
		// it was made for (it keeps some free, in tables of powers of two).
		size := 2 * (unsafe.Sizeof(*new(K)) + unsafe.Sizeof(*new(V)) + 1)
		numbered := false
		if k := reflect.TypeFor[V]().Kind(); k == reflect.Pointer || k == reflect.Map {
			numbered = true
			size += unsafe.Sizeof(any(nil)) // its number, in refs
		}
		room := c.prealloc(n, size)
		*v = make(M, room)
		c.refs = append(c.refs, *v)
		if numbered {
			// Each value may be a new one to number: make room at once.
			c.refs = slices.Grow(c.refs, room)
		}
		return n, c.enter()
	default:
		ref := c.ref(tag)
		if ref == nil {
			return 0, false
		}
		if m, ok := ref.(M); ok {
			*v = m
			return 0, false
		}
		// The same map reached as another type of the same underlying
		// type (a named map type and its literal type).
		rv, t := reflect.ValueOf(ref), reflect.TypeFor[M]()
		if rv.Kind() != reflect.Map || !rv.Type().ConvertibleTo(t) {
			c.r.fail("reference %d is to a %s, not a %s", tag-2, refType(ref), t)
			return 0, false
		}
		*v = rv.Convert(t).Interface().(M)
		return 0, false
	}
}

// Map encodes or decodes a map with string keys, whose values val encodes
// or decodes. A map met before in this pass is a reference to it.
func Map[M ~map[K]V, K ~string, V any](c *Codec, v *M, val func(*Codec, *V)) {
	n, entries := mapHead(c, v)
	if !entries {
		return
	}
	defer c.leave()
	switch c.mode {
	case modeEncode:
		if c.split && n >= splitMapMin {
			encodeMapSplit(c, *v, val)
			return
		}
		items := make([]sortItem[K, V], 0, len(*v))
		for k, x := range *v {
			items = append(items, sortItem[K, V]{word(string(k), 0), entry[K, V]{k, x}})
		}
		sortStrings(items)
		encodeItems(c, items, len(items), val)
	case modeDecode:
		if n >= parallelMapMin {
			decodeMapPipelined(c, *v, n, val)
			return
		}
		m := *v
		var prev string
		var x V // one variable: &x escapes to val
		var zero V
		for i := 0; i < n && c.r.err == nil; i++ {
			k := c.r.string()
			if i > 0 && k <= prev && c.r.err == nil {
				c.r.fail("map key %q after %q: keys out of order", k, prev)
			}
			prev = k
			x = zero
			val(c, &x)
			m[K(k)] = x
		}
	}
}

// encodeItems writes sorted map entries, growing the buffer early for
// total entries of about the same size.
func encodeItems[K ~string, V any](c *Codec, items []sortItem[K, V], total int, val func(*Codec, *V)) {
	start := len(c.w.buf)
	for j := range items {
		e := &items[j]
		c.w.string(string(e.k))
		val(c, &e.v)
		c.w.reserve(j+1, total, start)
	}
}

// splitMapMin is the size from which a map with string keys is encoded in
// two halves at once (encodeMapSplit).
const splitMapMin = 1 << 14

// splitRedos counts the upper halves encodeMapSplit encoded again (for
// tests).
var splitRedos atomic.Int64

// encodeMapSplit writes the entries of m, a large map with string keys, as
// Map does, in two halves by key at once: this goroutine sorts and encodes
// the lower keys, another sorts and encodes the upper ones with a Codec of
// its own, and its bytes are appended. That gives the same bytes as one
// pass only if the upper half writes no reference: if it met a value twice,
// or met one that this pass met too (before the map or in the lower half;
// the memos' bitmaps tell), its bytes are dropped and the upper half is
// encoded again here, in order. A state without shared values, the usual
// case, never pays that.
func encodeMapSplit[M ~map[K]V, K ~string, V any](c *Codec, m M, val func(*Codec, *V)) {
	n := len(m)
	// The pivot is the median word of up to 1024 keys (map iteration order
	// is random, so they are a sample), from the first byte where they
	// differ: keys often share a prefix ("acct-"), and a word with less of
	// it tells more keys apart. A key without the prefix puts the words
	// back at the first byte.
	sample := make([]string, 0, 1024)
	for k := range m {
		if len(sample) == cap(sample) {
			break
		}
		sample = append(sample, string(k))
	}
	depth := commonPrefix(sample)
	scratch := takeSort[K, V](n)
	items := scratch.items
	lo, ok := splitByWord(m, items, sample, depth)
	if !ok {
		depth = 0
		lo, _ = splitByWord(m, items, sample, depth)
	}
	tmp := scratch.tmp
	low, high := items[:lo], items[lo:]
	upper := &Codec{depth: c.depth}
	upper.w.buf = takeBuf(&spares.upper, 0)
	upper.memo.list = takeList()
	if k := reflect.TypeFor[V]().Kind(); k == reflect.Pointer || k == reflect.Map {
		upper.memo.list = slices.Grow(upper.memo.list, len(high))
	}
	done := make(chan struct{})
	var panicked any
	go func() {
		defer close(done)
		// A panic (in a TextMarshaler of a value's map) goes on in the
		// caller's goroutine, as it would in one pass.
		defer func() { panicked = recover() }()
		if len(high) > 0 {
			sortWords(high, tmp[lo:], depth)
			encodeItems(upper, high, len(high), val)
		}
	}()
	// The scratch goes back once the upper half is done with it, also when
	// the lower half panics.
	defer func() {
		<-done
		keepBuf(&spares.upper, upper.w.buf)
		keepSort(scratch)
	}()
	if len(low) > 0 {
		sortWords(low, tmp[:lo], depth)
	}
	c.split = false             // one split at a time
	encodeItems(c, low, n, val) // room for the upper half's bytes too
	c.split = true
	<-done
	switch {
	case c.r.err != nil:
		return // the lower half failed: its error is the pass's
	case panicked != nil:
		panic(panicked)
	case upper.r.err != nil, upper.memo.exact != nil, c.memo.overlaps(&upper.memo):
		// Encode the upper half again, in order: its error, or its
		// references, as one pass writes them.
		splitRedos.Add(1)
		upper.memo.release()
		encodeItems(c, high, len(high), val)
		return
	}
	c.w.buf = append(c.w.buf, upper.w.buf...)
	c.memo.adopt(&upper.memo)
}

// commonPrefix is the length of the prefix all of keys share.
func commonPrefix(keys []string) int {
	prefix := keys[0]
	for _, k := range keys[1:] {
		i := 0
		for i < len(prefix) && i < len(k) && prefix[i] == k[i] {
			i++
		}
		prefix = prefix[:i]
	}
	return len(prefix)
}

// splitByWord puts the entries of m into items, with their words from byte
// d: those whose word is at most the median of sample's words first, the
// others after them, and returns how many come first. Keys with equal
// words go to one half, and a lower word means a lower key. It reports
// false, leaving items half filled, if a key lacks the first d bytes that
// sample's keys share.
func splitByWord[M ~map[K]V, K ~string, V any](m M, items []sortItem[K, V], sample []string, d int) (lo int, ok bool) {
	words := make([]uint64, len(sample))
	for i, k := range sample {
		words[i] = word(k, d)
	}
	slices.Sort(words)
	pivot, prefix := words[len(words)/2], sample[0][:d]
	hi := len(items)
	for k, x := range m {
		if !strings.HasPrefix(string(k), prefix) {
			return 0, false
		}
		it := sortItem[K, V]{word(string(k), d), entry[K, V]{k, x}}
		if it.w <= pivot {
			items[lo] = it
			lo++
		} else {
			hi--
			items[hi] = it
		}
	}
	return lo, true
}

// parallelMapMin is the size from which a map is decoded by two goroutines.
const parallelMapMin = 8192

// decodeMapPipelined decodes the n entries of a large map with string keys
// in this goroutine and inserts them into m in another, chunk by chunk:
// inserting into a large map costs about as much as decoding (a cache miss
// per entry), so on two cores the two overlap. m is new and nothing reads
// it before this returns.
func decodeMapPipelined[M ~map[K]V, K ~string, V any](c *Codec, m M, n int, val func(*Codec, *V)) {
	type pair struct {
		k K
		v V
	}
	const chunk = 1024
	full := make(chan []pair, 4)
	free := make(chan []pair, 6)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for b := range full {
			for i := range b {
				m[b[i].k] = b[i].v
			}
			clear(b) // drop the references before the chunk is reused
			select {
			case free <- b[:0]:
			default:
			}
		}
	}()
	buf := make([]pair, 0, chunk)
	var prev string
	for i := 0; i < n && c.r.err == nil; i++ {
		k := c.r.string()
		if i > 0 && k <= prev && c.r.err == nil {
			c.r.fail("map key %q after %q: keys out of order", k, prev)
		}
		prev = k
		buf = append(buf, pair{k: K(k)})
		val(c, &buf[len(buf)-1].v)
		if len(buf) == chunk {
			full <- buf
			select {
			case buf = <-free:
			default:
				buf = make([]pair, 0, chunk)
			}
		}
	}
	if len(buf) > 0 {
		full <- buf
	}
	close(full)
	<-done
}

type integer interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64 | ~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr
}

// IntMap encodes or decodes a map with integer keys, whose values val
// encodes or decodes. A map met before in this pass is a reference to it.
func IntMap[M ~map[K]V, K integer, V any](c *Codec, v *M, val func(*Codec, *V)) {
	n, entries := mapHead(c, v)
	if !entries {
		return
	}
	defer c.leave()
	signed := ^K(0) < 0
	switch c.mode {
	case modeEncode:
		es := collect(*v)
		slices.SortFunc(es, func(a, b entry[K, V]) int { return cmp.Compare(a.k, b.k) })
		start := len(c.w.buf)
		for j := range es {
			e := &es[j]
			if signed {
				c.w.varint(int64(e.k))
			} else {
				c.w.uvarint(uint64(e.k))
			}
			val(c, &e.v)
			c.w.reserve(j+1, len(es), start)
		}
	case modeDecode:
		m := *v
		var prev K
		var x V // one variable: &x escapes to val
		var zero V
		for i := 0; i < n && c.r.err == nil; i++ {
			var k K
			if signed {
				y := c.r.varint()
				k = K(y)
				if int64(k) != y {
					c.r.fail("map key %d overflows %T", y, k)
				}
			} else {
				y := c.r.uvarint()
				k = K(y)
				if uint64(k) != y {
					c.r.fail("map key %d overflows %T", y, k)
				}
			}
			if i > 0 && k <= prev && c.r.err == nil {
				c.r.fail("map key %d after %d: keys out of order", k, prev)
			}
			prev = k
			x = zero
			val(c, &x)
			m[k] = x
		}
	}
}

// textKey is a map key type that marshals to text; its pointer type
// unmarshals it.
type textKey[K any] interface {
	*K
	encoding.TextUnmarshaler
}

// TextMap encodes or decodes a map whose keys are encoding.TextMarshalers
// (and whose pointers are TextUnmarshalers), whose values val encodes or
// decodes. Keys are written as their text, in its order; two keys with the
// same text cannot be encoded. A map met before in this pass is a reference
// to it.
func TextMap[M ~map[K]V, K interface {
	comparable
	encoding.TextMarshaler
}, V any, PK textKey[K]](c *Codec, v *M, val func(*Codec, *V)) {
	n, entries := mapHead(c, v)
	if !entries {
		return
	}
	defer c.leave()
	switch c.mode {
	case modeEncode:
		es := collect(*v)
		texts := make([]entry[string, int], len(es))
		for i, e := range es {
			b, err := e.k.MarshalText()
			if err != nil {
				c.fail("map key %v: %v", e.k, err)
				return
			}
			texts[i] = entry[string, int]{string(b), i}
		}
		order := make([]sortItem[string, int], len(texts))
		for i, t := range texts {
			order[i] = sortItem[string, int]{word(t.k, 0), t}
		}
		sortStrings(order)
		for j, t := range order {
			if j > 0 && t.k == order[j-1].k {
				c.fail("map keys %v and %v have the same text %q", es[order[j-1].v].k, es[t.v].k, t.k)
				return
			}
			c.w.string(t.k)
			val(c, &es[t.v].v)
		}
	case modeDecode:
		m := *v
		var prev string
		var x V // one variable: &x escapes to val
		var zero V
		for i := 0; i < n && c.r.err == nil; i++ {
			text := c.r.string()
			if c.r.err != nil {
				break
			}
			if i > 0 && text <= prev {
				c.r.fail("map key %q after %q: keys out of order", text, prev)
				break
			}
			prev = text
			var k K
			if err := PK(&k).UnmarshalText([]byte(text)); err != nil {
				c.r.fail("map key %q: %v", text, err)
				break
			}
			// Only the text the key marshals to is canonical: "::0" is
			// the address "::".
			if b, err := k.MarshalText(); err != nil || string(b) != text {
				c.r.fail("map key %q is written %q", text, b)
				break
			}
			x = zero
			val(c, &x)
			m[k] = x
		}
	}
}

// entry is a key and value of a map.
type entry[K comparable, V any] struct {
	k K
	v V
}

// collect returns m's entries, in its (random) order.
func collect[M ~map[K]V, K comparable, V any](m M) []entry[K, V] {
	es := make([]entry[K, V], 0, len(m))
	for k, v := range m {
		es = append(es, entry[K, V]{k, v})
	}
	return es
}

// memo numbers the pointers and maps met while encoding, in the order they
// are met, and finds the number of one met again, without a hash table
// entry per pointer in the usual case where nothing is shared: a state of a
// million accounts has a million pointers, and a map of them all would cost
// more than the rest of the encoding.
//
// A value is known by its type and address (a struct and its first field
// share an address). A bitmap with a bit per 8 bytes of address space tells
// whether an address was met before; values are listed in numbering order.
// Only when an address is met again is the list indexed by a hash table
// (exact), which from then on gets every new value too. So a state without
// shared values costs a bit and a list entry per pointer; one with them, a
// hash table entry. Two small values in one 8-byte word look alike to the
// bitmap; the table then tells them apart.
type memo struct {
	chunks  map[uintptr]*memoChunk
	lastKey uintptr
	last    *memoChunk
	list    []refKey       // the values met, by number
	exact   map[refKey]int // nil until an address is met again; then list's index
}

// refKey is a value by its type (typeWord) and address.
type refKey struct{ typ, addr uintptr }

// typeWord is the type of p's dynamic type, as a number that differs between
// types: the type word of the interface value.
func typeWord(p any) uintptr { return (*[2]uintptr)(unsafe.Pointer(&p))[0] }

// memoChunk holds the bits of 1<<memoChunkShift bytes of address space.
type memoChunk [1 << (memoChunkShift - 3 - 6)]uint64

const memoChunkShift = 22 // 4 MiB of addresses, 64 KiB of bits

// meet returns k's number and whether k is new, giving a new k the next
// number.
func (m *memo) meet(k refKey) (int, bool) {
	ch := m.last
	if ch == nil || m.lastKey != k.addr>>memoChunkShift {
		ch = m.chunk(k.addr)
	}
	g := k.addr >> 3 & (1<<(memoChunkShift-3) - 1)
	w, b := g>>6, uint64(1)<<(g&63)
	n := len(m.list)
	if ch[w]&b == 0 && m.exact == nil {
		ch[w] |= b
		m.list = append(m.list, k)
		return n, true
	}
	ch[w] |= b
	if m.exact == nil {
		m.exact = make(map[refKey]int, 2*len(m.list))
		for i, k := range m.list {
			m.exact[k] = i
		}
	}
	if old, ok := m.exact[k]; ok {
		return old, false
	}
	m.exact[k] = n
	m.list = append(m.list, k)
	return n, true
}

// overlaps reports whether m and o may have met a value in common: whether
// their bitmaps share a bit.
func (m *memo) overlaps(o *memo) bool {
	for k, och := range o.chunks {
		ch := m.chunks[k]
		if ch == nil {
			continue
		}
		for i := range ch {
			if ch[i]&och[i] != 0 {
				return true
			}
		}
	}
	return false
}

// adopt adds the values o met, which m has not, after m's, numbering them
// on from m's. o is empty afterwards: its bitmaps are m's, or merged into
// m's and given back to the spares with its list.
func (m *memo) adopt(o *memo) {
	rest := memo{list: o.list}
	for k, och := range o.chunks {
		ch := m.chunks[k]
		if ch == nil {
			if m.chunks == nil {
				m.chunks = map[uintptr]*memoChunk{}
			}
			m.chunks[k] = och
			continue
		}
		for i := range ch {
			ch[i] |= och[i]
		}
		if rest.chunks == nil {
			rest.chunks = map[uintptr]*memoChunk{}
		}
		rest.chunks[k] = och
	}
	if m.exact != nil {
		for i, k := range o.list {
			m.exact[k] = len(m.list) + i
		}
	}
	m.list = append(m.list, o.list...)
	*o = memo{}
	rest.release()
}

func (m *memo) chunk(addr uintptr) *memoChunk {
	k := addr >> memoChunkShift
	ch := m.chunks[k]
	if ch == nil {
		if m.chunks == nil {
			m.chunks = map[uintptr]*memoChunk{}
		}
		ch = takeChunk()
		m.chunks[k] = ch
	}
	m.lastKey, m.last = k, ch
	return ch
}

// sortStrings sorts items, whose words are from their keys' first byte,
// in increasing order of the keys (bytewise, as strings compare). It is a radix sort, several times
// faster than a comparison sort on the million keys of a large map: keys
// are ordered by 8-byte words (see word), the first word of every key by an
// LSD radix sort, then each run of keys with equal words by their next
// word, and so on; small runs are sorted by comparison. Entries move with
// their words, so that the sorted entries are then read in order.
func sortStrings[K ~string, V any](items []sortItem[K, V]) {
	sortWords(items, make([]sortItem[K, V], len(items)), 0)
}

// sortItem is an entry and its key's word at the depth being sorted.
type sortItem[K ~string, V any] struct {
	w uint64
	entry[K, V]
}

// word is the 7 bytes of s from d on, big-endian, padded with zeros, and a
// last byte that is how many bytes s has from d on, at most 8. Words
// compare as the strings' suffixes from d do, except that two suffixes of
// 8 bytes or more with the same first 7 have equal words: only those need
// the next word, from d+7.
func word(s string, d int) uint64 {
	rest := len(s) - d
	if rest >= 8 {
		s = s[d : d+8]
		return (uint64(s[0])<<56 | uint64(s[1])<<48 | uint64(s[2])<<40 | uint64(s[3])<<32 |
			uint64(s[4])<<24 | uint64(s[5])<<16 | uint64(s[6])<<8) | 8
	}
	var w uint64
	for j := range 7 {
		w <<= 8
		if j < rest {
			w |= uint64(s[d+j])
		}
	}
	return w<<8 | uint64(rest)
}

// sortWords sorts items, whose keys share their first d bytes and whose
// words are from d, using tmp (as long as items) as scratch.
func sortWords[K ~string, V any](items, tmp []sortItem[K, V], d int) {
	if len(items) < 64 {
		slices.SortFunc(items, func(a, b sortItem[K, V]) int {
			return strings.Compare(string(a.k)[d:], string(b.k)[d:])
		})
		return
	}
	// An LSD radix sort on the words' bytes, skipping a byte that all
	// words share.
	var counts [8][256]int
	for i := range items {
		w := items[i].w
		for b := range 8 {
			counts[b][byte(w>>(8*b))]++
		}
	}
	src, dst := items, tmp
	for b := range 8 {
		c := &counts[b]
		if c[byte(src[0].w>>(8*b))] == len(src) {
			continue
		}
		sum := 0
		for i := range c {
			c[i], sum = sum, sum+c[i]
		}
		for i := range src {
			k := byte(src[i].w >> (8 * b))
			dst[c[k]] = src[i]
			c[k]++
		}
		src, dst = dst, src
	}
	if &src[0] != &items[0] {
		copy(items, src)
	}
	// Runs of equal words go on to the next word.
	for i := 0; i < len(items); {
		j := i + 1
		for j < len(items) && items[j].w == items[i].w {
			j++
		}
		if j-i > 1 && byte(items[i].w) == 8 {
			run := items[i:j]
			for k := range run {
				run[k].w = word(string(run[k].k), d+7)
			}
			sortWords(run, tmp[i:j], d+7)
		}
		i = j
	}
}

// writer appends the encoding of values to buf.
type writer struct{ buf []byte }

// reserve grows buf, once done of total entries of a map have been written
// from start on, to hold the rest if they are about as large: a million
// entries then cost one copy of the buffer rather than a dozen. It grows
// by an eighth more than the estimate, and only when the room left is
// below the estimate itself: the estimate, from the first entries, varies
// from one pass to the next, and a buffer kept from the last pass (see
// spares) must not be dropped for a new one because of that noise.
func (w *writer) reserve(done, total, start int) {
	if done == 1024 && total > 2*done {
		need := (len(w.buf) - start) / done * (total - done)
		if cap(w.buf)-len(w.buf) < need {
			w.buf = slices.Grow(w.buf, need*9/8)
		}
	}
}

func (w *writer) uvarint(x uint64) { w.buf = binary.AppendUvarint(w.buf, x) }
func (w *writer) varint(x int64)   { w.buf = binary.AppendVarint(w.buf, x) }

func (w *writer) string(s string) {
	w.uvarint(uint64(len(s)))
	w.buf = append(w.buf, s...)
}

func (w *writer) time(t time.Time) {
	w.varint(t.Unix())
	w.uvarint(uint64(t.Nanosecond()))
	_, offset := t.Zone()
	w.varint(int64(offset))
}

func (w *writer) bigInt(v *big.Int) {
	n := (v.BitLen() + 7) / 8
	sign := uint64(0)
	if v.Sign() < 0 {
		sign = 1
	}
	w.uvarint(uint64(n)<<1 | sign)
	start := len(w.buf)
	w.buf = slices.Grow(w.buf, n)[:start+n]
	v.FillBytes(w.buf[start:])
}

// reader reads encoded values from in, checking every length against what
// is left. Its error is sticky: after the first, reads return zero values.
type reader struct {
	in    []byte
	off   int
	err   error
	last  string // the last string read, returned again for equal bytes
	arena stringArena
}

// fail records the first error and moves to the end of the input, so that
// later reads find nothing to read.
func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: at byte %d: %s", ErrBadSnapshot, r.off, fmt.Sprintf(format, args...))
		r.off = len(r.in)
	}
}

func (r *reader) left() int { return len(r.in) - r.off }

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.in) {
		r.fail("input ends where a byte is expected")
		return 0
	}
	b := r.in[r.off]
	r.off++
	return b
}

// bytes returns the next n bytes, nil if the input is shorter.
func (r *reader) bytes(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n > r.left() {
		r.fail("%s of %d bytes, but %d bytes are left", what, n, r.left())
		return nil
	}
	b := r.in[r.off : r.off+n : r.off+n]
	r.off += n
	return b
}

func (r *reader) uvarint() uint64 {
	// After an error off is at the end: see fail.
	if off := r.off; off < len(r.in) {
		if x := r.in[off]; x < 0x80 {
			r.off = off + 1
			return uint64(x)
		}
	}
	return r.longUvarint()
}

func (r *reader) longUvarint() uint64 {
	if r.err != nil {
		return 0
	}
	x, n := binary.Uvarint(r.in[r.off:])
	switch {
	case n == 0:
		r.fail("input ends inside a varint")
		return 0
	case n < 0:
		r.fail("varint overflows 64 bits")
		return 0
	case n > 1 && r.in[r.off+n-1] == 0:
		r.fail("varint of %d bytes has a redundant last byte", n)
		return 0
	}
	r.off += n
	return x
}

func (r *reader) varint() int64 {
	u := r.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

// length reads a length of things that take at least min bytes each (0 for
// values of no size) and checks that the input has room for them.
func (r *reader) length(min int, what string) int {
	return r.count(r.uvarint(), min, what)
}

// nilLength reads a length plus one, 0 meaning nil (ok false), as length
// does.
func (r *reader) nilLength(min int, what string) (int, bool) {
	n := r.uvarint()
	if r.err != nil || n == 0 {
		return 0, false
	}
	k := r.count(n-1, min, what)
	return k, r.err == nil
}

// count checks that the input has room for n things that take at least
// min bytes each. Things of no size take no room, and need only that n
// fits an int.
func (r *reader) count(n uint64, min int, what string) int {
	switch {
	case r.err != nil:
		return 0
	case min == 0 && n > math.MaxInt:
		r.fail("%s of %d empty values", what, n)
		return 0
	case min > 0 && n > uint64(r.left()/min):
		r.fail("%s of %d values, but %d bytes are left", what, n, r.left())
		return 0
	}
	return int(n)
}

func (r *reader) string() string {
	n := r.uvarint()
	if r.err != nil {
		return ""
	}
	if n > uint64(r.left()) {
		r.fail("string of %d bytes, but %d bytes are left", n, r.left())
		return ""
	}
	b := r.in[r.off : r.off+int(n)]
	r.off += int(n)
	// A string often repeats the one before it (a map key and the ID
	// field of its value): share it rather than allocate it again.
	if string(b) != r.last {
		r.last = r.arena.string(b)
	}
	return r.last
}

// A decoded state lives long and is marked by every garbage collection,
// whose cost grows with the number of objects it holds more than with their
// bytes: a million accounts decoded one allocation per string and per
// pointer are four million objects to mark, in each of the state's two
// copies (the live state and its shadow), at every cycle. The decoder
// therefore puts small strings in shared blocks (stringArena) and the values
// that pointers point to in shared arrays (slab), which the collector marks
// as one object each.
//
// The price is memory held longer: a block lives while any string or value
// in it does, so one that the handlers replaced or deleted frees its bytes
// only with the rest of its block. That is bounded by the state as it was
// decoded; the blocks are small (arenaBlock, slabBytes) so that a state that
// keeps a few values of many blocks does not hold much.

// arenaBlock is the size of a stringArena block, and arenaMaxString the
// longest string put in one (a longer one is an allocation of its own).
const (
	arenaBlock     = 32 << 10
	arenaMaxString = 1 << 10
)

// stringArena hands out strings that share blocks. Bytes once handed out are
// never written again, so the strings are immutable.
type stringArena struct{ block []byte }

func (a *stringArena) string(b []byte) string {
	switch {
	case len(b) == 0:
		return ""
	case len(b) > arenaMaxString:
		return string(b)
	}
	if cap(a.block)-len(a.block) < len(b) {
		a.block = make([]byte, 0, arenaBlock)
	}
	start := len(a.block)
	a.block = append(a.block, b...)
	return unsafe.String(&a.block[start], len(b))
}

// maxZoneOffset bounds a time's zone offset: real ones are within ±14h.
const maxZoneOffset = 24 * 60 * 60

func (r *reader) time() time.Time {
	sec := r.varint()
	nsec := r.uvarint()
	offset := r.varint()
	switch {
	case r.err != nil:
		return time.Time{}
	case nsec >= 1e9:
		r.fail("time with %d nanoseconds", nsec)
		return time.Time{}
	case offset <= -maxZoneOffset || offset >= maxZoneOffset:
		r.fail("time with a zone offset of %d seconds", offset)
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec))
	if offset == 0 {
		return t.UTC()
	}
	return t.In(time.FixedZone("", int(offset)))
}

func (r *reader) bigInt(v *big.Int) {
	h := r.uvarint()
	if r.err != nil {
		return
	}
	n, neg := h>>1, h&1 == 1
	if n > uint64(r.left()) {
		r.fail("big integer of %d bytes, but %d bytes are left", n, r.left())
		return
	}
	b := r.bytes(int(n), "big integer")
	switch {
	case n > 0 && b[0] == 0:
		r.fail("big integer with a leading zero byte")
	case n == 0 && neg:
		r.fail("big integer -0")
	}
	v.SetBytes(b)
	if neg {
		v.Neg(v)
	}
}
