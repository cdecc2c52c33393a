package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"testing"
)

func TestChunkCountDoesNotOverflow(t *testing.T) {
	for _, c := range []struct {
		size      int64
		chunkSize int
		want      int64
	}{
		{0, 1, 0},
		{1, 1, 1},
		{10, 4, 3},
		{12, 4, 3},
		{math.MaxInt64, 1, math.MaxInt64},
		{math.MaxInt64, MaxChunkSize, math.MaxInt64/MaxChunkSize + 1},
		{math.MaxInt64, math.MaxInt64, 1},
		{10, math.MaxInt64, 1},
	} {
		if got := chunkCount(c.size, c.chunkSize); int64(got) != c.want {
			t.Errorf("chunkCount(%d, %d) = %d, want %d", c.size, c.chunkSize, got, c.want)
		}
	}
}

// catching runs f and returns its error, or an error saying it panicked:
// with the sizes of a corrupted record, a reader must fail, not panic.
func catching(f func() error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panicked: %v", p)
		}
	}()
	return f()
}

// refusedRecord checks that the version at index, whose record is corrupt,
// is neither listed nor opened, that OpenState and OpenEtcd say so with a
// *CorruptError holding each of want, and that a Put of the index is not
// answered ErrExists (a caller would take the index as stored).
func refusedRecord(t *testing.T, s Storage, index uint64, want ...string) {
	t.Helper()
	for _, got := range listIndexes(t, s) {
		if got == index {
			t.Errorf("List offers the version at index %d", index)
		}
	}
	for _, o := range []struct {
		name string
		open func(context.Context, uint64) (io.ReadCloser, error)
	}{{"OpenState", s.OpenState}, {"OpenEtcd", s.OpenEtcd}} {
		err := catching(func() error {
			r, err := o.open(context.Background(), index)
			if err != nil {
				return err
			}
			defer r.Close()
			n, err := io.Copy(io.Discard, r)
			if err == nil {
				return fmt.Errorf("opened, and %d bytes read without an error", n)
			}
			return fmt.Errorf("opened, and reading it failed after %d bytes: %w", n, err)
		})
		var ce *CorruptError
		if !errors.As(err, &ce) || strings.HasPrefix(err.Error(), "opened") {
			t.Errorf("%s(%d): %v; want a *CorruptError from the open", o.name, index, err)
			continue
		}
		for _, w := range append([]string{fmt.Sprintf("index %d", index)}, want...) {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s(%d): %q does not say %q", o.name, index, err, w)
			}
		}
		if o.name == "OpenState" {
			t.Logf("%s: %v", o.name, err)
		}
	}
	v := newVersion(index, 1<<10, 1<<10)
	err := catching(func() error {
		_, err := s.Put(context.Background(), v.meta, untouchable{t}, untouchable{t})
		return err
	})
	if err == nil || errors.Is(err, ErrExists) || !errors.Is(err, ErrCorrupt) {
		t.Errorf("Put(%d) over the corrupt version: %v; want an error wrapping ErrCorrupt, not ErrExists", index, err)
	}
}
