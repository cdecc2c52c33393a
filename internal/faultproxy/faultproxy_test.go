package faultproxy

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// echoServer echoes lines back until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn, msg string) (string, error) {
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSuffix(line, "\n"), err
}

func TestProxyForwardsCutsAndHeals(t *testing.T) {
	p, err := New(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	live, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	if got, err := roundTrip(live, "hello"); err != nil || got != "hello" {
		t.Fatalf("before cut: got %q, %v; want hello", got, err)
	}

	p.Cut()
	if !p.IsCut() || p.Conns() != 0 {
		t.Fatalf("after Cut: IsCut %v, Conns %d; want true, 0", p.IsCut(), p.Conns())
	}
	if got, err := roundTrip(live, "after"); err == nil {
		t.Fatalf("live connection still forwards after Cut: got %q", got)
	}
	fresh, err := net.Dial("tcp", p.Addr())
	if err == nil {
		got, err := roundTrip(fresh, "new")
		fresh.Close()
		if err == nil {
			t.Fatalf("new connection forwards while cut: got %q", got)
		}
	}

	p.Heal()
	healed, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer healed.Close()
	if got, err := roundTrip(healed, "again"); err != nil || got != "again" {
		t.Fatalf("after heal: got %q, %v; want again", got, err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := roundTrip(healed, "closed"); err == nil {
		t.Fatal("connection forwards after Close")
	}
}

func TestProxyToDeadTargetClosesClient(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	p, err := New(dead)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := roundTrip(c, "x"); err == nil {
		t.Fatal("a connection to a dead target forwarded")
	}
}

// dialAs opens a connection through p that starts with an HTTP request head
// naming its sender, and checks the head comes back from the echo server.
func dialAs(t *testing.T, p *Proxy, from string) (net.Conn, error) {
	t.Helper()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		return nil, err
	}
	head := "GET /raft/stream HTTP/1.1\r\nHost: x\r\nx-server-from: " + from + "\r\n\r\n"
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, head); err != nil {
		c.Close()
		return nil, err
	}
	got := make([]byte, len(head))
	if _, err := io.ReadFull(c, got); err != nil {
		c.Close()
		return nil, err
	}
	if string(got) != head {
		c.Close()
		t.Fatalf("echo of the request head: got %q, want %q", got, head)
	}
	return c, nil
}

func TestProxyCutsOneSourceByLabel(t *testing.T) {
	p, err := Listen("127.0.0.1:0", echoServer(t), Options{Label: HTTPHeader("X-Server-From")})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	a, err := dialAs(t, p, "a1")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := dialAs(t, p, "b2")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	p.CutFrom("a1")
	if _, err := roundTrip(a, "x"); err == nil {
		t.Fatal("a cut source's live connection still forwards")
	}
	if got, err := roundTrip(b, "y"); err != nil || got != "y" {
		t.Fatalf("another source's connection: got %q, %v", got, err)
	}
	if c, err := dialAs(t, p, "a1"); err == nil {
		c.Close()
		t.Fatal("a new connection from a cut source forwards")
	}
	p.HealFrom("a1")
	c, err := dialAs(t, p, "a1")
	if err != nil {
		t.Fatalf("after HealFrom: %v", err)
	}
	c.Close()

	p.CutFrom("a1")
	p.Heal()
	if c, err := dialAs(t, p, "a1"); err != nil {
		t.Fatalf("Heal did not undo CutFrom: %v", err)
	} else {
		c.Close()
	}
}

func TestHTTPHeaderLabel(t *testing.T) {
	label := HTTPHeader("X-Server-From")
	tests := []struct{ in, want string }{
		{"POST /raft HTTP/1.1\r\nHost: h\r\nX-Server-From: 8e9e05c52164694d\r\n\r\nbody", "8e9e05c52164694d"},
		{"GET / HTTP/1.1\r\nx-server-from:abc \r\n\r\n", "abc"},
		{"GET / HTTP/1.1\r\nHost: h\r\n\r\nX-Server-From: in-body\r\n", ""},
		{"GET / HTTP/1.1\r\nX-Server-From: cut-short", "cut-short"},
	}
	for _, tt := range tests {
		r := bufio.NewReaderSize(strings.NewReader(tt.in), 64)
		if got := label(r); got != tt.want {
			t.Errorf("label(%q) = %q, want %q", tt.in, got, tt.want)
		}
		rest, _ := io.ReadAll(r)
		if string(rest) != tt.in {
			t.Errorf("label consumed input: left %q of %q", rest, tt.in)
		}
	}
}
