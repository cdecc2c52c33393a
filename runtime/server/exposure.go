package server

import (
	"net"
	"net/url"
	"strings"

	"github.com/br2k/br2k/runtime/config"
)

// openEtcdPort is an embedded etcd member's port that serves whoever
// reaches it, named by its config key.
type openEtcdPort struct {
	key, url, risk, fix string
}

// openEtcdPorts lists the ports of embedded member e that listen beyond
// this machine without requiring certificates. Whoever reaches the client
// port can write the service's log, which every replica applies without
// the checks of the public routes; whoever reaches the peer port can speak
// raft to the member. The README asks to keep them private; a replica says
// so at start when the configuration does not make sure of it.
func openEtcdPorts(e *config.Embed) []openEtcdPort {
	if e == nil {
		return nil
	}
	var open []openEtcdPort
	if !loopbackURL(e.ClientURL) && (e.ClientTLS == nil || !e.ClientTLS.ClientCertAuth) {
		open = append(open, openEtcdPort{
			key: "etcd.embed.client-url", url: e.ClientURL,
			risk: "any client that reaches it can write the service's log, which every replica applies",
			fix:  "keep it on the cluster's private network (a firewall), or set etcd.embed.client-tls with client-cert-auth",
		})
	}
	peer := e.PeerURL
	if e.ListenPeerURL != "" {
		peer = e.ListenPeerURL
	}
	if !loopbackURL(peer) && (e.PeerTLS == nil || !e.PeerTLS.ClientCertAuth) {
		open = append(open, openEtcdPort{
			key: "etcd.embed.peer-url", url: peer,
			risk: "anyone who reaches it can send raft messages to the member",
			fix:  "keep it on the cluster's private network (a firewall), or set etcd.embed.peer-tls with client-cert-auth",
		})
	}
	return open
}

// loopbackURL says whether u's host is this machine's loopback, reachable
// from nowhere else.
func loopbackURL(u string) bool {
	p, err := url.Parse(u)
	if err != nil {
		return false
	}
	host := p.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
