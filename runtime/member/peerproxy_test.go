package member

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// forwarder passes TCP connections from its listener to target until cut.
type forwarder struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	conns  []net.Conn
	cut    bool
}

func newForwarder(t *testing.T, target string) *forwarder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); f.setCut(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.mu.Lock()
			if f.cut {
				f.mu.Unlock()
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				f.mu.Unlock()
				c.Close()
				continue
			}
			f.conns = append(f.conns, c, up)
			f.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
	return f
}

// setCut drops every connection and refuses new ones (true), or lets them
// through again (false).
func (f *forwarder) setCut(cut bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut = cut
	if cut {
		for _, c := range f.conns {
			c.Close()
		}
		f.conns = nil
	}
}

// Members that advertise a proxy in front of their peer listener form a
// cluster through the proxies; cutting one member's proxy cuts it off.
func TestMembersCanAdvertiseAProxyInFrontOfTheirPeerListener(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ports, err := FreePorts(6)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfgs := make([]Config, 3)
	fwds := make([]*forwarder, 3)
	var peers []string
	for i := range cfgs {
		listen := fmt.Sprintf("127.0.0.1:%d", ports[2*i+1])
		fwds[i] = newForwarder(t, listen)
		cfgs[i] = Config{
			Name: memberName(i), Dir: filepath.Join(dir, memberName(i)),
			ClientURL:     fmt.Sprintf("http://127.0.0.1:%d", ports[2*i]),
			ListenPeerURL: "http://" + listen,
			PeerURL:       "http://" + fwds[i].ln.Addr().String(),
			ClusterToken:  "proxied",
		}
		peers = append(peers, cfgs[i].Name+"="+cfgs[i].PeerURL)
	}
	ms := make([]*Member, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i := range cfgs {
		cfgs[i].InitialCluster = strings.Join(peers, ",")
		wg.Go(func() { ms[i], errs[i] = Start(ctx, cfgs[i]) })
	}
	wg.Wait()
	defer CloseAll(ms)
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	cli := newClient(t, ms[0].ClientURL())
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("put through proxied peers: %v", err)
	}

	// Cut member 3's proxy: linearizable reads through it stop working,
	// the others keep a quorum.
	fwds[2].setCut(true)
	cut := newClient(t, ms[2].ClientURL())
	for deadline := time.Now().Add(20 * time.Second); ; {
		rctx, rcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		_, err := cut.Put(rctx, "k", "cut")
		rcancel()
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("member 3 still commits writes 20s after its peer proxy was cut")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := cli.Put(ctx, "k", "v2"); err != nil {
		t.Fatalf("the majority lost its quorum: %v", err)
	}
	fwds[2].setCut(false)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		rctx, rcancel := context.WithTimeout(ctx, time.Second)
		resp, err := cut.Get(rctx, "k")
		rcancel()
		if err == nil && len(resp.Kvs) == 1 && string(resp.Kvs[0].Value) == "v2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("member 3 did not catch up after the heal: %v", err)
		}
	}
}
