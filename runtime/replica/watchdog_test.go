package replica

import (
	"net"
	"testing"
	"time"
)

func TestOnlyARefusedConnectionCountsAgainstTheLeader(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	open := "http://" + ln.Addr().String()
	if refuses(open, time.Second) {
		t.Fatal("a listening port counts as refusing")
	}
	ln.Close()
	if !refuses(open, time.Second) {
		t.Fatal("a closed port does not count as refusing")
	}
	if refuses("not a url", time.Second) || refuses("http://", time.Second) {
		t.Fatal("an unusable leader URL counts as refusing")
	}
}
