package loadgen

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func countingServer(t *testing.T) (addr string, conns *atomic.Int32) {
	t.Helper()
	conns = new(atomic.Int32)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), conns
}

func TestConnsGivesEachClientItsOwnConnections(t *testing.T) {
	a, connsA := countingServer(t)
	b, connsB := countingServer(t)
	conns, closeAll := Conns(2, []string{a, b}, 5*time.Second)
	for c := range conns {
		for i := range conns[c] {
			if _, err := conns[c][i].Do("POST", "/", []byte("{}"), nil); err != nil {
				t.Fatal(err)
			}
		}
	}
	if connsA.Load() != 2 || connsB.Load() != 2 {
		t.Fatalf("connections: %d to the first server, %d to the second; want 2 each", connsA.Load(), connsB.Load())
	}
	closeAll()
	for c := range conns {
		for _, cn := range conns[c] {
			if cn.Open() {
				t.Fatal("closeAll left a connection open")
			}
		}
	}
}
