package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// FieldError is one problem with the configuration.
type FieldError struct {
	// Key is the full key path ("etcd.embed.peer-url", "etcd.endpoints[1]");
	// empty for a problem with the file as a whole (a JSON syntax error).
	Key     string
	Message string
	// Line and Col locate decode errors in the file (1-based, Col in bytes);
	// zero for validation errors, which concern the defaulted values.
	Line, Col int
}

func (e FieldError) Error() string {
	var b strings.Builder
	if e.Line > 0 {
		fmt.Fprintf(&b, "%d:%d: ", e.Line, e.Col)
	}
	if e.Key != "" {
		b.WriteString(e.Key + ": ")
	}
	b.WriteString(e.Message)
	return b.String()
}

// Error is every problem found in one configuration: decode errors (sorted by
// position) or validation errors (sorted by key), never both, since
// validation runs only on a file that decoded. Its message has one line per
// problem, each prefixed with Source when set:
//
//	br2k.json:3:5: state-config.version-up-sise: unknown key
//	br2k.json: replica.id: required
type Error struct {
	Source string // file name, or "" (Validate)
	Errors []FieldError
}

func (e *Error) Error() string {
	lines := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		switch {
		case e.Source == "":
			lines[i] = fe.Error()
		case fe.Line > 0:
			lines[i] = e.Source + ":" + fe.Error()
		default:
			lines[i] = e.Source + ": " + fe.Error()
		}
	}
	return strings.Join(lines, "\n")
}

var (
	idRE      = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
	addressRE = regexp.MustCompile(`^0x[0-9a-fA-F]{40}$`)
)

// Validate checks c, which should have its defaults filled, and returns an
// *Error listing every problem sorted by key, or nil.
func (c *Config) Validate() error {
	var v validator

	r := c.Replica
	v.id("replica.id", r.ID)
	v.hostPort("replica.listen", r.Listen)
	v.advertised("replica.advertise-url", r.AdvertiseURL, "replica.listen", r.Listen, r.TLS != nil, "replica.tls")
	if r.TLS != nil {
		v.required("replica.tls.cert-file", r.TLS.CertFile)
		v.required("replica.tls.key-file", r.TLS.KeyFile)
	}
	if v.hostPort("replica.peer-listen", r.PeerListen) && r.PeerListen == r.Listen {
		v.add("replica.peer-listen", "must differ from replica.listen (%s): the peer listener is a port of its own", r.Listen)
	}
	v.advertised("replica.peer-advertise-url", r.PeerAdvertiseURL, "replica.peer-listen", r.PeerListen, r.PeerTLS != nil, "replica.peer-tls")
	if r.PeerTLS != nil {
		v.required("replica.peer-tls.cert-file", r.PeerTLS.CertFile)
		v.required("replica.peer-tls.key-file", r.PeerTLS.KeyFile)
	}
	mutualTLS := r.PeerTLS != nil && r.PeerTLS.CAFile != ""
	switch n := len(r.PeerSecret.Reveal()); {
	case n == 0 && !mutualTLS:
		v.add("replica.peer-secret", "required (at least 16 bytes, the same on every replica; or set %s), unless replica.peer-tls has a ca-file for mutual TLS", EnvPeerSecret)
	case n > 0 && n < 16:
		v.add("replica.peer-secret", "must have at least 16 bytes, has %d", n)
	}
	v.positive("replica.request-timeout", r.RequestTimeout)
	v.positive("replica.read-timeout", r.ReadTimeout)
	v.positive("replica.idle-timeout", r.IdleTimeout)
	v.positive("replica.stall-timeout", r.StallTimeout)
	if r.WriteTimeout.Duration <= r.RequestTimeout.Duration {
		v.add("replica.write-timeout", "must be longer than replica.request-timeout (%s), got %s", r.RequestTimeout, r.WriteTimeout)
	}
	if r.LeaderProbe.Duration < 0 || r.LeaderProbe.Duration > 10*time.Second {
		v.add("replica.leader-probe", "must be between 0s (off) and 10s, got %v", r.LeaderProbe.Duration)
	}
	if r.MaxBatch < 1 || r.MaxBatch > 1024 {
		v.add("replica.max-batch", "must be 1..1024, got %d", r.MaxBatch)
	}
	if r.MaxOnlyOnce < 1 || r.MaxOnlyOnce > 65536 {
		v.add("replica.max-onlyonce", "must be 1..65536, got %d", r.MaxOnlyOnce)
	}
	if r.MaxConnections < 16 || r.MaxConnections > 1000000 {
		v.add("replica.max-connections", "must be 16..1000000, got %d", r.MaxConnections)
	}
	v.oneOf("replica.heap-huge-pages", r.HeapHugePages, HeapHugePagesAuto, HeapHugePagesOn, HeapHugePagesOff)

	e := c.Etcd
	switch {
	case len(e.Endpoints) > 0 && e.Embed != nil:
		v.add("etcd", "set only one of endpoints and embed, not both")
	case len(e.Endpoints) == 0 && e.Embed == nil:
		v.add("etcd", "set one of endpoints (an external cluster) and embed (an in-process member)")
	}
	https := false
	for i, ep := range e.Endpoints {
		if v.url(fmt.Sprintf("etcd.endpoints[%d]", i), ep, "http", "https") && strings.HasPrefix(ep, "https:") {
			https = true
		}
	}
	if m := e.Embed; m != nil && strings.HasPrefix(m.ClientURL, "https:") {
		https = true
	}
	if https && e.TLS == nil {
		v.add("etcd.tls", "required for https etcd URLs (set ca-file to the cluster's CA, and cert-file and key-file if it requires client certificates)")
	}
	if t := e.TLS; t != nil && (t.CertFile == "") != (t.KeyFile == "") {
		v.add("etcd.tls", "set both cert-file and key-file, or neither")
	}
	if m := e.Embed; m != nil && m.ClientTLS != nil && m.ClientTLS.ClientCertAuth && (e.TLS == nil || e.TLS.CertFile == "") {
		v.add("etcd.tls.cert-file", "required: the embedded member requires client certificates (etcd.embed.client-tls.client-cert-auth), and this replica is its client")
	}
	if (e.Username == "") != e.Password.IsZero() {
		v.add("etcd.username", "set both username and password (or %s), or neither", EnvEtcdPassword)
	}
	if !strings.HasPrefix(e.Prefix, "/") || !strings.HasSuffix(e.Prefix, "/") {
		v.add("etcd.prefix", `must start and end with "/", got %q`, e.Prefix)
	}
	switch ttl := e.SessionTTL.Duration; {
	case ttl < time.Second:
		v.add("etcd.session-ttl", "must be >= 1s, got %s", ttl)
	case ttl%time.Second != 0:
		v.add("etcd.session-ttl", "must be whole seconds (etcd lease TTLs are), got %s", ttl)
	}
	v.positive("etcd.dial-timeout", e.DialTimeout)
	if m := e.Embed; m != nil {
		v.embed(m)
	}

	s := c.ServiceRegistry
	v.id("service-registry.id", s.ID)
	switch s.Type {
	case RegistryTest:
		v.required("service-registry.test-path", s.TestPath)
	case RegistryEthereum, RegistryKlaytn:
		const p = "service-registry.access-perm."
		a := s.AccessPerm
		v.url(p+"endpoint", a.Endpoint)
		v.address(p+"account", a.Account)
		v.address(p+"contract.address", a.Contract.Address)
		v.required(p+"contract.json-interface-path", a.Contract.JSONInterfacePath)
		if a.Confirmations < 0 {
			v.add(p+"confirmations", "must be >= 0, got %d", a.Confirmations)
		}
		if a.PrivateKey.IsZero() && a.Password.IsZero() {
			v.add(p+"private-key", "required for type %q unless password is set (or set %s or %s)",
				s.Type, EnvPrivateKey, EnvRegistryPassword)
		}
	default:
		v.oneOf("service-registry.type", s.Type, RegistryTest, RegistryEthereum, RegistryKlaytn)
	}

	st := c.StateConfig
	if st.VersionUpSize <= 0 {
		v.add("state-config.version-up-size", "must be > 0, got %d", st.VersionUpSize)
	}
	v.required("state-config.state-path", st.StatePath)
	if st.MaxStateVersion < 1 {
		v.add("state-config.max-state-version", "must be >= 1, got %d", st.MaxStateVersion)
	}
	v.positive("state-config.max-log-hold", st.MaxLogHold)
	if st.BackupInterval.Duration < 0 {
		v.add("state-config.backup-interval", "must be >= 0 (0s stores every version), got %v", st.BackupInterval.Duration)
	}
	v.oneOf("state-config.state-mode", st.StateMode, StateModeDefault, StateModeRollback)
	v.oneOf("state-config.backup-storage-type", st.BackupStorageType, BackupFile, BackupMySQL)
	if st.BackupStorageType == BackupFile {
		v.required("state-config.backup-storage-path", st.BackupStoragePath)
	}
	if st.BackupStorageType == BackupMySQL {
		v.required("state-config.backup-storage-auth.host", st.BackupStorageAuth.Host)
		v.required("state-config.backup-storage-auth.database", st.BackupStorageAuth.Database)
	}

	return v.err()
}

func (v *validator) embed(m *Embed) {
	const p = "etcd.embed."
	v.id(p+"name", m.Name)
	v.required(p+"data-dir", m.DataDir)
	if v.url(p+"client-url", m.ClientURL, "http", "https") {
		v.tlsScheme(p+"client-url", m.ClientURL, m.ClientTLS != nil, p+"client-tls")
	}
	peerOK := v.url(p+"peer-url", m.PeerURL, "http", "https")
	if peerOK {
		v.tlsScheme(p+"peer-url", m.PeerURL, m.PeerTLS != nil, p+"peer-tls")
	}
	if m.ListenPeerURL != "" && v.url(p+"listen-peer-url", m.ListenPeerURL, "http", "https") {
		v.tlsScheme(p+"listen-peer-url", m.ListenPeerURL, m.PeerTLS != nil, p+"peer-tls")
	}
	for _, t := range []struct {
		key string
		tls *MemberTLS
	}{{p + "client-tls", m.ClientTLS}, {p + "peer-tls", m.PeerTLS}} {
		if t.tls == nil {
			continue
		}
		v.required(t.key+".cert-file", t.tls.CertFile)
		v.required(t.key+".key-file", t.tls.KeyFile)
		switch {
		case t.tls.ClientCertAuth && t.tls.CAFile == "":
			v.add(t.key+".ca-file", "required with client-cert-auth")
		case t.tls == m.PeerTLS && t.tls.CAFile == "":
			v.add(t.key+".ca-file", "required: members verify each other's certificates with it")
		}
	}
	if q := m.QuotaBackendBytes; q < 1<<20 || q > 8<<30 {
		v.add(p+"quota-backend-bytes", "must be between 1048576 (1 MiB) and 8589934592 (8 GiB), got %d", q)
	}
	v.oneOf(p+"initial-cluster-state", m.InitialClusterState, "new", "existing")
	v.positive(p+"heartbeat-interval", m.HeartbeatInterval)
	if hb, el := m.HeartbeatInterval.Duration, m.ElectionTimeout.Duration; hb > 0 && el < 5*hb {
		v.add(p+"election-timeout", "must be >= 5 * heartbeat-interval (%s), got %s", 5*hb, el)
	}

	if len(m.Join) > 0 {
		if m.InitialClusterState != "existing" {
			v.add(p+"join", "needs initial-cluster-state \"existing\": a joining member joins a running cluster")
		}
		for i, u := range m.Join {
			v.url(fmt.Sprintf("%sjoin[%d]", p, i), u, "http", "https")
		}
		if m.InitialCluster != "" {
			v.add(p+"initial-cluster", "must be empty with join: the running cluster says who its members are")
		}
		return
	}
	const key = p + "initial-cluster"
	if m.InitialCluster == "" {
		v.add(key, "required, like %q", "r1=http://127.0.0.1:2380,r2=http://127.0.0.1:2382")
		return
	}
	self := false
	names := map[string]bool{}
	for i, member := range strings.Split(m.InitialCluster, ",") {
		name, peer, ok := strings.Cut(strings.TrimSpace(member), "=")
		if !ok || name == "" {
			v.add(key, "member %d: want name=peer-url, got %q", i+1, member)
			return
		}
		if names[name] {
			v.add(key, "member %q is listed twice; every member needs a name of its own", name)
			return
		}
		names[name] = true
		if u, err := url.Parse(peer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add(key, "member %q: want an http(s) peer URL, got %q", name, peer)
			return
		}
		self = self || name == m.Name && peer == m.PeerURL
	}
	if !self && m.Name != "" && peerOK {
		v.add(key, "must contain this member, %s=%s", m.Name, m.PeerURL)
	}
}

// validator collects FieldErrors.
type validator struct{ errs []FieldError }

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, FieldError{Key: key, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) err() error {
	if len(v.errs) == 0 {
		return nil
	}
	slices.SortStableFunc(v.errs, func(a, b FieldError) int { return strings.Compare(a.Key, b.Key) })
	return &Error{Errors: v.errs}
}

func (v *validator) required(key, s string) bool {
	if s == "" {
		v.add(key, "required")
		return false
	}
	return true
}

// maxIDLength bounds ids: a replica's id is stamped on every log entry it
// orders, and names its keys in etcd.
const maxIDLength = 128

func (v *validator) id(key, s string) {
	switch {
	case !v.required(key, s):
	case len(s) > maxIDLength:
		v.add(key, "must be at most %d characters, got %d", maxIDLength, len(s))
	case !idRE.MatchString(s):
		v.add(key, "must be letters, digits, '_' and '-' only, got %q", s)
	}
}

func (v *validator) oneOf(key, s string, allowed ...string) {
	if !slices.Contains(allowed, s) {
		v.add(key, "must be one of %s, got %q", strings.Join(allowed, ", "), s)
	}
}

func (v *validator) positive(key string, d Duration) {
	if d.Duration <= 0 {
		v.add(key, "must be > 0, got %s", d)
	}
}

func (v *validator) address(key, s string) {
	if v.required(key, s) && !addressRE.MatchString(s) {
		v.add(key, "must be 0x followed by 40 hex digits, got %q", s)
	}
}

func (v *validator) hostPort(key, s string) bool {
	if !v.required(key, s) {
		return false
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		v.add(key, "want host:port, got %q", s)
		return false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		v.add(key, "want a port 1..65535, got %q", port)
		return false
	}
	return true
}

// advertised checks the URL a listener is advertised at: required when the
// listen address names no host, and https exactly when the listener serves
// TLS.
func (v *validator) advertised(key, u, listenKey, listen string, tls bool, tlsKey string) {
	if u == "" && wildcardHost(listen) {
		v.add(key, "required: %s is %q, which names no address the others can reach", listenKey, listen)
		return
	}
	if u == "" && listen == "" {
		return // the listen key's own error says it
	}
	if v.url(key, u, "http", "https") {
		v.tlsScheme(key, u, tls, tlsKey)
	}
}

// tlsScheme checks that u is https exactly when TLS is configured at tlsKey.
func (v *validator) tlsScheme(key, u string, tls bool, tlsKey string) {
	https := strings.HasPrefix(u, "https:")
	switch {
	case https && !tls:
		v.add(key, "is https, but %s is not set", tlsKey)
	case !https && tls:
		v.add(key, "is http, but %s is set: want an https URL", tlsKey)
	}
}

// url checks s is an absolute URL with a host and, if schemes are given, one
// of those schemes. It reports whether s is fine.
func (v *validator) url(key, s string, schemes ...string) bool {
	if !v.required(key, s) {
		return false
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "":
		v.add(key, "want an absolute URL like %q, got %q", "http://127.0.0.1:2379", s)
	case len(schemes) > 0 && !slices.Contains(schemes, u.Scheme):
		v.add(key, "want an %s URL, got %q", strings.Join(schemes, " or "), s)
	default:
		return true
	}
	return false
}
