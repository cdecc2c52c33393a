package registry

import (
	"context"
	"errors"

	"github.com/br2k/br2k/internal/lazyopen"
)

// Lazy returns a Registry (and Locator) that opens the real one with open
// at its first use, and again at each later use until an open succeeds: a
// replica starts and serves while the chain node is down, and its records
// wait (and compaction with them) until it is back.
func Lazy(open func(ctx context.Context) (Registry, error)) Registry {
	return lazy{lazyopen.New(open)}
}

type lazy struct{ *lazyopen.Value[Registry] }

func (l lazy) Record(ctx context.Context, rec Record) error {
	r, err := l.Get(ctx)
	if err != nil {
		return err
	}
	return r.Record(ctx, rec)
}

func (l lazy) Latest(ctx context.Context, n int) ([]Record, error) {
	r, err := l.Get(ctx)
	if err != nil {
		return nil, err
	}
	return r.Latest(ctx, n)
}

// ErrNoLocator is returned by a Lazy registry's Locator methods when the
// registry it opened keeps no leader location.
var ErrNoLocator = errors.New("registry: this registry keeps no leader location")

func (l lazy) SetLeader(ctx context.Context, term uint64, endpoint string) error {
	r, err := l.Get(ctx)
	if err != nil {
		return err
	}
	loc, ok := r.(Locator)
	if !ok {
		return ErrNoLocator
	}
	return loc.SetLeader(ctx, term, endpoint)
}

func (l lazy) Leader(ctx context.Context) (uint64, string, error) {
	r, err := l.Get(ctx)
	if err != nil {
		return 0, "", err
	}
	loc, ok := r.(Locator)
	if !ok {
		return 0, "", ErrNoLocator
	}
	return loc.Leader(ctx)
}
