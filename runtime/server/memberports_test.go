package server_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/br2k/br2k/example/ledger"
	"github.com/br2k/br2k/runtime/config"
	"github.com/br2k/br2k/runtime/server"
)

func TestAnEtcdPortTakenIsNamedByItsKey(t *testing.T) {
	for _, key := range []string{"etcd.embed.client-url", "etcd.embed.peer-url"} {
		cfg := singleMemberConfig(t)
		u := cfg.Etcd.Embed.ClientURL
		if key == "etcd.embed.peer-url" {
			u = cfg.Etcd.Embed.PeerURL
		}
		ln, err := net.Listen("tcp", strings.TrimPrefix(u, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err = server.Start(ctx, cfg, ledger.NewService(ledger.New(nil)), quiet)
		cancel()
		ln.Close()
		if err == nil || !strings.HasPrefix(err.Error(), key+": ") || !strings.Contains(err.Error(), "address already in use") {
			t.Errorf("%s taken: %v", key, err)
		}
	}
}

// A TLS file of the embedded member that does not load is named by its
// config key, not by the member's Go field.
func TestAnEmbeddedMembersTLSFileErrorIsNamedByItsKey(t *testing.T) {
	for _, c := range []struct{ key string }{{"etcd.embed.client-tls.cert-file"}, {"etcd.embed.peer-tls.cert-file"}} {
		cfg := singleMemberConfig(t)
		bad := &config.MemberTLS{CertFile: "/nonexistent/member.crt", KeyFile: "/nonexistent/member.key", CAFile: "/nonexistent/ca.crt"}
		e := cfg.Etcd.Embed
		if strings.Contains(c.key, "client-tls") {
			e.ClientTLS, e.ClientURL = bad, strings.Replace(e.ClientURL, "http://", "https://", 1)
		} else {
			e.PeerTLS = bad
			e.PeerURL = strings.Replace(e.PeerURL, "http://", "https://", 1)
			e.InitialCluster = strings.Replace(e.InitialCluster, "http://", "https://", 1)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := server.Start(ctx, cfg, ledger.NewService(ledger.New(nil)), quiet)
		cancel()
		if err == nil || !strings.HasPrefix(err.Error(), c.key+": ") {
			t.Errorf("%s missing: %v", c.key, err)
		}
	}
}
