package testcerts

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// handshake runs one TLS connection over loopback: the server handshakes
// and writes "ok", the client handshakes and reads it. It returns each
// side's error. With TLS 1.3 a client learns that the server rejected its
// certificate only when it reads, hence the read.
func handshake(t *testing.T, server, client *tls.Config) (clientErr, serverErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	serverDone := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			serverDone <- err
			return
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		tc := tls.Server(c, server)
		if err := tc.Handshake(); err != nil {
			serverDone <- err
			return
		}
		_, err = tc.Write([]byte("ok"))
		serverDone <- err
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	cfg := client.Clone()
	cfg.ServerName = "127.0.0.1"
	tc := tls.Client(c, cfg)
	clientErr = tc.Handshake()
	if clientErr == nil {
		var buf [2]byte
		if _, clientErr = io.ReadFull(tc, buf[:]); clientErr == nil && string(buf[:]) != "ok" {
			t.Fatalf("client read %q, want ok", buf[:])
		}
	}
	c.Close() // unblocks a server still waiting for the client
	return clientErr, <-serverDone
}

func mustCA(t *testing.T) *CA {
	t.Helper()
	ca, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func mustIssue(t *testing.T, ca *CA, name string, hosts ...string) Pair {
	t.Helper()
	p, err := ca.Issue(name, hosts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestHandshake(t *testing.T) {
	ca := mustCA(t)
	other := mustCA(t)
	server := mustIssue(t, ca, "server")
	client := mustIssue(t, ca, "client")
	stranger := mustIssue(t, other, "client")

	serverTLS := func(requireClientCert bool) *tls.Config {
		cfg, err := ca.ServerTLS(server, requireClientCert)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	clientTLS := func(ca *CA, p *Pair) *tls.Config {
		cfg, err := ca.ClientTLS(p)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	tests := []struct {
		name   string
		server *tls.Config
		client *tls.Config
		ok     bool
	}{
		{"trusting the CA", serverTLS(false), clientTLS(ca, nil), true},
		{"trusting another CA", serverTLS(false), clientTLS(other, nil), false},
		{"client certificate required and presented", serverTLS(true), clientTLS(ca, &client), true},
		{"client certificate required and missing", serverTLS(true), clientTLS(ca, nil), false},
		{"client certificate from another CA", serverTLS(true), clientTLS(ca, &stranger), false},
		// A server certificate also serves as a client certificate.
		{"server certificate as client certificate", serverTLS(true), clientTLS(ca, &server), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cerr, serr := handshake(t, tt.server, tt.client)
			if tt.ok && (cerr != nil || serr != nil) {
				t.Fatalf("client error %v, server error %v; want a connection", cerr, serr)
			}
			if !tt.ok && (cerr == nil || serr == nil) {
				t.Fatalf("client error %v, server error %v; want both to fail", cerr, serr)
			}
		})
	}
}

func TestIssueWritesCertificateAndKey(t *testing.T) {
	ca := mustCA(t)
	p := mustIssue(t, ca, "m1", "10.0.0.7", "node1.example", "localhost")
	if p.Name != "m1" || p.CertFile != filepath.Join(ca.Dir, "m1.pem") || p.KeyFile != filepath.Join(ca.Dir, "m1-key.pem") {
		t.Fatalf("got %+v, want files m1.pem and m1-key.pem in %s", p, ca.Dir)
	}
	if ca.CertFile != filepath.Join(ca.Dir, "ca.pem") || ca.KeyFile != filepath.Join(ca.Dir, "ca-key.pem") {
		t.Fatalf("CA files %s, %s; want ca.pem and ca-key.pem in %s", ca.CertFile, ca.KeyFile, ca.Dir)
	}
	for _, f := range []string{p.KeyFile, ca.KeyFile} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want it readable by its owner only", f, st.Mode().Perm())
		}
	}

	cert := readCert(t, p.CertFile)
	var ips []string
	for _, ip := range cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	slices.Sort(ips)
	if want := []string{"10.0.0.7", "127.0.0.1", "::1"}; !slices.Equal(ips, want) {
		t.Errorf("IP SANs %v, want %v", ips, want)
	}
	if want := []string{"localhost", "node1.example"}; !slices.Equal(cert.DNSNames, want) {
		t.Errorf("DNS SANs %v, want %v", cert.DNSNames, want)
	}
	if want := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}; !slices.Equal(cert.ExtKeyUsage, want) {
		t.Errorf("extended key usage %v, want server and client auth", cert.ExtKeyUsage)
	}
	if cert.Subject.CommonName != "m1" || cert.IsCA {
		t.Errorf("subject %q, IsCA %v; want m1, false", cert.Subject.CommonName, cert.IsCA)
	}
	if d := cert.NotAfter.Sub(time.Now()); d > Validity || d < Validity-time.Minute {
		t.Errorf("valid for another %v, want about %v", d, Validity)
	}
	roots := ca.Pool()
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, DNSName: "node1.example", KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("verify against the CA: %v", err)
	}
	caCert := readCert(t, ca.CertFile)
	if !caCert.IsCA || caCert.PublicKeyAlgorithm != x509.ECDSA {
		t.Errorf("CA certificate: IsCA %v, key %v; want a CA with an ECDSA key", caCert.IsCA, caCert.PublicKeyAlgorithm)
	}
}

func readCert(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatalf("%s: not a PEM certificate", file)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestIssueRejectsNamesThatAreNotPlainFileNames(t *testing.T) {
	ca := mustCA(t)
	for _, name := range []string{"", "ca", "..", "a/b", "../x", "a b"} {
		if _, err := ca.Issue(name); err == nil || !strings.Contains(err.Error(), "name:") {
			t.Errorf("Issue(%q): got %v, want an error naming name", name, err)
		}
	}
}

func TestNewRejectsAnEmptyDir(t *testing.T) {
	if _, err := New(""); err == nil || !strings.Contains(err.Error(), "dir:") {
		t.Fatalf("got %v, want an error naming dir", err)
	}
}
