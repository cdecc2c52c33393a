package log

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"testing"

	"github.com/br2k/br2k/runtime"
)

func codecCases() []struct {
	name string
	e    runtime.Entry
} {
	return []struct {
		name string
		e    runtime.Entry
	}{
		{"zero", runtime.Entry{}},
		{"replicate", runtime.Entry{
			Index: 1, Term: 7, Kind: runtime.KindReplicate, Op: "Transfer",
			Subject: runtime.Subject{ID: "r1", Index: 1},
			Time:    1_700_000_000_123_456_789, Seed: 0xdeadbeefcafef00d,
			Key: "idem-1", Payload: []byte(`{"from":"a","to":"b","amount":5}`),
		}},
		{"onlyonce with result", runtime.Entry{
			Index: 42, Term: 9, Kind: runtime.KindOnlyOnce, Op: "Balance",
			Subject: runtime.Subject{ID: "replica-with-a-long-name", Index: 300},
			Time:    -1, Seed: 1, Payload: []byte(`{}`),
			Result: &runtime.Outcome{Status: 200, Body: []byte(`{"balance":10}`)},
		}},
		{"result with empty body", runtime.Entry{
			Index: 3, Kind: runtime.KindOnlyOnce, Result: &runtime.Outcome{Status: 204},
		}},
		{"negative status", runtime.Entry{Result: &runtime.Outcome{Status: -5, Body: []byte("x")}}},
		{"extremes", runtime.Entry{
			Index: math.MaxUint64, Term: math.MinInt64, Kind: 0xff, Op: "é",
			Subject: runtime.Subject{ID: "\x00", Index: math.MaxUint64},
			Time:    math.MaxInt64, Seed: math.MaxUint64, Key: string(make([]byte, 300)),
			Payload: bytes.Repeat([]byte{0xff}, 70000),
			Result:  &runtime.Outcome{Status: math.MaxInt32, Body: bytes.Repeat([]byte("b"), 200)},
		}},
	}
}

// equalEntries compares entries treating nil and empty byte slices as equal
// (an empty Payload or Body decodes as nil).
func equalEntries(a, b *runtime.Entry) bool {
	if (a.Result == nil) != (b.Result == nil) {
		return false
	}
	if a.Result != nil && (a.Result.Status != b.Result.Status || !bytes.Equal(a.Result.Body, b.Result.Body)) {
		return false
	}
	ac, bc := *a, *b
	ac.Result, bc.Result = nil, nil
	if !bytes.Equal(ac.Payload, bc.Payload) {
		return false
	}
	ac.Payload, bc.Payload = nil, nil
	return reflect.DeepEqual(ac, bc)
}

func TestEntryCodecRoundTrip(t *testing.T) {
	for _, tc := range codecCases() {
		t.Run(tc.name, func(t *testing.T) {
			b := EncodeEntry(&tc.e)
			if len(b) != cap(b) {
				t.Errorf("encoding has len %d cap %d: size computed wrongly", len(b), cap(b))
			}
			got, err := DecodeEntry(b)
			if err != nil {
				t.Fatal(err)
			}
			if !equalEntries(got, &tc.e) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, tc.e)
			}
			// The decoded entry must not alias the input.
			for i := range b {
				b[i] = 0
			}
			if !equalEntries(got, &tc.e) {
				t.Fatalf("decoded entry changed with its input buffer")
			}
		})
	}
}

func TestDecodeEntryRejectsMalformedInput(t *testing.T) {
	valid := EncodeEntry(&codecCases()[2].e)
	bad := map[string][]byte{
		"empty":           nil,
		"unknown version": append([]byte{2}, valid[1:]...),
		"unknown flag":    append([]byte{valid[0], valid[1], 0x80}, valid[3:]...),
		"trailing byte":   append(append([]byte(nil), valid...), 0),
		"huge length":     {1, 'R', 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 0, 0},
		"bad varint":      {1, 'R', 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	}
	for i := range len(valid) {
		bad["truncated"+string(rune('a'+i%26))+string(rune('0'+i/26))] = valid[:i]
	}
	for name, b := range bad {
		if _, err := DecodeEntry(b); !errors.Is(err, ErrBadEntry) {
			t.Errorf("%s: DecodeEntry(%x) = %v, want ErrBadEntry", name, b, err)
		}
	}
}

// FuzzDecodeEntry feeds arbitrary bytes to DecodeEntry: it must not panic,
// and whatever it accepts must survive a round trip.
func FuzzDecodeEntry(f *testing.F) {
	for _, tc := range codecCases() {
		f.Add(EncodeEntry(&tc.e))
	}
	f.Add([]byte{})
	f.Add([]byte{1})
	f.Add([]byte{1, 'R', 1, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEntry(b)
		if err != nil {
			if !errors.Is(err, ErrBadEntry) {
				t.Fatalf("error %v does not wrap ErrBadEntry", err)
			}
			return
		}
		again, err := DecodeEntry(EncodeEntry(e))
		if err != nil {
			t.Fatalf("re-decoding an accepted entry: %v", err)
		}
		if !equalEntries(e, again) {
			t.Fatalf("round trip changed %+v to %+v", e, again)
		}
	})
}

// FuzzEntryRoundTrip encodes entries built from arbitrary field values.
func FuzzEntryRoundTrip(f *testing.F) {
	f.Add(uint64(1), int64(2), byte('R'), "Transfer", "r1", uint64(3), int64(4), uint64(5), "k", []byte(`{}`), false, 0, []byte(nil))
	f.Add(uint64(math.MaxUint64), int64(math.MinInt64), byte('O'), "", "", uint64(0), int64(-1), uint64(math.MaxUint64), "", []byte(nil), true, 500, []byte(`{"error":{}}`))
	f.Fuzz(func(t *testing.T, index uint64, term int64, kind byte, op, id string, sidx uint64, tm int64, seed uint64, key string, payload []byte, hasResult bool, status int, body []byte) {
		e := &runtime.Entry{
			Index: index, Term: term, Kind: runtime.Kind(kind), Op: op,
			Subject: runtime.Subject{ID: id, Index: sidx}, Time: tm, Seed: seed, Key: key, Payload: payload,
		}
		if hasResult {
			e.Result = &runtime.Outcome{Status: int(int32(status)), Body: body}
		}
		got, err := DecodeEntry(EncodeEntry(e))
		if err != nil {
			t.Fatal(err)
		}
		if !equalEntries(got, e) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, e)
		}
	})
}

func benchEntry() *runtime.Entry {
	return &runtime.Entry{
		Index: 123456, Term: 789, Kind: runtime.KindReplicate, Op: "Transfer",
		Subject: runtime.Subject{ID: "r1", Index: 4567}, Time: 1_700_000_000_000_000_000, Seed: 42,
		Key: "3f6c2b1e-idem", Payload: bytes.Repeat([]byte("x"), 200),
	}
}

func BenchmarkEncodeEntry(b *testing.B) {
	e := benchEntry()
	b.ReportAllocs()
	for b.Loop() {
		EncodeEntry(e)
	}
}

func BenchmarkDecodeEntry(b *testing.B) {
	enc := EncodeEntry(benchEntry())
	b.ReportAllocs()
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := DecodeEntry(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func TestBatchCodecRoundTrip(t *testing.T) {
	res := runtime.Outcome{Status: 409, Body: []byte(`{"error":{}}`)}
	es := []*runtime.Entry{
		{Index: 7, Term: 3, Kind: runtime.KindReplicate, Op: "Transfer", Subject: runtime.Subject{ID: "r1", Index: 1}, Time: 5, Seed: 9, Payload: []byte(`{"a":1}`)},
		{Index: 8, Term: 3, Kind: runtime.KindOnlyOnce, Op: "Balance", Key: "k", Result: &res},
		{Index: 9, Term: 3, Kind: runtime.KindReplicate},
	}
	got, err := DecodeBatch(EncodeBatch(es))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, es) {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, es)
	}
}

func TestDecodeBatchRejectsMalformedInput(t *testing.T) {
	one := []*runtime.Entry{{Index: 1}}
	good := EncodeBatch([]*runtime.Entry{{Index: 1}, {Index: 2}})
	gap := EncodeBatch([]*runtime.Entry{{Index: 1}, {Index: 3}})
	for name, b := range map[string][]byte{
		"empty":           nil,
		"entry not batch": EncodeEntry(one[0]),
		"zero entries":    {batchVersion, 0},
		"forged count":    {batchVersion, 0x7f, 1, 1},
		"truncated":       good[:len(good)-1],
		"trailing":        append(append([]byte{}, good...), 0),
		"gap":             gap,
		"bad entry":       {batchVersion, 1, 2, 9, 9},
	} {
		if _, err := DecodeBatch(b); !errors.Is(err, ErrBadEntry) {
			t.Errorf("%s: DecodeBatch = %v, want ErrBadEntry", name, err)
		}
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add(EncodeBatch([]*runtime.Entry{{Index: 1, Op: "x"}, {Index: 2, Payload: []byte("p")}}))
	f.Add([]byte{batchVersion, 1, 3, 1, 'R', 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		es, err := DecodeBatch(b)
		if err != nil {
			return
		}
		if again, err := DecodeBatch(EncodeBatch(es)); err != nil || !reflect.DeepEqual(again, es) {
			t.Fatalf("re-encoding a decoded batch: %v", err)
		}
	})
}
