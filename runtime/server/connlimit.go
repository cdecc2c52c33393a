package server

import (
	"container/list"
	"crypto/tls"
	"net"
	"net/http"
	"sync"
)

// connLimit bounds the connections a listener holds open. Without it a
// stranger who opens connections and leaves them idle (each kept for
// replica.idle-timeout) runs the process out of file descriptors, which its
// etcd member and state files share.
//
// When every place is taken, a new connection takes the place of the
// connection idle the longest, which is closed (a keep-alive client opens
// another when it needs one); when none is idle, Accept waits until one
// closes. Connections in a request are bounded in time by the server's read
// and write timeouts, so the wait ends.
//
// It sits below TLS, so that a handshake in progress holds a place too; the
// server reports connection states (ConnState) for the TLS connection,
// which is mapped back to the raw one.
type connLimit struct {
	net.Listener
	max int

	mu     sync.Mutex
	freed  *sync.Cond
	open   int
	idle   *list.List // of *limitedConn, longest idle first
	closed bool
}

// defaultMaxConnections is replica.max-connections' default, also taken
// when a Config built without defaults leaves it 0.
const defaultMaxConnections = 4096

func newConnLimit(ln net.Listener, max int) *connLimit {
	if max <= 0 {
		max = defaultMaxConnections
	}
	l := &connLimit{Listener: ln, max: max, idle: list.New()}
	l.freed = sync.NewCond(&l.mu)
	return l
}

// Accept takes a place for a connection once it has arrived (taking one
// ahead would evict an idle connection for a client that may never come),
// so one connection more than max may be open while it waits.
func (l *connLimit) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if err := l.takePlace(); err != nil {
		c.Close()
		return nil, err
	}
	return &limitedConn{Conn: c, l: l}, nil
}

// takePlace waits for a place, evicting the longest-idle connection when
// all are taken.
func (l *connLimit) takePlace() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	for l.open >= l.max && !l.closed {
		if e := l.idle.Front(); e != nil {
			c := l.idle.Remove(e).(*limitedConn)
			c.elem = nil
			// Closed outside the lock: Close gives the place back.
			l.mu.Unlock()
			c.Close()
			l.mu.Lock()
			continue
		}
		l.freed.Wait()
	}
	if l.closed {
		return net.ErrClosed
	}
	l.open++
	return nil
}

// Close closes the listener and wakes an Accept waiting for a place.
func (l *connLimit) Close() error {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.freed.Broadcast()
	return l.Listener.Close()
}

// connState is the server's ConnState hook: it keeps the idle list.
func (l *connLimit) connState(c net.Conn, state http.ConnState) {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	lc, ok := c.(*limitedConn)
	if !ok {
		return
	}
	l.mu.Lock()
	if lc.elem != nil {
		l.idle.Remove(lc.elem)
		lc.elem = nil
	}
	idle := state == http.StateIdle && !lc.done
	if idle {
		lc.elem = l.idle.PushBack(lc)
	}
	l.mu.Unlock()
	if idle {
		l.freed.Signal() // an Accept waiting for a place may take this one's
	}
}

// limitedConn is a connection holding a place; closing it gives the place
// back, once.
type limitedConn struct {
	net.Conn
	l    *connLimit
	once sync.Once
	// Guarded by l.mu.
	elem *list.Element // in l.idle while idle
	done bool
}

// Write sends p, or the JSON form of net/http's own plain-text error
// answers (see jsonCannedError).
func (c *limitedConn) Write(p []byte) (int, error) {
	if j, ok := jsonCannedError(p); ok {
		if _, err := c.Conn.Write(j); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.mu.Lock()
		c.done = true
		if c.elem != nil {
			c.l.idle.Remove(c.elem)
			c.elem = nil
		}
		c.l.open--
		c.l.mu.Unlock()
		c.l.freed.Signal()
	})
	return err
}
