package loadgen

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// Conn is a minimal HTTP/1.1 client on one keep-alive TCP connection, for
// driving load: one request at a time, request bodies with Content-Length,
// responses with Content-Length or chunked bodies. It does the wire work of
// an HTTP client and little else: no pool, no redirects, no compression, no
// goroutines. On a small machine that shares its cores between the load
// generator and the system measured, net/http's client (two goroutines and
// several allocations per request) takes a fifth of the CPU; this one takes
// little, and the server does exactly the same work either way.
//
// A Conn is not safe for concurrent use. After an error or a response that
// closes the connection, the next Do dials again.
type Conn struct {
	addr    string // host:port
	timeout time.Duration
	nc      net.Conn
	r       *bufio.Reader
	buf     []byte
}

// NewConn returns a client for the server at addr (host:port). It dials on
// the first Do. timeout bounds each Do (0: none).
func NewConn(addr string, timeout time.Duration) *Conn {
	return &Conn{addr: addr, timeout: timeout}
}

// Conns returns one Conn per address for each of clients closed-loop
// clients (conns[client][i] for addrs[i]), and a function that closes them
// all.
func Conns(clients int, addrs []string, timeout time.Duration) (conns [][]*Conn, closeAll func()) {
	conns = make([][]*Conn, clients)
	for c := range conns {
		for _, a := range addrs {
			conns[c] = append(conns[c], NewConn(a, timeout))
		}
	}
	return conns, func() {
		for _, cs := range conns {
			for _, c := range cs {
				c.Close()
			}
		}
	}
}

// Response is what Do read. Body and Header values stay valid only until the
// next Do.
type Response struct {
	Status int
	Header map[string]string // the headers asked for in Do, by the name given
	Body   []byte
}

// Do sends one request with body (nil for none) and a Content-Type of
// application/json when body is not nil, plus extra headers given as
// name, value pairs, and reads the response. want names the response
// headers to return (matched case-insensitively).
func (c *Conn) Do(method, path string, body []byte, extra []string, want ...string) (Response, error) {
	if len(extra)%2 != 0 {
		return Response{}, errors.New("loadgen: Do: extra headers must be name, value pairs")
	}
	if c.nc == nil {
		nc, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			return Response{}, err
		}
		c.nc, c.r = nc, bufio.NewReaderSize(nc, 16<<10)
	}
	if c.timeout > 0 {
		c.nc.SetDeadline(time.Now().Add(c.timeout))
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
		return Response{}, err
	}
	resp, keep, err := c.read(want)
	if err != nil || !keep {
		c.Close()
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
		return resp, false, fmt.Errorf("loadgen: bad status line %q", line)
	}
	if resp.Status, err = strconv.Atoi(string(line[9:12])); err != nil {
		return resp, false, fmt.Errorf("loadgen: bad status line %q", line)
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
			return resp, false, fmt.Errorf("loadgen: bad header line %q", h)
		}
		name, value := h[:colon], bytes.TrimSpace(h[colon+1:])
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 {
				return resp, false, fmt.Errorf("loadgen: bad Content-Length %q", value)
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
	case length >= 0:
		resp.Body = make([]byte, length)
		_, err = io.ReadFull(c.r, resp.Body)
	default:
		// Neither: the body runs to the end of the connection.
		resp.Body, err = io.ReadAll(c.r)
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
			return nil, fmt.Errorf("loadgen: bad chunk size %q", line)
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
		start := len(body)
		body = append(body, make([]byte, n)...)
		if _, err := io.ReadFull(c.r, body[start:]); err != nil {
			return nil, err
		}
		if crlf, err := c.line(); err != nil || len(crlf) != 0 {
			return nil, fmt.Errorf("loadgen: chunk not followed by CRLF")
		}
	}
}

// line reads one CRLF- (or LF-) terminated line without its terminator. The
// slice is valid until the next read.
func (c *Conn) line() ([]byte, error) {
	l, err := c.r.ReadSlice('\n')
	if err != nil {
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, errors.New("loadgen: response line too long")
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
