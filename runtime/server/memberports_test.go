package server_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/br2k/br2k/example/ledger"
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
