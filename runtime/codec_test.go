package runtime

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"net/netip"
	"reflect"
	goruntime "runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// A state and its codec functions, written the way br2kgen writes them.

type codecState struct {
	Accounts map[string]*codecAccount
	Primary  *codecAccount // one of Accounts
	Limits   map[string]uint64
	Defaults codecLimits // the same map as Limits
	Ring     *codecNode
	ByID     map[int16][]byte
	Peers    map[netip.Addr]float32
	Hash     [4]byte
	Supply   *big.Int
	Fees     []*big.Int
	Times    []time.Time
	Parent   *codecState // the state itself
	Flags    []struct{}

	dep string // not replicated
}

type codecAccount struct {
	ID      string
	Balance int64
	On      bool
}

type codecNode struct {
	Name string
	Next *codecNode
}

type codecLimits map[string]uint64

func codeCodecState(c *Codec, v *codecState) {
	Map(c, &v.Accounts, PtrTo(codeCodecAccount))
	Ptr(c, &v.Primary, codeCodecAccount)
	Map(c, &v.Limits, Uint[uint64])
	Map(c, &v.Defaults, Uint[uint64])
	Ptr(c, &v.Ring, codeCodecNode)
	IntMap(c, &v.ByID, codeBytes)
	TextMap(c, &v.Peers, Float32[float32])
	ByteArray(c, v.Hash[:])
	BigInt(c, &v.Supply)
	Slice(c, &v.Fees, BigInt[*big.Int])
	Slice(c, &v.Times, Time)
	Ptr(c, &v.Parent, codeCodecState)
	Slice(c, &v.Flags, codeEmpty)
}

func codeCodecAccount(c *Codec, v *codecAccount) {
	String(c, &v.ID)
	Int(c, &v.Balance)
	Bool(c, &v.On)
}

func codeCodecNode(c *Codec, v *codecNode) {
	String(c, &v.Name)
	Ptr(c, &v.Next, codeCodecNode)
}

func codeBytes(c *Codec, v *[]byte) { Bytes(c, v) }

func codeEmpty(c *Codec, v *struct{}) {}

// fullState has something in every field, shared pointers, a shared map
// and two cycles.
func fullState() *codecState {
	a := &codecAccount{ID: "a", Balance: -5, On: true}
	limits := map[string]uint64{"a": 100, "": math.MaxUint64}
	n1, n2 := &codecNode{Name: "1"}, &codecNode{Name: "2"}
	n1.Next, n2.Next = n2, n1
	supply := big.NewInt(-1 << 40)
	s := &codecState{
		Accounts: map[string]*codecAccount{"a": a, "b": {ID: "b"}, "\x00": nil},
		Primary:  a,
		Limits:   limits,
		Defaults: codecLimits(limits),
		Ring:     n1,
		ByID:     map[int16][]byte{-3: nil, 0: {}, 7: {1, 2, 255}},
		Peers:    map[netip.Addr]float32{netip.MustParseAddr("10.0.0.1"): 1.5, netip.MustParseAddr("::1"): float32(math.Inf(-1))},
		Hash:     [4]byte{1, 2, 3, 4},
		Supply:   supply,
		Fees:     []*big.Int{supply, new(big.Int), nil, new(big.Int).Lsh(big.NewInt(3), 200)},
		Times: []time.Time{{}, time.Unix(-1, 999_999_999).UTC(), time.Unix(1700000000, 5).In(time.FixedZone("", 5*3600+30*60)),
			time.Date(9999, 12, 31, 23, 59, 59, 1, time.UTC)},
		Flags: make([]struct{}, 3),
		dep:   "kept",
	}
	s.Parent = s
	return s
}

func encode(t *testing.T, s *codecState) []byte {
	t.Helper()
	b, err := EncodeSnapshot(s, codeCodecState)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCodecRoundTripKeepsValuesAndShape(t *testing.T) {
	s := fullState()
	snap := encode(t, s)
	if snap[0] != SnapshotVersion {
		t.Fatalf("first byte %d, want the version %d", snap[0], SnapshotVersion)
	}
	got := &codecState{dep: "mine"}
	if err := DecodeSnapshot(snap, got, codeCodecState); err != nil {
		t.Fatal(err)
	}
	if again := encode(t, got); !bytes.Equal(again, snap) {
		t.Fatalf("re-encoding changed the bytes:\n%x\n%x", snap, again)
	}
	if got.dep != "mine" {
		t.Errorf("Decode changed a field the codec does not code: %q", got.dep)
	}
	got.dep = s.dep
	if !reflect.DeepEqual(got, s) {
		t.Errorf("decoded state differs:\n%+v\n%+v", got, s)
	}
	switch {
	case got.Primary != got.Accounts["a"]:
		t.Error("Primary and Accounts[a] are two values")
	case got.Ring.Next.Next != got.Ring:
		t.Error("the ring is not a ring")
	case got.Parent != got:
		t.Error("Parent is not the state")
	case got.Fees[0] != got.Supply:
		t.Error("Fees[0] and Supply are two big.Ints")
	case got.ByID[-3] != nil || got.ByID[0] == nil:
		t.Error("nil and empty byte slices are not kept apart")
	}
	got.Limits["new"] = 1
	if got.Defaults["new"] != 1 {
		t.Error("Limits and Defaults are two maps")
	}
	if _, off := got.Times[2].Zone(); off != 5*3600+30*60 {
		t.Errorf("zone offset %d", off)
	}
}

func TestCodecIsCanonical(t *testing.T) {
	// The same state built in another order, and a copy of it with the
	// pointers at other addresses, encode to the same bytes.
	a := fullState()
	b := fullState()
	b.Accounts = map[string]*codecAccount{}
	for _, k := range []string{"\x00", "b", "a"} {
		b.Accounts[k] = a.Accounts[k]
	}
	b.Primary = b.Accounts["a"]
	if !bytes.Equal(encode(t, a), encode(t, b)) {
		t.Error("equal states encode differently")
	}
	large := &codecState{Accounts: map[string]*codecAccount{}}
	for range 5000 {
		id := fmt.Sprintf("k%d", rand.IntN(1_000_000))
		large.Accounts[id] = &codecAccount{ID: id}
	}
	var c Copier
	other := CopyMap(&c, large.Accounts, func(c *Copier, a *codecAccount) *codecAccount { return ClonePtr(c, a) })
	if !bytes.Equal(encode(t, large), encode(t, &codecState{Accounts: other})) {
		t.Error("a copy of a state encodes differently")
	}
}

func TestCodecWritesASharedValueOnce(t *testing.T) {
	a := &codecAccount{ID: strings.Repeat("x", 100)}
	one := encode(t, &codecState{Primary: a})
	two := encode(t, &codecState{Primary: a, Accounts: map[string]*codecAccount{"a": a}})
	if len(two) > len(one)+10 {
		t.Errorf("a shared account is written twice: %d bytes, %d with one", len(two), len(one))
	}
}

// TestCodecTellsValuesAtOneAddressApart: a pointer to a struct and one to
// its first field have the same address, but are two values.
func TestCodecTellsValuesAtOneAddressApart(t *testing.T) {
	type inner struct{ N uint64 }
	type outer struct {
		In  inner
		M   uint64
		P   *outer
		Q   *inner
		Q2  *inner
		Sub *uint64
	}
	var codeInner func(*Codec, *inner)
	codeInner = func(c *Codec, v *inner) { Uint(c, &v.N) }
	var codeOuter func(*Codec, *outer)
	codeOuter = func(c *Codec, v *outer) {
		codeInner(c, &v.In)
		Uint(c, &v.M)
		Ptr(c, &v.P, codeOuter)
		Ptr(c, &v.Q, codeInner)
		Ptr(c, &v.Q2, codeInner)
		Ptr(c, &v.Sub, Uint[uint64])
	}
	o := &outer{In: inner{1}, M: 2}
	root := &outer{P: o, Q: &o.In, Q2: &o.In, Sub: &o.In.N}
	snap, err := EncodeSnapshot(root, codeOuter)
	if err != nil {
		t.Fatal(err)
	}
	var got outer
	if err := DecodeSnapshot(snap, &got, codeOuter); err != nil {
		t.Fatal(err)
	}
	if got.Q == &got.P.In || got.Q != got.Q2 || got.Q.N != 1 || *got.Sub != 1 || got.P.M != 2 {
		t.Errorf("decoded %+v: want Q and Q2 one value, apart from P.In", got)
	}
}

func TestCodecDepthIsLimited(t *testing.T) {
	var head *codecNode
	for range MaxSnapshotDepth + 1 {
		head = &codecNode{Next: head}
	}
	_, err := EncodeSnapshot(&codecState{Ring: head}, codeCodecState)
	if err == nil || !strings.Contains(err.Error(), "deeper than") {
		t.Errorf("encoding a list of %d nodes: %v, want a depth error", MaxSnapshotDepth+1, err)
	}
	// The same, as input: 1 (a new node), "" (its name), 1, "", ...
	in := append([]byte{SnapshotVersion, 0, 0, 0, 0}, bytes.Repeat([]byte{1, 0}, MaxSnapshotDepth+1)...)
	err = DecodeSnapshot(in, &codecState{}, codeCodecState)
	if !errors.Is(err, ErrBadSnapshot) || !strings.Contains(err.Error(), "deeper than") {
		t.Errorf("decoding %d nested nodes: %v, want a depth error", MaxSnapshotDepth+1, err)
	}
}

func TestDecodeRefusesMalformedInput(t *testing.T) {
	empty := encode(t, &codecState{})
	// empty is the version, then a byte per field (nil, or the hash's four
	// zero bytes); field replaces byte 1+i, the field at i (Accounts at 0,
	// Peers at 6, Supply at 11, Flags at 15), with b.
	field := func(i int, b ...byte) []byte {
		out := slices.Clone(empty[:1+i])
		out = append(out, b...)
		return append(out, empty[2+i:]...)
	}
	for _, tt := range []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "empty input"},
		{"JSON", []byte(`{"accounts":{}}`), "JSON snapshot"},
		{"version", append([]byte{2}, empty[1:]...), "unknown format version 2"},
		{"truncated", empty[:len(empty)-1], "input ends"},
		{"trailing", append(slices.Clone(empty), 0), "1 bytes after the state"},
		{"huge map", field(0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f), "map of 4294967295 values, but"},
		{"huge string key", field(0, 1, 1, 0xff, 0xff, 0x03), "string of 65535 bytes, but"},
		{"keys out of order", field(0, 1, 2, 1, 'b', 0, 1, 'a', 0), `map key "a" after "b"`},
		{"duplicate keys", field(0, 1, 2, 1, 'a', 0, 1, 'a', 0), `map key "a" after "a"`},
		{"bad bool", field(0, 1, 1, 0, 1, 0, 0, 7), "bool byte is 7"},
		{"varint overflow", field(0, 1, 1, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), "overflows 64 bits"},
		{"long varint", field(0, 1, 1, 0, 1, 0, 0x80, 0x00), "redundant last byte"},
		{"reference ahead", field(1, 5), "reference 3 to a value not met yet (1 so far)"},
		{"reference to a map as a pointer", field(0, 1, 0, 3), "reference 1 is to a map[string]*runtime.codecAccount, not a *runtime.codecAccount"},
		{"reference to the state as a node", field(4, 2), "reference 0 is to a *runtime.codecState, not a *runtime.codecNode"},
		{"int16 key overflow", field(5, 1, 1, 0x80, 0x80, 0x04, 0), "map key 32768 overflows int16"},
		{"huge byte slice", field(5, 1, 1, 0, 0xff, 0x7f), "byte slice of 16382 values, but"},
		{"huge slice", field(12, 0xff, 0xff, 0x7f), "slice of 2097150 values, but"},
		{"bad text key", field(6, 1, 1, 3, 'x', 'y', 'z', 0, 0, 0, 0), `map key "xyz": ParseAddr`},
		{"big int leading zero", field(11, 1, 4, 0, 1), "leading zero byte"},
		{"big int -0", field(11, 1, 1), "big integer -0"},
		{"big int too long", field(11, 1, 0x7e), "big integer of 63 bytes, but"},
		{"time nanoseconds", field(13, 2, 0, 0x80, 0x94, 0xeb, 0xdc, 0x03, 0), "time with 1000000000 nanoseconds"},
		{"time zone", field(13, 2, 0, 0, 0xa0, 0xfe, 0x0a), "zone offset of 90000"},
		{"text key not canonical", field(6, 1, 1, 3, ':', ':', '0', 0, 0, 0, 0), `map key "::0" is written "::"`},
		{"empty values", field(15, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), "slice of 18446744073709551614 empty values"},
	} {
		s := fullState()
		before := encode(t, s)
		err := DecodeSnapshot(tt.in, s, codeCodecState)
		if !errors.Is(err, ErrBadSnapshot) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %x: got %v, want an error with %q", tt.name, tt.in, err, tt.want)
		}
		if !strings.HasPrefix(fmt.Sprint(err), "restore codecState: bad snapshot: at byte ") {
			t.Errorf("%s: error %q does not say where", tt.name, err)
		}
		if !bytes.Equal(encode(t, s), before) {
			t.Errorf("%s: a failed decode changed the state", tt.name)
		}
	}
}

// TestDecodeNeverPanicsOnCorruptInput flips, drops and truncates every byte
// of a snapshot: each result decodes or fails, and never panics.
func TestDecodeNeverPanicsOnCorruptInput(t *testing.T) {
	snap := encode(t, fullState())
	try := func(in []byte) {
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("decoding %x panicked: %v", in, r)
			}
		}()
		var s codecState
		if err := DecodeSnapshot(in, &s, codeCodecState); err == nil {
			// What decodes must be canonical: it encodes back to itself.
			if again := encode(t, &s); !bytes.Equal(again, in) {
				t.Errorf("%x decodes, but encodes back as %x", in, again)
			}
		}
	}
	for i := range snap {
		try(snap[:i])
		try(slices.Concat(snap[:i], snap[i+1:]))
		for _, x := range []byte{0x00, 0x01, 0x02, 0x7f, 0x80, 0xff, snap[i] ^ 0x01, snap[i] + 1} {
			in := slices.Clone(snap)
			in[i] = x
			try(in)
		}
	}
}

// lossyKey marshals to its first letter only.
type lossyKey struct{ Name string }

func (k lossyKey) MarshalText() ([]byte, error) { return []byte(k.Name[:1]), nil }

func (k *lossyKey) UnmarshalText(b []byte) error {
	k.Name = string(b)
	return nil
}

func TestEncodeRefusesKeysWithTheSameText(t *testing.T) {
	m := map[lossyKey]int{{"ab"}: 1, {"b"}: 2, {"ac"}: 3}
	code := func(c *Codec, v *map[lossyKey]int) { TextMap(c, v, Int[int]) }
	_, err := EncodeSnapshot(&m, code)
	if err == nil || !strings.Contains(err.Error(), `have the same text "a"`) {
		t.Errorf("keys ab and ac: %v, want an error", err)
	}
	delete(m, lossyKey{"ac"})
	snap, err := EncodeSnapshot(&m, code)
	if err != nil {
		t.Fatal(err)
	}
	var got map[lossyKey]int
	if err := DecodeSnapshot(snap, &got, code); err != nil || len(got) != 2 || got[lossyKey{"a"}] != 1 || got[lossyKey{"b"}] != 2 {
		t.Errorf("decoded %v, %v", got, err)
	}
}

func TestWriterAndReaderRoundTripPrimitives(t *testing.T) {
	var w writer
	uints := []uint64{0, 1, 127, 128, 255, 16383, 16384, math.MaxUint32, math.MaxUint64}
	ints := []int64{0, -1, 1, -64, 64, math.MinInt64, math.MaxInt64}
	strs := []string{"", "a", strings.Repeat("é", 200)}
	times := []time.Time{{}, time.Unix(0, 0).UTC(), time.Unix(-62135596800, 1).UTC(), time.Unix(253402300799, 999999999).In(time.FixedZone("", -12*3600))}
	bigs := []*big.Int{new(big.Int), big.NewInt(1), big.NewInt(-1), big.NewInt(255), big.NewInt(-256), new(big.Int).Lsh(big.NewInt(-7), 300)}
	for _, x := range uints {
		w.uvarint(x)
	}
	for _, x := range ints {
		w.varint(x)
	}
	for _, x := range strs {
		w.string(x)
	}
	for _, x := range times {
		w.time(x)
	}
	for _, x := range bigs {
		w.bigInt(x)
	}
	r := reader{in: w.buf}
	for _, x := range uints {
		if got := r.uvarint(); got != x {
			t.Errorf("uvarint %d, want %d", got, x)
		}
	}
	for _, x := range ints {
		if got := r.varint(); got != x {
			t.Errorf("varint %d, want %d", got, x)
		}
	}
	for _, x := range strs {
		if got := r.string(); got != x {
			t.Errorf("string %q, want %q", got, x)
		}
	}
	for _, x := range times {
		got := r.time()
		_, o1 := got.Zone()
		_, o2 := x.Zone()
		if !got.Equal(x) || o1 != o2 {
			t.Errorf("time %v, want %v", got, x)
		}
	}
	for _, x := range bigs {
		var got big.Int
		r.bigInt(&got)
		if got.Cmp(x) != 0 {
			t.Errorf("big.Int %v, want %v", &got, x)
		}
	}
	if r.err != nil || r.left() != 0 {
		t.Errorf("reader: %v, %d bytes left", r.err, r.left())
	}
	if got := r.uvarint(); got != 0 || r.err == nil || !strings.Contains(r.err.Error(), "input ends inside a varint") {
		t.Errorf("reading past the end: %d, %v", got, r.err)
	}
}

func TestReaderErrorIsSticky(t *testing.T) {
	r := reader{in: []byte{0x80, 0x00, 5, 'h', 'e', 'l', 'l', 'o'}}
	r.uvarint()
	first := r.err
	if first == nil {
		t.Fatal("a redundant varint byte is not an error")
	}
	if s := r.string(); s != "" || r.err != first {
		t.Errorf("after an error: %q, %v", s, r.err)
	}
	if n := r.length(1, "slice"); n != 0 || r.err != first {
		t.Errorf("after an error: length %d, %v", n, r.err)
	}
}

func TestIntegersOutOfRangeAreRefused(t *testing.T) {
	var w writer
	w.uvarint(256)
	w.varint(-129)
	c := &Codec{mode: modeDecode, r: reader{in: w.buf}}
	var u uint8
	Uint(c, &u)
	if c.r.err == nil || !strings.Contains(c.r.err.Error(), "integer 256 overflows uint8") {
		t.Errorf("uint8 256: %v", c.r.err)
	}
	c = &Codec{mode: modeDecode, r: reader{in: w.buf[2:]}}
	var i int8
	Int(c, &i)
	if c.r.err == nil || !strings.Contains(c.r.err.Error(), "integer -129 overflows int8") {
		t.Errorf("int8 -129: %v", c.r.err)
	}
}

func TestFloatsKeepTheirBits(t *testing.T) {
	type fs struct {
		A float64
		B float32
	}
	code := func(c *Codec, v *fs) { Float64(c, &v.A); Float32(c, &v.B) }
	for _, v := range []fs{{0, 0}, {math.Copysign(0, -1), float32(math.Copysign(0, -1))}, {math.Inf(1), float32(math.NaN())}, {math.SmallestNonzeroFloat64, math.MaxFloat32}} {
		snap, err := EncodeSnapshot(&v, code)
		if err != nil {
			t.Fatal(err)
		}
		var got fs
		if err := DecodeSnapshot(snap, &got, code); err != nil {
			t.Fatal(err)
		}
		if math.Float64bits(got.A) != math.Float64bits(v.A) || math.Float32bits(got.B) != math.Float32bits(v.B) {
			t.Errorf("%v decoded as %v", v, got)
		}
	}
}

func TestSortStringsOrdersAsStringsCompare(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"\x00", "\x01", "a", "b", "\xff"}
	for _, n := range []int{0, 1, 2, 63, 64, 65, 1000, 20000} {
		for _, prefix := range []string{"", "acct-", "a-long-common-prefix-of-more-than-sixteen-bytes/"} {
			seen := map[string]bool{}
			var items []sortItem[string, int]
			for len(items) < n {
				var b strings.Builder
				b.WriteString(prefix)
				for range rng.IntN(20) {
					b.WriteString(alphabet[rng.IntN(len(alphabet))])
				}
				k := b.String()
				if seen[k] {
					continue
				}
				seen[k] = true
				items = append(items, sortItem[string, int]{word(k, 0), entry[string, int]{k, len(items)}})
			}
			sortStrings(items)
			keys := make([]string, len(items))
			for i, it := range items {
				keys[i] = it.k
			}
			if !slices.IsSorted(keys) {
				t.Errorf("%d keys with prefix %q: not sorted", n, prefix)
			}
		}
	}
}

// TestALargeMapDecodesLikeASmallOne round-trips a map large enough to be
// decoded by two goroutines (parallelMapMin), with values shared between
// keys and with Primary pointing into it, and refuses it truncated at
// every few thousand bytes without leaving its inserter running.
func TestALargeMapDecodesLikeASmallOne(t *testing.T) {
	s := &codecState{Accounts: map[string]*codecAccount{}}
	var shared *codecAccount
	for i := range 3 * parallelMapMin {
		id := fmt.Sprintf("k%07d", i)
		a := &codecAccount{ID: id, Balance: int64(i)}
		if i%3 == 0 {
			if shared == nil {
				shared = a
			}
			a = shared // one value under many keys
		}
		s.Accounts[id] = a
	}
	s.Primary = s.Accounts["k0001234"]
	snap := encode(t, s)
	got := &codecState{}
	if err := DecodeSnapshot(snap, got, codeCodecState); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, s) {
		t.Fatal("decoded state differs")
	}
	if got.Accounts["k0000000"] != got.Accounts["k0000003"] || got.Primary != got.Accounts["k0001234"] {
		t.Error("shared values decoded as copies")
	}
	if again := encode(t, got); !bytes.Equal(again, snap) {
		t.Error("re-encoding changed the bytes")
	}
	for cut := 10; cut < len(snap); cut += len(snap) / 7 {
		if err := DecodeSnapshot(snap[:cut], &codecState{}, codeCodecState); err == nil {
			t.Errorf("a snapshot cut at %d of %d bytes decoded", cut, len(snap))
		}
	}
}

// TestALargeMapEncodesInTwoHalvesAsInOnePass: a large map with string keys
// is encoded in two halves at once; the bytes (or the error) are those of
// one pass in order, whether the halves share values or not.
func TestALargeMapEncodesInTwoHalvesAsInOnePass(t *testing.T) {
	const n = 3 * splitMapMin
	key := func(i int) string { return fmt.Sprintf("k%07d", i) }
	accounts := func() map[string]*codecAccount {
		m := make(map[string]*codecAccount, n)
		for i := range n {
			m[key(i)] = &codecAccount{ID: key(i), Balance: int64(i)}
		}
		return m
	}
	// holder reaches the map it is in: a cycle through the map.
	type holder struct {
		ID  string
		All map[string]*holder
	}
	var codeHolder func(*Codec, *holder)
	codeHolder = func(c *Codec, v *holder) {
		String(c, &v.ID)
		Map(c, &v.All, PtrTo(codeHolder))
	}
	type before struct {
		First    *codecAccount // met before the map, and in it
		Accounts map[string]*codecAccount
	}
	codeBefore := func(c *Codec, v *before) {
		Ptr(c, &v.First, codeCodecAccount)
		Map(c, &v.Accounts, PtrTo(codeCodecAccount))
	}
	type chains struct{ Heads map[string]*codecNode }
	codeChains := func(c *Codec, v *chains) { Map(c, &v.Heads, PtrTo(codeCodecNode)) }

	for _, tt := range []struct {
		name string
		redo bool // the upper half must be encoded again
		enc  func(split bool) ([]byte, error)
	}{
		{"no shared values", false, func(split bool) ([]byte, error) {
			return encodeSnapshot(&codecState{Accounts: accounts()}, codeCodecState, split)
		}},
		{"a key unlike the others", false, func(split bool) ([]byte, error) {
			// Most likely not among the sampled keys, whose common
			// prefix it lacks.
			s := &codecState{Accounts: accounts()}
			s.Accounts["a"] = &codecAccount{ID: "a"}
			s.Accounts[""] = &codecAccount{}
			return encodeSnapshot(s, codeCodecState, split)
		}},
		{"one value under the lowest and the highest key", true, func(split bool) ([]byte, error) {
			s := &codecState{Accounts: accounts()}
			s.Accounts[key(n-1)] = s.Accounts[key(0)]
			return encodeSnapshot(s, codeCodecState, split)
		}},
		{"one value twice in the upper half", true, func(split bool) ([]byte, error) {
			s := &codecState{Accounts: accounts()}
			s.Accounts[key(n-1)] = s.Accounts[key(n-2)]
			return encodeSnapshot(s, codeCodecState, split)
		}},
		{"a value met before the map", true, func(split bool) ([]byte, error) {
			s := &before{Accounts: accounts()}
			s.First = s.Accounts[key(n-1)]
			return encodeSnapshot(s, codeBefore, split)
		}},
		{"values that reach the map", true, func(split bool) ([]byte, error) {
			all := map[string]*holder{}
			for i := range n {
				all[key(i)] = &holder{ID: key(i)}
			}
			all[key(n-1)].All = all
			return encodeSnapshot(&holder{ID: "root", All: all}, codeHolder, split)
		}},
		{"a value nested too deep in the upper half", true, func(split bool) ([]byte, error) {
			heads := map[string]*codecNode{}
			for i := range n {
				heads[key(i)] = &codecNode{Name: key(i)}
			}
			var deep *codecNode
			for range MaxSnapshotDepth {
				deep = &codecNode{Next: deep}
			}
			heads[key(n-1)] = deep
			return encodeSnapshot(&chains{Heads: heads}, codeChains, split)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			want, wantErr := tt.enc(false)
			redos := splitRedos.Load()
			got, err := tt.enc(true)
			if fmt.Sprint(err) != fmt.Sprint(wantErr) {
				t.Fatalf("split: error %v; one pass: %v", err, wantErr)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("split: %d bytes differ from one pass's %d", len(got), len(want))
			}
			if redid := splitRedos.Load() > redos; redid != tt.redo {
				t.Errorf("upper half encoded again: %v, want %v", redid, tt.redo)
			}
		})
	}
}

// seen is a state that is a set: its entries take a byte each.
type seen struct{ IDs map[uint64]struct{} }

func codeSeen(c *Codec, v *seen) { IntMap(c, &v.IDs, codeEmpty) }

// unitKey is a map key of no size, written as "".
type unitKey struct{}

func (unitKey) MarshalText() ([]byte, error) { return nil, nil }

func (*unitKey) UnmarshalText(b []byte) error {
	if len(b) > 0 {
		return errors.New("not empty")
	}
	return nil
}

// roundTrip encodes v, checks that it decodes to a value equal to v that
// encodes to the same bytes, and returns the bytes.
func roundTrip[T any](t *testing.T, v *T, code func(*Codec, *T)) []byte {
	t.Helper()
	snap, err := EncodeSnapshot(v, code)
	if err != nil {
		t.Fatal(err)
	}
	got := new(T)
	if err := DecodeSnapshot(snap, got, code); err != nil {
		t.Fatalf("%x: %v", snap, err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Errorf("%x decodes to %+v, want %+v", snap, got, v)
	}
	if again, err := EncodeSnapshot(got, code); err != nil || !bytes.Equal(again, snap) {
		t.Errorf("re-encoding %x gives %x, %v", snap, again, err)
	}
	return snap
}

// TestCodecRoundTripsEntriesOfFewBytes: map entries whose key takes a
// byte and whose value takes none (sets), and a map whose one key is of no
// size, decode as they were.
func TestCodecRoundTripsEntriesOfFewBytes(t *testing.T) {
	t.Run("set of small integers", func(t *testing.T) {
		snap := roundTrip(t, &seen{IDs: map[uint64]struct{}{1: {}, 2: {}, 3: {}}}, codeSeen)
		if want := "010103010203"; fmt.Sprintf("%x", snap) != want {
			t.Errorf("encoded as %x, want %s", snap, want)
		}
	})
	t.Run("set of integers", func(t *testing.T) {
		s := &seen{IDs: map[uint64]struct{}{}}
		for i := range uint64(1000) {
			s.IDs[i*i] = struct{}{}
		}
		roundTrip(t, s, codeSeen)
	})
	t.Run("set of strings with the empty one", func(t *testing.T) {
		code := func(c *Codec, v *map[string]struct{}) { Map(c, v, codeEmpty) }
		roundTrip(t, &map[string]struct{}{"": {}}, code)
		roundTrip(t, &map[string]struct{}{"": {}, "a": {}}, code)
	})
	t.Run("set of text keys of no size", func(t *testing.T) {
		code := func(c *Codec, v *map[unitKey]struct{}) { TextMap(c, v, codeEmpty) }
		roundTrip(t, &map[unitKey]struct{}{{}: {}}, code)
	})
	t.Run("map to arrays of no size", func(t *testing.T) {
		code := func(c *Codec, v *map[int8][0]int) {
			IntMap(c, v, func(c *Codec, v *[0]int) {})
		}
		roundTrip(t, &map[int8][0]int{-1: {}, 0: {}, 1: {}}, code)
	})
	t.Run("slice of sets", func(t *testing.T) {
		type sets struct{ All []map[uint64]struct{} }
		code := func(c *Codec, v *sets) {
			Slice(c, &v.All, func(c *Codec, v *map[uint64]struct{}) { IntMap(c, v, codeEmpty) })
		}
		roundTrip(t, &sets{All: []map[uint64]struct{}{{}, {5: {}}, nil, {0: {}, 127: {}}}}, code)
	})
}

// TestCodecRoundTripsLongSlicesOfEmptyValues: a slice of values of no size
// is decoded at any length an int holds, without memory for its elements.
func TestCodecRoundTripsLongSlicesOfEmptyValues(t *testing.T) {
	type flags struct{ F []struct{} }
	code := func(c *Codec, v *flags) { Slice(c, &v.F, codeEmpty) }
	if math.MaxInt > math.MaxUint32 {
		long := uint64(1) << 32
		snap, err := EncodeSnapshot(&flags{F: make([]struct{}, long)}, code)
		if err != nil {
			t.Fatal(err)
		}
		var got flags
		if err := DecodeSnapshot(snap, &got, code); err != nil || uint64(len(got.F)) != long {
			t.Errorf("%x: %d values, %v; want %d", snap, len(got.F), err, long)
		}
	}
	decode := func(n uint64) func() {
		in := binary.AppendUvarint([]byte{SnapshotVersion}, n+1)
		return func() {
			var got flags
			if err := DecodeSnapshot(in, &got, code); err != nil || uint64(len(got.F)) != n {
				t.Fatalf("%x: %d values, %v; want %d", in, len(got.F), err, n)
			}
		}
	}
	few, most := testing.AllocsPerRun(10, decode(3)), testing.AllocsPerRun(10, decode(math.MaxInt))
	if most > few {
		t.Errorf("%v allocations for %d empty values, %v for 3", most, math.MaxInt, few)
	}
}

// padded is T and a field of no size, which takes 8 bytes more than T.
type padded[T any] struct {
	V T
	Z struct{}
}

func codePadded[T any](elem func(*Codec, *T)) func(*Codec, *padded[T]) {
	return func(c *Codec, v *padded[T]) { elem(c, &v.V) }
}

type fatCore struct {
	P *codecAccount
	S []int64
}

func codeFatCore(c *Codec, v *fatCore) {
	Ptr(c, &v.P, codeCodecAccount)
	Slice(c, &v.S, Int[int64])
}

// fat takes 80 bytes of memory and, with P and S nil, 2 of input.
type fat = padded[padded[padded[padded[padded[padded[fatCore]]]]]]

var codeFat = codePadded(codePadded(codePadded(codePadded(codePadded(codePadded(codeFatCore))))))

// TestCodecDecodesPastItsRoomUpFront: elements that take more memory per
// byte of input than a pass makes room for up front are appended as they
// are read, and so are the entries of a set met after them.
func TestCodecDecodesPastItsRoomUpFront(t *testing.T) {
	type grown struct {
		Fat     []fat
		Primary *codecAccount
		Set     map[uint64]struct{}
	}
	code := func(c *Codec, v *grown) {
		Slice(c, &v.Fat, codeFat)
		Ptr(c, &v.Primary, codeCodecAccount)
		IntMap(c, &v.Set, codeEmpty)
	}
	s := &grown{Fat: make([]fat, 3000), Set: map[uint64]struct{}{}}
	last := &s.Fat[len(s.Fat)-1].V.V.V.V.V.V
	last.P, last.S = &codecAccount{ID: "last"}, []int64{1, -2}
	s.Fat[0].V.V.V.V.V.V.P = &codecAccount{ID: "first"}
	s.Primary = last.P
	for i := range uint64(300) {
		s.Set[i] = struct{}{}
	}
	snap := roundTrip(t, s, code)
	var got grown
	if err := DecodeSnapshot(snap, &got, code); err != nil {
		t.Fatal(err)
	}
	if got.Primary != got.Fat[len(got.Fat)-1].V.V.V.V.V.V.P {
		t.Error("Primary and the last element's P are two values")
	}
}

// allocated is how many bytes f allocates.
func allocated(f func()) uint64 {
	var before, after goruntime.MemStats
	goruntime.ReadMemStats(&before)
	f()
	goruntime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// chainNode is a tree whose nodes claim many children.
type chainNode struct{ Kids map[uint64]*chainNode }

func codeChainNode(c *Codec, v *chainNode) { IntMap(c, &v.Kids, PtrTo(codeChainNode)) }

// TestDecodeBoundsTheMemoryOfClaimedLengths: lengths that the input does
// not bear out are refused, or cost memory in proportion to the input,
// not to the lengths.
func TestDecodeBoundsTheMemoryOfClaimedLengths(t *testing.T) {
	head := func(n ...uint64) []byte {
		in := []byte{SnapshotVersion}
		for _, x := range n {
			in = binary.AppendUvarint(in, x)
		}
		return in
	}
	// A chain of maps, most claiming 1000 entries (the last ones, 1, which
	// is all they have room for), whose first entry's value holds the next
	// one: 1 (a new map), 1000, key 0, 1 (a new node), ...
	var chain []byte
	for i := range 3000 {
		claim := uint64(1000)
		if i >= 2700 {
			claim = 1
		}
		chain = binary.AppendUvarint(append(chain, 1), claim)
		chain = append(chain, 0, 1)
	}
	chain = append([]byte{SnapshotVersion}, chain...)
	// bad is as many bytes as are claimed, where the first element fails:
	// a varint of more than 64 bits.
	bad := bytes.Repeat([]byte{0xff}, 40_000)
	type large struct{ A [16][]int64 } // 384 bytes, and at least 16 of input
	codeLarge := func(c *Codec, v *large) {
		for i := range v.A {
			Slice(c, &v.A[i], Int[int64])
		}
	}
	type wide struct{ A [16]uint64 } // 128 bytes, and at least 16 of input
	codeWide := func(c *Codec, v *wide) {
		for i := range v.A {
			Uint(c, &v.A[i])
		}
	}
	for _, tt := range []struct {
		name    string
		in      []byte
		decode  func([]byte) error
		want    string
		perByte int // bytes it may allocate per byte of input
	}{
		{"set of 2^40 entries", head(1, 1<<40), func(in []byte) error {
			return DecodeSnapshot(in, &seen{}, codeSeen)
		}, "map of 1099511627776 values, but 0 bytes are left", 64},
		{"map of 2 keys of no size", append(head(1, 2), 0, 0), func(in []byte) error {
			var m map[unitKey]struct{}
			return DecodeSnapshot(in, &m, func(c *Codec, v *map[unitKey]struct{}) { TextMap(c, v, codeEmpty) })
		}, "map of 2 values with keys of no size", 64},
		// Each map of the chain holds an entry, as it would if its length
		// were 1: that alone takes about 80 bytes per byte of input.
		{"chain of maps", chain, func(in []byte) error {
			return DecodeSnapshot(in, &chainNode{}, codeChainNode)
		}, "input ends", 128},
		{"slice of large elements", append(head(uint64(len(bad)+1)), bad...), func(in []byte) error {
			var s []large
			return DecodeSnapshot(in, &s, func(c *Codec, v *[]large) { Slice(c, v, codeLarge) })
		}, "overflows 64 bits", 64},
		{"map of wide values", append(head(1, uint64(len(bad)/2)), bad...), func(in []byte) error {
			var m map[uint64]wide
			return DecodeSnapshot(in, &m, func(c *Codec, v *map[uint64]wide) { IntMap(c, v, codeWide) })
		}, "overflows 64 bits", 64},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			n := allocated(func() { err = tt.decode(tt.in) })
			t.Logf("%d bytes of input, %d allocated", len(tt.in), n)
			if !errors.Is(err, ErrBadSnapshot) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
			if limit := uint64(tt.perByte*len(tt.in) + 1<<16); n > limit {
				t.Errorf("decoding %d bytes allocated %d bytes, more than %d", len(tt.in), n, limit)
			}
		})
	}
}

// Decoded strings and pointed-to values share blocks (stringArena, slab):
// every decoded pointer is still a value of its own, that changing one
// value or string changes no other, and that strings longer than a block
// and values of two types met in turn decode intact.
func TestDecodedValuesInSharedBlocksAreIndependent(t *testing.T) {
	const n = 3000 // several slabs and string blocks
	s := &codecState{Accounts: map[string]*codecAccount{}}
	var ring *codecNode
	for i := range n {
		id := fmt.Sprintf("acct-%05d-%s", i, strings.Repeat("x", i%40))
		if i%997 == 0 {
			id += strings.Repeat("long", arenaMaxString) // alone, not in a block
		}
		s.Accounts[id] = &codecAccount{ID: id, Balance: int64(i)}
		if i%3 == 0 {
			ring = &codecNode{Name: id, Next: ring} // another type, in turn
		}
	}
	s.Ring = ring
	snap := encode(t, s)
	var got codecState
	if err := DecodeSnapshot(snap, &got, codeCodecState); err != nil {
		t.Fatal(err)
	}
	seen := map[*codecAccount]bool{}
	for k, a := range got.Accounts {
		if seen[a] {
			t.Fatalf("account %q shares its value with another", k)
		}
		seen[a] = true
		if a.ID != k || s.Accounts[k].Balance != a.Balance {
			t.Fatalf("account %q decoded as %+v", k, *a)
		}
	}
	if len(got.Accounts) != n {
		t.Fatalf("%d accounts, want %d", len(got.Accounts), n)
	}
	// Change every value and string; then every other still reads as it did.
	for k, a := range got.Accounts {
		a.Balance = -a.Balance - 1
		a.ID = strings.ToUpper(a.ID)
		_ = k
	}
	for k, a := range got.Accounts {
		if a.Balance != -s.Accounts[k].Balance-1 || a.ID != strings.ToUpper(k) {
			t.Fatalf("account %q is %+v after every account changed its own", k, *a)
		}
	}
	nodes := 0
	for x, y := got.Ring, s.Ring; y != nil; x, y = x.Next, y.Next {
		if x == nil || x.Name != y.Name {
			t.Fatalf("ring node %d decoded as %+v, want %q", nodes, x, y.Name)
		}
		nodes++
	}
	if want := (n + 2) / 3; nodes != want {
		t.Fatalf("%d ring nodes, want %d", nodes, want)
	}
}
