package loadgen

import (
	"time"

	"github.com/br2k/br2k/internal/h1"
)

// Conn is the load generator's client connection: see h1.Conn.
type Conn = h1.Conn

// Response is what Conn.Do read.
type Response = h1.Response

// NewConn returns a client for the server at addr (host:port).
func NewConn(addr string, timeout time.Duration) *Conn { return h1.NewConn(addr, timeout) }

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
