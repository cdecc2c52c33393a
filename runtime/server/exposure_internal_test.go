package server

import (
	"slices"
	"testing"

	"github.com/br2k/br2k/runtime/config"
)

func TestEtcdPortsBeyondThisMachineWithoutCertificatesAreNamed(t *testing.T) {
	auth := &config.MemberTLS{CertFile: "c", KeyFile: "k", CAFile: "ca", ClientCertAuth: true}
	noAuth := &config.MemberTLS{CertFile: "c", KeyFile: "k"}
	for _, tt := range []struct {
		name string
		e    config.Embed
		want []string
	}{
		{"loopback", config.Embed{ClientURL: "http://127.0.0.1:2379", PeerURL: "http://localhost:2380"}, nil},
		{"ipv6 loopback", config.Embed{ClientURL: "http://[::1]:2379", PeerURL: "http://127.0.0.2:2380"}, nil},
		{"private network, plain", config.Embed{ClientURL: "http://10.0.0.1:2379", PeerURL: "http://10.0.0.1:2380"},
			[]string{"etcd.embed.client-url", "etcd.embed.peer-url"}},
		{"wildcard", config.Embed{ClientURL: "http://0.0.0.0:2379", PeerURL: "http://127.0.0.1:2380"}, []string{"etcd.embed.client-url"}},
		{"tls without client certificates", config.Embed{ClientURL: "https://10.0.0.1:2379", PeerURL: "https://10.0.0.1:2380", ClientTLS: noAuth, PeerTLS: noAuth},
			[]string{"etcd.embed.client-url", "etcd.embed.peer-url"}},
		{"mutual tls", config.Embed{ClientURL: "https://10.0.0.1:2379", PeerURL: "https://10.0.0.1:2380", ClientTLS: auth, PeerTLS: auth}, nil},
		{"peer listens elsewhere than it advertises", config.Embed{ClientURL: "http://127.0.0.1:2379", PeerURL: "http://127.0.0.1:2380", ListenPeerURL: "http://0.0.0.0:2380"},
			[]string{"etcd.embed.peer-url"}},
		{"a host name", config.Embed{ClientURL: "http://etcd-1.internal:2379", PeerURL: "http://localhost:2380"}, []string{"etcd.embed.client-url"}},
	} {
		var got []string
		for _, p := range openEtcdPorts(&tt.e) {
			got = append(got, p.key)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: named %v, want %v", tt.name, got, tt.want)
		}
	}
	if openEtcdPorts(nil) != nil {
		t.Error("an external etcd (no embed) named ports")
	}
}
