package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// harness is what the contract tests need of one implementation.
type harness struct {
	// open returns a new, empty storage, closed when the test ends.
	open func(t *testing.T) Storage
	// corrupt flips a byte of a stored chunk, behind the storage's back.
	corrupt func(t *testing.T, s Storage, index uint64, stream string, chunk int)
	// leftovers counts what partial attempts left behind.
	leftovers func(t *testing.T, s Storage) int
	// crashy makes a failed Put leave its partial attempt, as a crash would.
	crashy func(s Storage)
}

// Streams of a few hundred KiB in chunks of 64 KiB: several chunks, a short
// last one, quickly.
const testChunk = 64 << 10

// testData returns n deterministic pseudo-random bytes.
func testData(seed uint64, n int) []byte {
	var key [32]byte
	key[0], key[1] = byte(seed), byte(seed>>8)
	b := make([]byte, n)
	rand.NewChaCha8(key).Read(b)
	return b
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// version is a version's streams and the Meta a Put of them declares.
type version struct {
	meta        Meta
	state, etcd []byte
}

func newVersion(index uint64, stateSize, etcdSize int) version {
	state, etcd := testData(index, stateSize), testData(index+1<<15, etcdSize)
	return version{meta: Meta{Index: index, StateSize: int64(stateSize), StateSHA256: sum(state), ChunkSize: testChunk}, state: state, etcd: etcd}
}

func (v version) put(t *testing.T, s Storage) Meta {
	t.Helper()
	m, err := s.Put(context.Background(), v.meta, bytes.NewReader(v.state), bytes.NewReader(v.etcd))
	if err != nil {
		t.Fatalf("Put index %d: %v", v.meta.Index, err)
	}
	return m
}

// failingReader returns err once after bytes have been read.
type failingReader struct {
	r     io.Reader
	after int
	err   error
	// or, instead of failing, calls this once and goes on
	then func()
}

func (f *failingReader) Read(p []byte) (int, error) {
	if f.after <= 0 {
		if f.then == nil {
			return 0, f.err
		}
		f.then()
		f.then, f.after = nil, 1<<62
	}
	if len(p) > f.after {
		p = p[:f.after]
	}
	n, err := f.r.Read(p)
	f.after -= n
	return n, err
}

// untouchable fails the test if read.
type untouchable struct{ t *testing.T }

func (u untouchable) Read([]byte) (int, error) {
	u.t.Error("a stream was read")
	return 0, io.EOF
}

func readAll(t *testing.T, open func(context.Context, uint64) (io.ReadCloser, error), index uint64) ([]byte, error) {
	t.Helper()
	r, err := open(context.Background(), index)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

func sameMeta(t *testing.T, what string, got, want Meta) {
	t.Helper()
	if !got.Created.Equal(want.Created) {
		t.Errorf("%s: Created %v, want %v", what, got.Created, want.Created)
	}
	got.Created, want.Created = time.Time{}, time.Time{}
	if got != want {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

func listIndexes(t *testing.T, s Storage) []uint64 {
	t.Helper()
	metas, err := s.List(context.Background())
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	out := []uint64{}
	for _, m := range metas {
		out = append(out, m.Index)
	}
	return out
}

func equalIndexes(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// runContract runs the tests every Storage must pass.
func runContract(t *testing.T, h harness) {
	t.Run("RoundTripsMultiChunkStreams", func(t *testing.T) {
		s := h.open(t)
		vs := []version{
			newVersion(100, 300<<10+17, 200<<10+3), // short last chunks
			newVersion(200, 4*testChunk, 0),        // whole chunks; an empty stream
			newVersion(300, 1, testChunk+1),
		}
		var put []Meta
		for i, v := range vs {
			m := v.put(t, s)
			want := v.meta
			want.Version = uint64(i + 1)
			want.EtcdSize, want.EtcdSHA256 = int64(len(v.etcd)), sum(v.etcd)
			want.Created, want.AccessKey = m.Created, m.AccessKey
			sameMeta(t, "Put's Meta", m, want)
			if m.Created.IsZero() || m.AccessKey == "" {
				t.Errorf("Put left Created or AccessKey empty: %+v", m)
			}
			put = append(put, m)
		}
		metas, err := s.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(metas) != len(vs) {
			t.Fatalf("List has %d versions, want %d", len(metas), len(vs))
		}
		for i, m := range metas {
			sameMeta(t, "List", m, put[len(put)-1-i])
		}
		for _, v := range vs {
			got, err := readAll(t, s.OpenState, v.meta.Index)
			if err != nil || !bytes.Equal(got, v.state) {
				t.Errorf("OpenState %d: %d bytes, %v; want %d bytes", v.meta.Index, len(got), err, len(v.state))
			}
			got, err = readAll(t, s.OpenEtcd, v.meta.Index)
			if err != nil || !bytes.Equal(got, v.etcd) {
				t.Errorf("OpenEtcd %d: %d bytes, %v; want %d bytes", v.meta.Index, len(got), err, len(v.etcd))
			}
		}
	})

	t.Run("PutOfAStoredIndexIsErrExistsAndReadsNothing", func(t *testing.T) {
		s := h.open(t)
		v := newVersion(100, 100<<10, 10<<10)
		stored := v.put(t, s)
		m, err := s.Put(context.Background(), v.meta, untouchable{t}, untouchable{t})
		if !errors.Is(err, ErrExists) {
			t.Fatalf("second Put: %v, want ErrExists", err)
		}
		sameMeta(t, "ErrExists' Meta", m, stored)
	})

	t.Run("ListIsNewestFirstAndRetainKeepsTheNewest", func(t *testing.T) {
		s := h.open(t)
		for _, i := range []uint64{10, 30, 20, 40} {
			newVersion(i, 70<<10, 70<<10).put(t, s)
		}
		if got := listIndexes(t, s); !equalIndexes(got, []uint64{40, 30, 20, 10}) {
			t.Fatalf("List: %v", got)
		}
		if err := s.Retain(context.Background(), 0); err == nil {
			t.Error("Retain(0) deleted everything")
		}
		if err := s.Retain(context.Background(), 2); err != nil {
			t.Fatal(err)
		}
		if got := listIndexes(t, s); !equalIndexes(got, []uint64{40, 30}) {
			t.Fatalf("List after Retain(2): %v", got)
		}
		if _, err := s.OpenState(context.Background(), 20); !errors.Is(err, ErrNotFound) {
			t.Errorf("OpenState of a deleted version: %v, want ErrNotFound", err)
		}
		if _, err := s.OpenEtcd(context.Background(), 10); !errors.Is(err, ErrNotFound) {
			t.Errorf("OpenEtcd of a deleted version: %v, want ErrNotFound", err)
		}
		if err := s.Retain(context.Background(), 5); err != nil {
			t.Fatal(err)
		}
		if got := listIndexes(t, s); !equalIndexes(got, []uint64{40, 30}) {
			t.Fatalf("List after Retain(5): %v", got)
		}
		if n := h.leftovers(t, s); n != 0 {
			t.Errorf("%d leftovers after Retain", n)
		}
	})

	t.Run("InterruptedPutLeavesNothingAndARetrySucceeds", func(t *testing.T) {
		s := h.open(t)
		boom := errors.New("boom")
		for _, c := range []struct {
			name   string
			stream string
			after  int
			cancel bool
		}{
			{"state reader fails", StreamState, 150 << 10, false},
			{"etcd reader fails", StreamEtcd, 100 << 10, false},
			{"ctx cancelled in state", StreamState, 130 << 10, true},
			{"ctx cancelled in etcd", StreamEtcd, 70 << 10, true},
		} {
			v := newVersion(500, 300<<10, 200<<10)
			ctx, cancel := context.WithCancel(context.Background())
			var state, etcd io.Reader = bytes.NewReader(v.state), bytes.NewReader(v.etcd)
			f := &failingReader{after: c.after, err: boom}
			if c.cancel {
				f.then = cancel
			}
			if c.stream == StreamState {
				f.r, state = state, f
			} else {
				f.r, etcd = etcd, f
			}
			_, err := s.Put(ctx, v.meta, state, etcd)
			cancel()
			want := boom
			if c.cancel {
				want = context.Canceled
			}
			if !errors.Is(err, want) {
				t.Errorf("%s: Put: %v, want %v", c.name, err, want)
			}
			if !strings.Contains(err.Error(), "index 500") {
				t.Errorf("%s: the error does not name the index: %v", c.name, err)
			}
			if got := listIndexes(t, s); len(got) != 0 {
				t.Errorf("%s: List: %v", c.name, got)
			}
			if _, err := s.OpenState(context.Background(), 500); !errors.Is(err, ErrNotFound) {
				t.Errorf("%s: OpenState: %v, want ErrNotFound", c.name, err)
			}
			if n := h.leftovers(t, s); n != 0 {
				t.Errorf("%s: %d leftovers", c.name, n)
			}
		}
		v := newVersion(500, 300<<10, 200<<10)
		v.put(t, s)
		if got, err := readAll(t, s.OpenState, 500); err != nil || !bytes.Equal(got, v.state) {
			t.Errorf("OpenState after the retry: %d bytes, %v", len(got), err)
		}
	})

	t.Run("CrashedPutIsInvisibleAndRemovedByRetryAndRetain", func(t *testing.T) {
		s := h.open(t)
		h.crashy(s)
		crash := func(index uint64) {
			v := newVersion(index, 300<<10, 200<<10)
			_, err := s.Put(context.Background(), v.meta, bytes.NewReader(v.state),
				&failingReader{r: bytes.NewReader(v.etcd), after: 150 << 10, err: errors.New("power cut")})
			if err == nil {
				t.Fatal("Put succeeded")
			}
		}
		crash(600)
		if n := h.leftovers(t, s); n == 0 {
			t.Fatal("the crash left nothing: the test does not test anything")
		}
		if got := listIndexes(t, s); len(got) != 0 {
			t.Errorf("List shows a crashed Put: %v", got)
		}
		if _, err := s.OpenState(context.Background(), 600); !errors.Is(err, ErrNotFound) {
			t.Errorf("OpenState of a crashed Put: %v, want ErrNotFound", err)
		}
		v := newVersion(600, 300<<10, 200<<10)
		v.put(t, s)
		if n := h.leftovers(t, s); n != 0 {
			t.Errorf("%d leftovers after the retry", n)
		}
		crash(700)
		crash(800)
		if err := s.Retain(context.Background(), 3); err != nil {
			t.Fatal(err)
		}
		if n := h.leftovers(t, s); n != 0 {
			t.Errorf("%d leftovers after Retain", n)
		}
		if got := listIndexes(t, s); !equalIndexes(got, []uint64{600}) {
			t.Errorf("List: %v", got)
		}
		if got, err := readAll(t, s.OpenEtcd, 600); err != nil || !bytes.Equal(got, v.etcd) {
			t.Errorf("OpenEtcd: %d bytes, %v", len(got), err)
		}
	})

	t.Run("CorruptChunkIsRefusedNamingIndexStreamAndChunk", func(t *testing.T) {
		s := h.open(t)
		v := newVersion(700, 300<<10, 200<<10)
		v.put(t, s)
		for _, c := range []struct {
			stream string
			chunk  int
			open   func(context.Context, uint64) (io.ReadCloser, error)
			data   []byte
		}{
			{StreamState, 2, s.OpenState, v.state},
			{StreamEtcd, 3, s.OpenEtcd, v.etcd}, // the short last one
		} {
			h.corrupt(t, s, 700, c.stream, c.chunk)
			got, err := readAll(t, c.open, 700)
			var ce *CorruptError
			if !errors.Is(err, ErrCorrupt) || !errors.As(err, &ce) {
				t.Fatalf("%s: read %d bytes, %v; want a CorruptError", c.stream, len(got), err)
			}
			if ce.Index != 700 || ce.Stream != c.stream || ce.Chunk != c.chunk {
				t.Errorf("%s: CorruptError %+v", c.stream, ce)
			}
			for _, w := range []string{"index 700", fmt.Sprintf("%s chunk %d", c.stream, c.chunk)} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("%s: %q does not say %q", c.stream, err, w)
				}
			}
			// Nothing of the bad chunk was handed out.
			if !bytes.Equal(got, c.data[:c.chunk*testChunk]) {
				t.Errorf("%s: read %d bytes before the error, want the %d of the good chunks", c.stream, len(got), c.chunk*testChunk)
			}
			t.Logf("%s: %v", c.stream, err)
		}
	})

	t.Run("CancelledReadIsNotCorruption", func(t *testing.T) {
		s := h.open(t)
		v := newVersion(750, 300<<10, 10<<10)
		v.put(t, s)
		ctx, cancel := context.WithCancel(context.Background())
		r, err := s.OpenState(ctx, 750)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if _, err := io.ReadFull(r, make([]byte, testChunk+1)); err != nil {
			t.Fatal(err)
		}
		cancel()
		_, err = io.ReadAll(r)
		if !errors.Is(err, context.Canceled) || errors.Is(err, ErrCorrupt) {
			t.Errorf("read after cancel: %v, want context.Canceled and not ErrCorrupt", err)
		}
	})

	t.Run("ConcurrentPutsCompleteEachIndexOnceWithDistinctVersions", func(t *testing.T) {
		s := h.open(t)
		// One index, two Puts: never both complete; the survivor reads back.
		for round := uint64(1); round <= 3; round++ {
			v := newVersion(round*10, 200<<10, 100<<10)
			errs := make(chan error, 2)
			for range 2 {
				go func() {
					m, err := s.Put(context.Background(), v.meta, bytes.NewReader(v.state), bytes.NewReader(v.etcd))
					if errors.Is(err, ErrExists) && m.Index != v.meta.Index {
						err = fmt.Errorf("ErrExists with the Meta of index %d: %w", m.Index, err)
						t.Error(err)
					}
					errs <- err
				}()
			}
			err1, err2 := <-errs, <-errs
			if err1 == nil && err2 == nil {
				t.Errorf("round %d: both Puts of one index succeeded", round)
			}
			if err1 != nil && err2 != nil {
				t.Logf("round %d: both failed (allowed, a retry completes): %v; %v", round, err1, err2)
				continue
			}
			if got, err := readAll(t, s.OpenState, v.meta.Index); err != nil || !bytes.Equal(got, v.state) {
				t.Errorf("round %d: OpenState: %d bytes, %v", round, len(got), err)
			}
		}
		if err := s.Retain(context.Background(), 10); err != nil {
			t.Fatal(err)
		}
		if n := h.leftovers(t, s); n != 0 {
			t.Errorf("%d leftovers", n)
		}

		// Different indexes at once: distinct version numbers.
		s = h.open(t)
		errs := make(chan error, 4)
		for i := range uint64(4) {
			go func() {
				v := newVersion(100+i, 100<<10, 70<<10)
				_, err := s.Put(context.Background(), v.meta, bytes.NewReader(v.state), bytes.NewReader(v.etcd))
				errs <- err
			}()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Error(err)
			}
		}
		metas, err := s.List(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		seen := map[uint64]bool{}
		for _, m := range metas {
			seen[m.Version] = true
		}
		if len(metas) != 4 || !seen[1] || !seen[2] || !seen[3] || !seen[4] {
			t.Errorf("versions: %+v", metas)
		}
	})

	t.Run("WrongDeclaredStateIsRefused", func(t *testing.T) {
		s := h.open(t)
		v := newVersion(800, 300<<10, 10<<10)
		for _, c := range []struct {
			name string
			edit func(*Meta)
		}{
			{"wrong SHA-256", func(m *Meta) { m.StateSHA256 = sum([]byte("something else")) }},
			{"declared too small", func(m *Meta) { m.StateSize -= 1000 }},
			{"declared too large", func(m *Meta) { m.StateSize += 1 }},
			{"empty declared", func(m *Meta) { m.StateSize, m.StateSHA256 = 0, sum(nil) }},
		} {
			meta := v.meta
			c.edit(&meta)
			_, err := s.Put(context.Background(), meta, bytes.NewReader(v.state), bytes.NewReader(v.etcd))
			if !errors.Is(err, ErrMismatch) || !strings.Contains(err.Error(), "index 800") {
				t.Errorf("%s: Put: %v, want ErrMismatch naming index 800", c.name, err)
			}
		}
		if got := listIndexes(t, s); len(got) != 0 {
			t.Errorf("List: %v", got)
		}
		if n := h.leftovers(t, s); n != 0 {
			t.Errorf("%d leftovers", n)
		}
	})

	t.Run("MalformedMetaIsRefused", func(t *testing.T) {
		s := h.open(t)
		v := newVersion(900, 1<<10, 1<<10)
		for _, c := range []struct {
			name, want string
			edit       func(*Meta)
		}{
			{"index 0", "Index", func(m *Meta) { m.Index = 0 }},
			{"SHA-256 not hex", "StateSHA256", func(m *Meta) { m.StateSHA256 = strings.ToUpper(m.StateSHA256) }},
			{"negative size", "StateSize", func(m *Meta) { m.StateSize = -1 }},
			{"negative chunk size", "ChunkSize", func(m *Meta) { m.ChunkSize = -1 }},
		} {
			meta := v.meta
			c.edit(&meta)
			_, err := s.Put(context.Background(), meta, untouchable{t}, untouchable{t})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s: Put: %v, want an error naming %s", c.name, err, c.want)
			}
		}
	})
}
