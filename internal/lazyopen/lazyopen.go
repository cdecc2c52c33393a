// Package lazyopen holds a connection to an outside service (a chain node,
// a database) that is opened at its first use, and again at each later use
// until an open succeeds: a replica starts and serves while that service is
// down, and what needs it waits, and is retried, until it is back.
package lazyopen

import (
	"context"
	"io"
	"sync"
)

// Value is a T opened at first use. Its methods are safe for concurrent use;
// one open runs at a time.
type Value[T io.Closer] struct {
	open func(ctx context.Context) (T, error)
	mu   sync.Mutex
	v    T
	ok   bool
}

// New returns a Value that opens with open.
func New[T io.Closer](open func(ctx context.Context) (T, error)) *Value[T] {
	return &Value[T]{open: open}
}

// Get returns the opened T, opening it first if no open has succeeded yet.
func (l *Value[T]) Get(ctx context.Context) (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.ok {
		v, err := l.open(ctx)
		if err != nil {
			var zero T
			return zero, err
		}
		l.v, l.ok = v, true
	}
	return l.v, nil
}

// Close closes the T if it was opened.
func (l *Value[T]) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.ok {
		return nil
	}
	return l.v.Close()
}
