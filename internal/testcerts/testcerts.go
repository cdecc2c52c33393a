// Package testcerts makes a throwaway certificate authority and the
// certificates it issues, as PEM files in a directory, for tests that need
// TLS between real processes or listeners (etcd members and their clients).
//
// Keys are ECDSA P-256. Certificates are valid for a day (from an hour
// before they were made, to tolerate clock skew) and are never meant to
// leave the test that made them. File names are fixed: ca.pem and
// ca-key.pem for the CA, NAME.pem and NAME-key.pem for what Issue(NAME)
// issues.
package testcerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// Validity is how long a certificate made by this package is valid.
const Validity = 24 * time.Hour

// defaultHosts are the names every issued certificate is valid for.
var defaultHosts = [...]string{"127.0.0.1", "::1", "localhost"}

// CA is a throwaway certificate authority. Its methods are safe for
// concurrent use, but issuing one name twice (concurrently or not)
// overwrites that name's files.
type CA struct {
	// Dir holds the CA's files and those of the certificates it issues.
	Dir string
	// CertFile is the CA certificate (PEM, Dir/ca.pem): the file a peer
	// trusts, e.g. etcd's trusted-ca-file.
	CertFile string
	// KeyFile is the CA's private key (PEM, Dir/ca-key.pem).
	KeyFile string

	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// Pair is a certificate issued by a CA and its private key, as PEM files.
// The certificate serves for both server and client authentication.
type Pair struct {
	// Name is the name it was issued for, also its subject's common name.
	Name string
	// CertFile is the certificate (PEM, Dir/Name.pem).
	CertFile string
	// KeyFile is its private key (PEM, Dir/Name-key.pem).
	KeyFile string
}

// New makes a CA in dir (created if missing) and writes its certificate and
// key there as ca.pem and ca-key.pem, replacing earlier ones.
func New(dir string) (*CA, error) {
	if dir == "" {
		return nil, errors.New("testcerts: dir: must not be empty")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("testcerts: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("testcerts: CA key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "br2k test CA", Organization: []string{"br2k testcerts"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(Validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("testcerts: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("testcerts: CA certificate: %w", err)
	}
	ca := &CA{
		Dir:      dir,
		CertFile: filepath.Join(dir, "ca.pem"),
		KeyFile:  filepath.Join(dir, "ca-key.pem"),
		cert:     cert,
		key:      key,
	}
	if err := writePair(ca.CertFile, ca.KeyFile, der, key); err != nil {
		return nil, err
	}
	return ca, nil
}

// Issue issues a certificate for name, valid for server and client
// authentication, with subject alternative names 127.0.0.1, ::1, localhost
// and hosts (IP addresses become IP SANs, anything else DNS SANs), and writes it and
// its key to Dir/name.pem and Dir/name-key.pem. name must be a plain file
// name other than "ca" (letters, digits, '.', '_', '-').
func (ca *CA) Issue(name string, hosts ...string) (Pair, error) {
	if err := checkName(name); err != nil {
		return Pair{}, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, fmt.Errorf("testcerts: %s: key: %w", name, err)
	}
	serial, err := serialNumber()
	if err != nil {
		return Pair{}, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"br2k testcerts"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(Validity),
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	seen := make(map[string]bool)
	for _, h := range slices.Concat(defaultHosts[:], hosts) {
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return Pair{}, fmt.Errorf("testcerts: %s: certificate: %w", name, err)
	}
	p := Pair{
		Name:     name,
		CertFile: filepath.Join(ca.Dir, name+".pem"),
		KeyFile:  filepath.Join(ca.Dir, name+"-key.pem"),
	}
	if err := writePair(p.CertFile, p.KeyFile, der, key); err != nil {
		return Pair{}, err
	}
	return p, nil
}

// Pool returns a certificate pool holding only the CA's certificate.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	return pool
}

// ServerTLS returns a server configuration that presents p and, if
// requireClientCert, accepts only clients presenting a certificate signed
// by the CA.
func (ca *CA) ServerTLS(p Pair, requireClientCert bool) (*tls.Config, error) {
	cert, err := p.Certificate()
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}
	if requireClientCert {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = ca.Pool()
	}
	return cfg, nil
}

// ClientTLS returns a client configuration that trusts only the CA and,
// if p is not nil, presents p as its client certificate. The server name is
// taken from the address dialled (every issued certificate is valid for
// 127.0.0.1, ::1 and localhost).
func (ca *CA) ClientTLS(p *Pair) (*tls.Config, error) {
	cfg := &tls.Config{
		RootCAs:    ca.Pool(),
		MinVersion: tls.VersionTLS12,
	}
	if p != nil {
		cert, err := p.Certificate()
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	return cfg, nil
}

// Certificate loads the pair from its files.
func (p Pair) Certificate() (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(p.CertFile, p.KeyFile)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("testcerts: %s: %w", p.Name, err)
	}
	return cert, nil
}

func checkName(name string) error {
	if name == "" || name == "ca" || name == "." || name == ".." {
		return fmt.Errorf("testcerts: name: must be a file name other than \"ca\", got %q", name)
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
		default:
			return fmt.Errorf("testcerts: name: may hold only letters, digits, '.', '_' and '-', got %q", name)
		}
	}
	return nil
}

func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("testcerts: serial number: %w", err)
	}
	return n, nil
}

// writePair writes a certificate (readable by all) and its key (by the
// owner only) as PEM.
func writePair(certFile, keyFile string, der []byte, key *ecdsa.PrivateKey) error {
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("testcerts: %s: %w", keyFile, err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("testcerts: %w", err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return fmt.Errorf("testcerts: %w", err)
	}
	return nil
}
