package server

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"

	"github.com/br2k/br2k/runtime/config"
)

// certPool reads a PEM file of CA certificates; key names it in errors.
func certPool(key, file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: %s holds no PEM certificate", key, file)
	}
	return pool, nil
}

func keyPair(key, certFile, keyFile string) (tls.Certificate, error) {
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: load cert-file and key-file: %w", key, err)
	}
	return c, nil
}

// publicTLS is the public listener's TLS configuration, or nil.
func publicTLS(t *config.ServerTLS) (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	cert, err := keyPair("replica.tls", t.CertFile, t.KeyFile)
	if err != nil {
		return nil, err
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}, nil
}

// peerTLS returns the peer listener's TLS configuration and the client
// configuration this replica forwards with (both nil without peer-tls).
// With a ca-file, the listener requires client certificates signed by it,
// and the client presents this replica's certificate and checks the
// leader's against the CA.
func peerTLS(t *config.TLSFiles) (server, client *tls.Config, err error) {
	if t == nil {
		return nil, nil, nil
	}
	cert, err := keyPair("replica.peer-tls", t.CertFile, t.KeyFile)
	if err != nil {
		return nil, nil, err
	}
	server = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	client = &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pool, err := certPool("replica.peer-tls.ca-file", t.CAFile)
		if err != nil {
			return nil, nil, err
		}
		server.ClientCAs, server.ClientAuth = pool, tls.RequireAndVerifyClientCert
		client.RootCAs, client.Certificates = pool, []tls.Certificate{cert}
	}
	return server, client, nil
}

// etcdTLS is the replica's client TLS configuration for etcd, or nil.
func etcdTLS(t *config.TLSFiles) (*tls.Config, error) {
	if t == nil {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pool, err := certPool("etcd.tls.ca-file", t.CAFile)
		if err != nil {
			return nil, err
		}
		c.RootCAs = pool
	}
	if t.CertFile != "" {
		cert, err := keyPair("etcd.tls", t.CertFile, t.KeyFile)
		if err != nil {
			return nil, err
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}
