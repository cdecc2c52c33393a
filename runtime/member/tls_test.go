package member

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/br2k/br2k/internal/testcerts"
)

// newTLSClient is newClient with a TLS configuration (nil: plain) and a
// short dial timeout, as befits clients that may be refused.
func newTLSClient(t *testing.T, cfg *tls.Config, endpoints ...string) *clientv3.Client {
	t.Helper()
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 2 * time.Second,
		TLS:         cfg,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// A cluster with peer TLS and client TLS with client-certificate auth
// serves clients that present a certificate from its CA, and no others.
func TestTLSClusterServesOnlyClientsWithACertificateFromItsCA(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ca, err := testcerts.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zapcore.ErrorLevel)
	ms, err := StartClusterWith(ctx, t.TempDir(), 3, ClusterOptions{Certify: Certify(ca), Logger: zap.New(core)})
	if err != nil {
		t.Fatal(err)
	}
	defer CloseAll(ms)
	for _, m := range ms {
		c := m.Config()
		if !strings.HasPrefix(m.ClientURL(), "https://") || !strings.HasPrefix(m.PeerURL(), "https://") || !strings.Contains(c.InitialCluster, "=https://") {
			t.Fatalf("member %s: client URL %s, peer URL %s, initial cluster %s; want https", m.Name(), m.ClientURL(), m.PeerURL(), c.InitialCluster)
		}
		if c.ClientTLS == nil || !c.ClientTLS.ClientCertAuth || c.PeerTLS == nil || !c.PeerTLS.ClientCertAuth {
			t.Fatalf("member %s: client TLS %+v, peer TLS %+v; want both with client-cert auth", m.Name(), c.ClientTLS, c.PeerTLS)
		}
	}

	// A client with a certificate of its own from the CA writes through
	// one member and reads through another (peer TLS carries the write).
	pair, err := ca.Issue("client")
	if err != nil {
		t.Fatal(err)
	}
	good, err := TLS{CertFile: pair.CertFile, KeyFile: pair.KeyFile, TrustedCAFile: ca.CertFile}.ClientConfig()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newTLSClient(t, good, ms[0].ClientURL()).Put(ctx, "k", "v"); err != nil {
		t.Fatalf("put with a client certificate: %v", err)
	}
	// A member's own configuration serves as well.
	own, err := ms[2].ClientTLSConfig()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := newTLSClient(t, own, ms[2].ClientURL()).Get(ctx, "k")
	if err != nil {
		t.Fatalf("get with the member's own certificate: %v", err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Fatalf("read %v through another member, want k=v", resp.Kvs)
	}

	other, err := testcerts.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := other.Issue("client")
	if err != nil {
		t.Fatal(err)
	}
	noCert, err := ca.ClientTLS(nil)
	if err != nil {
		t.Fatal(err)
	}
	otherCert, err := ca.ClientTLS(&stranger)
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.TrimPrefix(ms[0].ClientURL(), "https://")
	refused := []struct {
		name     string
		cfg      *tls.Config
		endpoint string
	}{
		{"plain http", nil, "http://" + addr},
		{"TLS without a client certificate", noCert, ms[0].ClientURL()},
		{"TLS with a client certificate from another CA", otherCert, ms[0].ClientURL()},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			cli := newTLSClient(t, tt.cfg, tt.endpoint)
			rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
			defer rcancel()
			if _, err := cli.Put(rctx, "k", "intruder"); err == nil {
				t.Fatal("put succeeded, want it refused")
			}
			// clientv3 retries until its context ends; one connection
			// by hand shows that the member refuses it.
			if tt.cfg == nil {
				r, err := http.Get(tt.endpoint + "/version")
				if err == nil {
					r.Body.Close()
					t.Fatalf("plain GET /version: %s, want the connection refused", r.Status)
				}
				return
			}
			// crypto/tls reports an alert from the peer as a
			// *net.OpError with Op "remote error".
			var alert *net.OpError
			if err := firstRead(addr, tt.cfg); !errors.As(err, &alert) || alert.Op != "remote error" {
				t.Fatalf("TLS connection: got %v, want a TLS alert from the member", err)
			}
		})
	}
	// The same by hand with a certificate from the CA succeeds.
	if err := firstRead(addr, good); err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("TLS connection with a client certificate: %v", err)
	}
	resp, err = newTLSClient(t, good, ms[1].ClientURL()).Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Fatalf("after the refused clients read %v, want k=v", resp.Kvs)
	}
	// Refused clients are etcd's warnings, not errors.
	for _, e := range logs.All() {
		t.Errorf("member %s logged an error: %s %v", e.LoggerName, e.Message, e.ContextMap())
	}
}

func TestStartClusterWithRejectsCertifyAndFiles(t *testing.T) {
	ca, err := testcerts.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	_, err = StartClusterWith(context.Background(), t.TempDir(), 1, ClusterOptions{Certify: Certify(ca), PeerTLS: &TLS{}})
	if err == nil || !strings.Contains(err.Error(), "Certify:") {
		t.Fatalf("got %v, want an error naming Certify", err)
	}
}

// firstRead connects to addr with cfg and reads: the member sends nothing
// first, so a read that times out (os.ErrDeadlineExceeded) means the member
// accepted the connection, and an alert that it refused it (with TLS 1.3 a
// client learns of a refused certificate only when it reads).
func firstRead(addr string, cfg *tls.Config) error {
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	_, err = c.Read(make([]byte, 1))
	return err
}

// Certify issues each member a certificate of its own from ca, with
// client-certificate authentication against ca (ClusterOptions.Certify).
func Certify(ca *testcerts.CA) func(name string) (*TLS, error) {
	return func(name string) (*TLS, error) {
		p, err := ca.Issue(name)
		if err != nil {
			return nil, err
		}
		return &TLS{CertFile: p.CertFile, KeyFile: p.KeyFile, TrustedCAFile: ca.CertFile, ClientCertAuth: true}, nil
	}
}
