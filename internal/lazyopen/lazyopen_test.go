package lazyopen

import (
	"context"
	"errors"
	"testing"
)

type conn struct{ closed *int }

func (c conn) Close() error { *c.closed++; return nil }

func TestAValueOpensAtFirstUseUntilAnOpenSucceedsAndClosesOnlyWhatItOpened(t *testing.T) {
	opens, closed := 0, 0
	down := errors.New("down")
	v := New(func(context.Context) (conn, error) {
		opens++
		if opens < 3 {
			return conn{}, down
		}
		return conn{closed: &closed}, nil
	})
	if err := v.Close(); err != nil || closed != 0 || opens != 0 {
		t.Fatalf("closing an unopened value: err %v, %d opens, %d closes", err, opens, closed)
	}
	for i := 1; i <= 2; i++ {
		if _, err := v.Get(context.Background()); !errors.Is(err, down) {
			t.Fatalf("open %d: err %v, want the open's error", i, err)
		}
	}
	for range 2 {
		if _, err := v.Get(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if opens != 3 {
		t.Fatalf("%d opens, want 3 (two failed, one kept)", opens)
	}
	if err := v.Close(); err != nil || closed != 1 {
		t.Fatalf("close: err %v, %d closes", err, closed)
	}
}
