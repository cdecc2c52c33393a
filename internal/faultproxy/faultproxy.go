// Package faultproxy is a TCP forwarder for fault injection: it listens on a
// loopback port and copies bytes both ways between each accepted connection
// and a fresh connection to its target. Cut drops every live connection and
// makes new ones fail at once (they are accepted and closed, so a dialer sees
// a reset or EOF rather than hanging); Heal forwards again.
//
// Tests put one in front of each listener whose traffic they want to cut, and
// advertise the proxy's address instead of the listener's.
//
// A proxy can also label each connection by its source (Options.Label reads
// the start of the connection, e.g. an HTTP header naming the sender) and cut
// only the connections of one source (CutFrom): with one proxy in front of
// each member of a cluster whose members dial each other, cutting a member
// off is its own proxy's Cut plus every other proxy's CutFrom.
package faultproxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"sync"
	"time"
)

// DialTimeout bounds connecting to the target for one accepted connection.
const DialTimeout = 2 * time.Second

// LabelTimeout bounds how long Options.Label may wait for the first bytes of
// a connection.
const LabelTimeout = 2 * time.Second

// Options configure a proxy.
type Options struct {
	// Label, if set, reads the start of each new connection through r
	// (peeking: what it reads is still forwarded) and returns a label for
	// its source, or "" when it cannot tell. The connection is not
	// forwarded until Label returns; reads fail after LabelTimeout.
	Label func(r *bufio.Reader) string
}

// Proxy forwards connections from Addr to a target. Its methods are safe for
// concurrent use.
type Proxy struct {
	ln     net.Listener
	target string
	opts   Options

	mu      sync.Mutex
	cut     bool
	blocked map[string]bool // labels cut by CutFrom
	closed  bool
	conns   map[net.Conn]string // both ends of every live forwarded connection, with its label

	wg sync.WaitGroup // the accept loop and every connection's copiers
}

// New starts a proxy on a free loopback port that forwards to target
// ("host:port").
func New(target string) (*Proxy, error) {
	return Listen("127.0.0.1:0", target, Options{})
}

// Listen starts a proxy listening on addr that forwards to target.
func Listen(addr, target string, opts Options) (*Proxy, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	p := &Proxy{ln: ln, target: target, opts: opts, blocked: map[string]bool{}, conns: map[net.Conn]string{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's listening address, host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Target is where the proxy forwards to.
func (p *Proxy) Target() string { return p.target }

// Cut closes every live connection and refuses new ones until Heal.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	p.closeConnsLocked()
}

// CutFrom closes every live connection labelled label and refuses new ones
// with that label until HealFrom or Heal. Connections are labelled only with
// Options.Label.
func (p *Proxy) CutFrom(label string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked[label] = true
	for c, l := range p.conns {
		if l == label {
			c.Close()
			delete(p.conns, c)
		}
	}
}

// HealFrom forwards connections labelled label again (unless the whole
// proxy is cut).
func (p *Proxy) HealFrom(label string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.blocked, label)
}

// Heal makes the proxy forward every new connection again: it undoes Cut
// and every CutFrom.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	clear(p.blocked)
}

// IsCut reports whether the proxy is cut.
func (p *Proxy) IsCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

// Conns is the number of live forwarded connections.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.conns) / 2
}

// Close stops listening, closes every connection and returns when all of the
// proxy's goroutines have ended. It is idempotent.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return nil
	}
	p.closed = true
	p.closeConnsLocked()
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}

func (p *Proxy) closeConnsLocked() {
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			// Anything else (EMFILE, say) is transient for a test proxy:
			// keep accepting unless closed.
			p.mu.Lock()
			closed := p.closed
			p.mu.Unlock()
			if closed {
				return
			}
			continue
		}
		p.mu.Lock()
		refuse := p.cut || p.closed
		if !refuse {
			p.wg.Add(1)
		}
		p.mu.Unlock()
		if refuse {
			c.Close()
			continue
		}
		go p.forward(c)
	}
}

// forward labels c, connects it to the target and copies both ways until
// either side ends, then closes both.
func (p *Proxy) forward(c net.Conn) {
	defer p.wg.Done()
	var src io.Reader = c
	label := ""
	if p.opts.Label != nil {
		br := bufio.NewReaderSize(c, 16<<10)
		c.SetReadDeadline(time.Now().Add(LabelTimeout))
		label = p.opts.Label(br)
		c.SetReadDeadline(time.Time{})
		src = br
	}
	p.mu.Lock()
	refuse := p.cut || p.closed || p.blocked[label]
	p.mu.Unlock()
	if refuse {
		c.Close()
		return
	}
	t, err := net.DialTimeout("tcp", p.target, DialTimeout)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	if p.cut || p.closed || p.blocked[label] { // cut while dialling
		p.mu.Unlock()
		c.Close()
		t.Close()
		return
	}
	p.conns[c] = label
	p.conns[t] = label
	p.mu.Unlock()

	done := make(chan struct{}, 2)
	go func() {
		io.Copy(t, src)
		done <- struct{}{}
	}()
	go func() {
		io.Copy(c, t)
		done <- struct{}{}
	}()
	<-done
	// One direction ended: end the other too (HTTP and etcd's peer streams
	// do not rely on half-closed connections).
	c.Close()
	t.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, c)
	delete(p.conns, t)
	p.mu.Unlock()
}

// HTTPHeader returns an Options.Label that labels a connection with the
// value of header name in the first HTTP/1 request on it ("" if there is
// none). A keep-alive connection's later requests come from the same client,
// so the first request's header labels the whole connection.
func HTTPHeader(name string) func(r *bufio.Reader) string {
	want := []byte(textproto.CanonicalMIMEHeaderKey(name) + ":")
	return func(r *bufio.Reader) string {
		for {
			b, _ := r.Peek(r.Buffered())
			if i := bytes.Index(b, []byte("\r\n\r\n")); i >= 0 {
				return headerValue(b[:i+2], want)
			}
			if len(b) >= r.Size() {
				return headerValue(b, want)
			}
			// Wait for at least one more byte.
			if _, err := r.Peek(len(b) + 1); err != nil {
				b, _ = r.Peek(r.Buffered())
				return headerValue(b, want)
			}
		}
	}
}

// headerValue finds the header line starting with want (canonical name and
// colon, matched case-insensitively) in the request head b.
func headerValue(b, want []byte) string {
	for _, line := range bytes.Split(b, []byte("\r\n")) {
		if len(line) >= len(want) && bytes.EqualFold(line[:len(want)], want) {
			return string(bytes.TrimSpace(line[len(want):]))
		}
	}
	return ""
}
