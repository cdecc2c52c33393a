// Package h1 is a minimal HTTP/1.1 client connection, for the two places
// where net/http's client costs too much on a small machine: driving load
// in benchmarks, and forwarding calls from a follower to the leader.
package h1

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"time"
)

// Conn is a minimal HTTP/1.1 client on one keep-alive connection: one
// request at a time, request bodies with Content-Length, responses with
// Content-Length or chunked bodies. It does the wire work of an HTTP client
// and little else: no pool, no redirects, no compression, no goroutines. On
// a small machine that shares its cores with the servers it talks to,
// net/http's client (two goroutines per connection and several allocations
// per request) costs a good part of the CPU; this one costs little. The load
// generator drives benchmarks with it, and a follower forwards calls to the
// leader with it.
//
// A Conn is not safe for concurrent use. After an error or a response that
// closes the connection, the next Do dials again.
type Conn struct {
	addr    string // host:port, also the Host header
	timeout time.Duration
	dial    func() (net.Conn, error)
	// MaxBody, if positive, bounds a response body: a longer one is an
	// error.
	MaxBody int

	nc       net.Conn
	cur      atomic.Value // net.Conn: nc, for Interrupt
	stopped  atomic.Bool  // Interrupt was called
	r        *bufio.Reader
	buf      []byte
	deadline time.Time // for the next Do only; zero: timeout
	used     time.Time // when the last Do on the open connection ended
}

// NewConn returns a client for the server at addr (host:port) over plain
// TCP. It dials on the first Do. timeout bounds each Do (0: none).
func NewConn(addr string, timeout time.Duration) *Conn {
	return NewConnDial(addr, timeout, func() (net.Conn, error) { return net.DialTimeout("tcp", addr, 5*time.Second) })
}

// NewConnDial is NewConn with the connection made by dial (TLS, say).
func NewConnDial(addr string, timeout time.Duration, dial func() (net.Conn, error)) *Conn {
	return &Conn{addr: addr, timeout: timeout, dial: dial}
}

// Response is what Do read. Body and Header values stay valid only until the
// next Do.
type Response struct {
	Status int
	Header map[string]string // the headers asked for in Do, by the name given
	Body   []byte
}

// ErrNoResponse wraps the error of a Do on a connection that was open
// before it (kept alive from an earlier Do) and ended before any byte of the
// response: the server may have closed it while idle without seeing the
// request, or may have seen it and failed. As net/http does, only a caller
// that may send the request twice should retry.
var ErrNoResponse = errors.New("h1: connection ended before the response")

// SetDeadline bounds the next Do with t instead of the timeout.
func (c *Conn) SetDeadline(t time.Time) { c.deadline = t }

// ErrInterrupted is the error of a Do that Interrupt ended.
var ErrInterrupted = errors.New("h1: interrupted")

// Interrupt ends the Do in progress, or the next one, at once; the
// connection is not usable after it. A Do that had not begun writing its
// request returns ErrInterrupted (nothing was sent); one already under way
// returns the error of its cut read or write, and the request may have
// been delivered. Unlike the other methods, it may be called from another
// goroutine.
func (c *Conn) Interrupt() {
	c.stopped.Store(true)
	if nc, _ := c.cur.Load().(net.Conn); nc != nil {
		nc.SetDeadline(time.Unix(1, 0)) // in the past: blocked reads and writes return
	}
}

// Open reports whether a connection is open: the next Do reuses it.
func (c *Conn) Open() bool { return c.nc != nil }

// IdleFor is how long the open connection has been idle since its last Do
// (0 when no connection is open).
func (c *Conn) IdleFor() time.Duration {
	if c.nc == nil {
		return 0
	}
	return time.Since(c.used)
}

// Do sends one request with body (nil for none) and a Content-Type of
// application/json when body is not nil, plus extra headers given as
// name, value pairs, and reads the response. want names the response
// headers to return (matched case-insensitively).
func (c *Conn) Do(method, path string, body []byte, extra []string, want ...string) (Response, error) {
	if len(extra)%2 != 0 {
		return Response{}, errors.New("h1: Do: extra headers must be name, value pairs")
	}
	reused := c.nc != nil
	if c.nc == nil {
		nc, err := c.dial()
		if err != nil {
			return Response{}, err
		}
		c.nc, c.r = nc, bufio.NewReaderSize(nc, 16<<10)
		c.cur.Store(nc)
	}
	switch {
	case !c.deadline.IsZero():
		c.nc.SetDeadline(c.deadline)
		c.deadline = time.Time{}
	case c.timeout > 0:
		c.nc.SetDeadline(time.Now().Add(c.timeout))
	default:
		c.nc.SetDeadline(time.Time{})
	}
	// Checked after the deadline is set: an Interrupt before it is seen
	// here, one after it moves the deadline to the past.
	if c.stopped.Load() {
		c.Close()
		return Response{}, ErrInterrupted
	}
	b := append(c.buf[:0], method...)
	b = append(b, ' ')
	b = append(b, path...)
	b = append(b, " HTTP/1.1\r\nHost: "...)
	b = append(b, c.addr...)
	b = append(b, "\r\n"...)
	for i := 0; i < len(extra); i += 2 {
		b = append(b, extra[i]...)
		b = append(b, ": "...)
		b = append(b, extra[i+1]...)
		b = append(b, "\r\n"...)
	}
	if body != nil {
		b = append(b, "Content-Type: application/json\r\nContent-Length: "...)
		b = strconv.AppendInt(b, int64(len(body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	b = append(b, body...)
	c.buf = b
	if _, err := c.nc.Write(b); err != nil {
		c.Close()
		if reused {
			err = fmt.Errorf("%w: %w", ErrNoResponse, err)
		}
		return Response{}, err
	}
	if reused {
		// A server that closed the connection while it idled shows it
		// now: nothing of a response comes.
		if _, err := c.r.Peek(1); err != nil {
			c.Close()
			return Response{}, fmt.Errorf("%w: %w", ErrNoResponse, err)
		}
	}
	resp, keep, err := c.read(want)
	if err != nil || !keep {
		c.Close()
	} else {
		c.used = time.Now()
	}
	return resp, err
}

// read reads one response; keep says whether the connection may be reused.
func (c *Conn) read(want []string) (resp Response, keep bool, err error) {
	line, err := c.line()
	if err != nil {
		return resp, false, err
	}
	// "HTTP/1.1 200 OK"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return resp, false, fmt.Errorf("h1: bad status line %q", line)
	}
	if resp.Status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return resp, false, fmt.Errorf("h1: bad status line %q", line)
	}
	keep = line[7] == '1'
	length, chunked := -1, false
	for {
		h, err := c.line()
		if err != nil {
			return resp, false, err
		}
		if len(h) == 0 {
			break
		}
		colon := bytes.IndexByte(h, ':')
		if colon < 0 {
			return resp, false, fmt.Errorf("h1: bad header line %q", h)
		}
		name, value := h[:colon], bytes.TrimSpace(h[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return resp, false, fmt.Errorf("h1: bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keep = false
			}
		}
		for _, w := range want {
			if bytes.EqualFold(name, []byte(w)) {
				if resp.Header == nil {
					resp.Header = map[string]string{}
				}
				resp.Header[w] = string(value)
			}
		}
	}
	switch {
	case chunked:
		resp.Body, err = c.chunks()
	case c.MaxBody > 0 && length > c.MaxBody:
		return resp, false, fmt.Errorf("h1: a body of %d bytes is over the limit of %d", length, c.MaxBody)
	case length >= 0:
		resp.Body = make([]byte, length)
		_, err = io.ReadFull(c.r, resp.Body)
	default:
		// Neither: the body runs to the end of the connection.
		resp.Body, err = c.readAll()
		keep = false
	}
	return resp, keep && err == nil, err
}

// chunks reads a chunked body and its trailer.
func (c *Conn) chunks() ([]byte, error) {
	var body []byte
	for {
		line, err := c.line()
		if err != nil {
			return nil, err
		}
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseUint(string(bytes.TrimSpace(line)), 16, 31)
		if err != nil {
			return nil, fmt.Errorf("h1: bad chunk size %q", line)
		}
		if n == 0 {
			for { // trailer, up to the empty line
				t, err := c.line()
				if err != nil {
					return nil, err
				}
				if len(t) == 0 {
					return body, nil
				}
			}
		}
		if c.MaxBody > 0 && len(body)+int(n) > c.MaxBody {
			return nil, fmt.Errorf("h1: a chunked body over the limit of %d bytes", c.MaxBody)
		}
		start := len(body)
		body = append(body, make([]byte, n)...)
		if _, err := io.ReadFull(c.r, body[start:]); err != nil {
			return nil, err
		}
		if crlf, err := c.line(); err != nil || len(crlf) != 0 {
			return nil, fmt.Errorf("h1: chunk not followed by CRLF")
		}
	}
}

// readAll reads the body to the end of the connection, within MaxBody.
func (c *Conn) readAll() ([]byte, error) {
	if c.MaxBody <= 0 {
		return io.ReadAll(c.r)
	}
	b, err := io.ReadAll(io.LimitReader(c.r, int64(c.MaxBody)+1))
	if err == nil && len(b) > c.MaxBody {
		err = fmt.Errorf("h1: a body over the limit of %d bytes", c.MaxBody)
	}
	return b, err
}

// line reads one CRLF- (or LF-) terminated line without its terminator. The
// slice is valid until the next read.
func (c *Conn) line() ([]byte, error) {
	l, err := c.r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errors.New("h1: response line too long")
		}
		return nil, err
	}
	l = l[:len(l)-1]
	if n := len(l); n > 0 && l[n-1] == '\r' {
		l = l[:n-1]
	}
	return l, nil
}

// Close closes the connection, if open. The Conn may be used again.
func (c *Conn) Close() error {
	if c.nc == nil {
		return nil
	}
	err := c.nc.Close()
	c.nc, c.r = nil, nil
	return err
}
