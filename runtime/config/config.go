// Package config loads, defaults and validates a br2k replica's configuration.
//
// The file is JSON. Keys are kebab-case; service-registry, state-config and
// webpack-config keep br2k-was's names, replica and etcd are new. Load reads a
// file, then, in this order: decodes it strictly (unknown keys and wrong types
// are errors naming the full key path), applies environment overrides, fills
// defaults and validates. The result is meant to be treated as read-only.
//
// Relative paths (state-path, data-dir, json-interface-path, dist) are used as
// given, i.e. relative to the process's working directory.
//
// This is the only br2k package that reads the environment:
//
//	BR2K_PEER_SECRET        replica.peer-secret
//	BR2K_ETCD_PASSWORD      etcd.password
//	BR2K_PRIVATE_KEY        service-registry.access-perm.private-key
//	BR2K_REGISTRY_PASSWORD  service-registry.access-perm.password
//	BR2K_BACKUP_PASSWORD    state-config.backup-storage-auth.password
//
// A non-empty variable overrides the file's value.
package config

import (
	"fmt"
	"net"
	"os"
	"time"
)

// Config is the whole configuration file.
type Config struct {
	Replica         Replica         `json:"replica"`
	Etcd            Etcd            `json:"etcd"`
	ServiceRegistry ServiceRegistry `json:"service-registry"`
	StateConfig     StateConfig     `json:"state-config"`
	WebpackConfig   WebpackConfig   `json:"webpack-config"`
}

// Replica describes this replica process.
type Replica struct {
	// ID names the replica among its peers: required, letters, digits, '_'
	// and '-' only. No default.
	ID string `json:"id"`
	// Listen is the host:port the public HTTP server binds, e.g.
	// "127.0.0.1:8081" or ":8081"; port 1..65535. Required, no default.
	Listen string `json:"listen"`
	// AdvertiseURL is the absolute http(s) URL clients use to reach this
	// replica (status shows the leader's). Default "http://"+Listen
	// ("https://" with TLS); required when Listen has no host or a wildcard
	// one (":8081", "0.0.0.0:8081"), since that is no address to reach.
	AdvertiseURL string `json:"advertise-url"`
	// TLS, when set, makes the public listener serve HTTPS.
	TLS *ServerTLS `json:"tls"`
	// PeerListen is the host:port of the peer listener, where the other
	// replicas forward calls; it must differ from Listen and should be
	// reachable by the replicas only. Required, no default.
	PeerListen string `json:"peer-listen"`
	// PeerAdvertiseURL is the URL the other replicas reach the peer
	// listener at. Default "http://"+PeerListen ("https://" with
	// peer-tls); required when PeerListen has a wildcard host.
	PeerAdvertiseURL string `json:"peer-advertise-url"`
	// PeerSecret is the cluster's shared secret, at least 16 bytes: every
	// peer request carries an HMAC made with it. The same on every replica.
	// Env BR2K_PEER_SECRET overrides it. Required unless PeerTLS has a
	// ca-file (mutual TLS then authenticates the replicas); both may be set.
	PeerSecret Secret `json:"peer-secret"`
	// PeerTLS, when set, makes the peer listener serve HTTPS with
	// cert-file/key-file. With ca-file it is mutual TLS: the listener
	// refuses connections without a certificate signed by that CA, this
	// replica presents its certificate when it forwards, and it checks the
	// leader's against the CA.
	PeerTLS *TLSFiles `json:"peer-tls"`
	// RequestTimeout bounds one client request, ordering and apply included.
	// Default 10s; must be > 0.
	RequestTimeout Duration `json:"request-timeout"`
	// ReadTimeout bounds reading one request, headers and body, on both
	// listeners. Default 10s; must be > 0.
	ReadTimeout Duration `json:"read-timeout"`
	// WriteTimeout bounds handling a request and writing its answer, from
	// the end of its headers, on both listeners. Default request-timeout +
	// 5s; must be > request-timeout. (GET /br2k/wait extends its own.)
	WriteTimeout Duration `json:"write-timeout"`
	// IdleTimeout is how long a keep-alive connection may wait for its next
	// request. Default 2m; must be > 0.
	IdleTimeout Duration `json:"idle-timeout"`
	// LeaderProbe is how often a follower checks that the leader's port
	// accepts connections; three refusals in a row (a crashed leader) make
	// it revoke the leader's lease rather than wait for it to expire.
	// Default 100ms; "0s" turns the probe off; at most 10s.
	LeaderProbe Duration `json:"leader-probe"`
	// StallTimeout is how long a leader's apply loop may make no progress
	// while entries it committed wait (a replicated handler that blocks)
	// before it resigns. Default 3s; must be > 0. Raise it if applying one
	// batch can take longer (a very large state's checkpoint).
	StallTimeout Duration `json:"stall-timeout"`
	// MaxBatch is the most requests the leader orders in one etcd
	// transaction (one log batch, also cut at 1 MiB). Default 256; 1..1024.
	MaxBatch int `json:"max-batch"`
	// MaxOnlyOnce is the most onlyonce handlers that run at once on the
	// leader; more calls get 429 BR2K_TOO_MANY_REQUESTS with nothing run.
	// A handler that waits on I/O keeps its place until it returns.
	// Default 256; 1..65536.
	MaxOnlyOnce int `json:"max-onlyonce"`
	// MaxConnections is the most connections each listener (public, peer)
	// holds open. When all are taken, a new connection replaces the one
	// idle the longest; with none idle it waits. It keeps a stranger's
	// connections from taking the file descriptors the process's etcd
	// member and state files need. Default 4096; 16..1000000.
	MaxConnections int `json:"max-connections"`
	// HeapHugePages says whether the replica keeps its Go heap in
	// transparent huge pages on a Linux kernel whose THP mode is "madvise"
	// (where the Go runtime's heap gets none): "auto" (default) once the
	// live heap passes 256 MiB, "on" from the start, "off" never. Other
	// kernels and THP modes are left alone. See the README, "Large states".
	HeapHugePages string `json:"heap-huge-pages"`
}

// Values of replica.heap-huge-pages.
const (
	HeapHugePagesAuto = "auto"
	HeapHugePagesOn   = "on"
	HeapHugePagesOff  = "off"
)

// Etcd says how to reach the etcd cluster that orders requests. Exactly one of
// Endpoints (an external cluster) and Embed (run an etcd member in-process)
// must be set.
type Etcd struct {
	// Endpoints are the client URLs of an external etcd cluster, e.g.
	// ["http://127.0.0.1:2379"]. No default. https endpoints need TLS.
	Endpoints []string `json:"endpoints"`
	// TLS is this replica's client TLS to etcd: ca-file verifies the
	// members' certificates (empty: the system's roots), cert-file and
	// key-file are presented when the members require client
	// certificates. Required when the endpoints (or an embedded member's
	// client-url) are https.
	TLS *TLSFiles `json:"tls"`
	// Username and Password authenticate to an etcd cluster with auth
	// enabled. Env BR2K_ETCD_PASSWORD overrides the password. Optional;
	// both or neither.
	Username string `json:"username"`
	Password Secret `json:"password"`
	// Prefix is the etcd key prefix of this service's log, leases and state;
	// it must start and end with "/". Default "/br2k/<service-registry.id>/".
	Prefix string `json:"prefix"`
	// SessionTTL is the lease TTL of the replica's etcd session; leadership is
	// lost this long after the replica stops renewing it. Whole seconds, >= 1s
	// (etcd leases are in seconds). Default 2s.
	SessionTTL Duration `json:"session-ttl"`
	// DialTimeout bounds connecting to etcd. Default 5s; must be > 0.
	DialTimeout Duration `json:"dial-timeout"`
	// Embed, when set, runs an etcd member inside this process. Nil by default.
	Embed *Embed `json:"embed"`
}

// Embed configures the in-process etcd member.
type Embed struct {
	// Name is the member name, as used in InitialCluster. Required.
	Name string `json:"name"`
	// DataDir is the member's data directory. Required.
	DataDir string `json:"data-dir"`
	// ClientURL is the URL the member serves clients on, e.g.
	// "http://127.0.0.1:2379". Required.
	ClientURL string `json:"client-url"`
	// PeerURL is the URL the member serves peers on, e.g.
	// "http://127.0.0.1:2380". Required.
	PeerURL string `json:"peer-url"`
	// ListenPeerURL, if set, is where the member listens for peers while it
	// advertises PeerURL (a proxy in front of it, e.g. for fault
	// injection). Default PeerURL.
	ListenPeerURL string `json:"listen-peer-url"`
	// InitialCluster lists every member as name=peer-url,...; it must contain
	// Name=PeerURL. Required, no default.
	InitialCluster string `json:"initial-cluster"`
	// InitialClusterState is "new" (bootstrap a cluster) or "existing" (join
	// one). Default "new".
	InitialClusterState string `json:"initial-cluster-state"`
	// Join lists client URLs of the running cluster's members, for a
	// replica added to it (initial-cluster-state "existing",
	// initial-cluster empty): the replica adds its member as a raft
	// learner through them, starts it with the cluster's member list,
	// talks to the voting members while its member is a learner, and
	// promotes it once it has caught up. Restarting a joined replica with
	// the same config is harmless. Empty by default.
	Join []string `json:"join"`
	// HeartbeatInterval is etcd's raft heartbeat. Default 100ms; must be > 0.
	HeartbeatInterval Duration `json:"heartbeat-interval"`
	// ElectionTimeout is etcd's raft election timeout. Default 1s; must be
	// >= 5 * HeartbeatInterval.
	ElectionTimeout Duration `json:"election-timeout"`
	// QuotaBackendBytes is the member's space quota in bytes: past it etcd
	// refuses writes (NOSPACE) until space is freed. Default 2147483648
	// (2 GiB, etcd's own default); 1 MiB .. 8 GiB.
	QuotaBackendBytes int64 `json:"quota-backend-bytes"`
	// ClientTLS, when set, makes the member serve clients over TLS
	// (client-url must be https); client-cert-auth requires certificates
	// signed by its ca-file. The replica's own client then uses etcd.tls.
	ClientTLS *MemberTLS `json:"client-tls"`
	// PeerTLS, when set, makes the member talk to its peers over TLS
	// (peer-url must be https); client-cert-auth requires peers to present
	// certificates signed by its ca-file.
	PeerTLS *MemberTLS `json:"peer-tls"`
}

// TLSFiles names PEM files of a TLS configuration.
type TLSFiles struct {
	// CertFile and KeyFile are this side's certificate and private key.
	CertFile string `json:"cert-file"`
	KeyFile  string `json:"key-file"`
	// CAFile is the CA that signs the other side's certificates.
	CAFile string `json:"ca-file"`
}

// ServerTLS is the public listener's certificate.
type ServerTLS struct {
	CertFile string `json:"cert-file"` // required
	KeyFile  string `json:"key-file"`  // required
}

// MemberTLS is an embedded etcd member's TLS for clients or peers.
type MemberTLS struct {
	CertFile string `json:"cert-file"` // required
	KeyFile  string `json:"key-file"`  // required
	// CAFile verifies the other side's certificates; required with
	// ClientCertAuth.
	CAFile string `json:"ca-file"`
	// ClientCertAuth requires the other side to present a certificate
	// signed by CAFile.
	ClientCertAuth bool `json:"client-cert-auth"`
}

// Service registry types.
const (
	RegistryTest     = "test"     // no chain; access-perm is ignored
	RegistryEthereum = "ethereum" // an Ethereum contract
	RegistryKlaytn   = "klaytn"   // a Klaytn contract
)

// ServiceRegistry is where the service registers itself and its backups
// (br2k-was's service-registry).
type ServiceRegistry struct {
	// Type is "test", "ethereum" or "klaytn". Default "test".
	Type string `json:"type"`
	// ID names the replicated service; letters, digits, '_' and '-' only.
	// Default "default".
	ID string `json:"id"`
	// AccessPerm holds chain credentials; required for ethereum and klaytn,
	// ignored for test.
	AccessPerm AccessPerm `json:"access-perm"`
	// TestPath is the file of the test registry's records (JSON lines).
	// Default "registry.jsonl". Like the file backup storage it is shared
	// by the replicas of one machine (the dev cluster uses DIR/registry.jsonl);
	// replicas on several machines need a registry they all reach.
	TestPath string `json:"test-path"`
}

// AccessPerm holds the chain credentials (br2k-was's access-perm).
type AccessPerm struct {
	// Endpoint is the chain node's URL. Required for ethereum/klaytn.
	Endpoint string `json:"endpoint"`
	// Account is the sender address, "0x" + 40 hex digits. Required for
	// ethereum/klaytn.
	Account string `json:"account"`
	// PrivateKey signs transactions. Env BR2K_PRIVATE_KEY overrides it.
	// For ethereum/klaytn one of PrivateKey and Password is required.
	PrivateKey Secret `json:"private-key"`
	// Password unlocks Account on the node. Env BR2K_REGISTRY_PASSWORD
	// overrides it.
	Password Secret `json:"password"`
	// Contract is the registry contract. Required for ethereum/klaytn.
	Contract Contract `json:"contract"`
	// Confirmations is how many blocks must follow the one holding a
	// registry transaction before it counts as done (compaction waits for
	// it). Default 0: the receipt is enough. >= 0.
	Confirmations int `json:"confirmations"`
}

// Contract locates the registry contract.
type Contract struct {
	// JSONInterfacePath is the path of the JSON file holding the contract's
	// ABI. Required for ethereum/klaytn.
	JSONInterfacePath string `json:"json-interface-path"`
	// Address is the contract address, "0x" + 40 hex digits. Required for
	// ethereum/klaytn. (br2k-was's README spells it "addresss"; that key is
	// rejected as unknown.)
	Address string `json:"address"`
}

// State modes.
const (
	StateModeDefault  = "default"
	StateModeRollback = "rollback"
)

// Backup storage types.
const (
	BackupMySQL = "mysql"
	BackupFile  = "file"
)

// StateConfig controls state snapshots and their backup (br2k-was's
// state-config).
type StateConfig struct {
	// VersionUpSize is how many applied entries make a new state version
	// (snapshot). Default 50000; must be > 0.
	VersionUpSize int `json:"version-up-size"`
	// StatePath is the directory holding state versions. Default "state".
	StatePath string `json:"state-path"`
	// MaxStateVersion is how many state versions are kept. Default 10; >= 1.
	MaxStateVersion int `json:"max-state-version"`
	// MaxLogHold is how long, at most, the log is kept for a replica that
	// catches up (replica.Options.MaxLogHold). Default 2m; > 0.
	MaxLogHold Duration `json:"max-log-hold"`
	// StateMode says what becomes of a replicated call's changes when it
	// fails or panics. "rollback" (the default): they are undone, by the
	// handler's backup and rollback hooks if it has them, else by restoring
	// a copy of the whole state taken before the batch. "default" (br2k-was's
	// name): they are kept, identically on every replica, and nothing is
	// copied; handlers must then check before they change anything.
	StateMode string `json:"state-mode"`
	// BackupStorageType is "file" or "mysql". Default "file".
	BackupStorageType string `json:"backup-storage-type"`
	// BackupStoragePath is the directory of the "file" backup storage.
	// Default "backup". Replicas on one machine (the dev cluster) share
	// one; on several machines it should be a shared file system, else
	// each leader keeps the versions it uploaded on its own disk.
	BackupStoragePath string `json:"backup-storage-path"`
	// BackupStorageAuth is the backup database; Host and Database are
	// required when BackupStorageType is "mysql".
	BackupStorageAuth BackupStorageAuth `json:"backup-storage-auth"`
	// BackupInterval is the least time between two backups
	// (replica.Options.BackupInterval): the versions agreed on meanwhile
	// are kept by the replicas but not stored or recorded in the registry.
	// Default 30s; "0s" stores every version; >= 0.
	BackupInterval Duration `json:"backup-interval"`
}

// BackupStorageAuth is the backup MySQL database.
type BackupStorageAuth struct {
	// Host is the server, "host" or "host:port".
	Host string `json:"host"`
	// User is the MySQL user.
	User string `json:"user"`
	// Password is the user's password. Env BR2K_BACKUP_PASSWORD overrides it.
	Password Secret `json:"password"`
	// Database is the database name.
	Database string `json:"database"`
}

// WebpackConfig is br2k-was's webpack-config.
type WebpackConfig struct {
	// Dist is a directory of static files served at "/", if set. No default.
	Dist string `json:"dist"`
}

// Environment variables read by Load and Parse.
const (
	EnvPeerSecret       = "BR2K_PEER_SECRET"       // replica.peer-secret
	EnvEtcdPassword     = "BR2K_ETCD_PASSWORD"     // etcd.password
	EnvPrivateKey       = "BR2K_PRIVATE_KEY"       // service-registry.access-perm.private-key
	EnvRegistryPassword = "BR2K_REGISTRY_PASSWORD" // service-registry.access-perm.password
	EnvBackupPassword   = "BR2K_BACKUP_PASSWORD"   // state-config.backup-storage-auth.password
)

// Load reads the file at path and returns its validated configuration: see
// Parse. Errors carry the path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes data, applies environment overrides from os.LookupEnv, fills
// defaults and validates. source (a file name) prefixes error messages. The
// error, if any, is an *Error listing every problem.
func Parse(data []byte, source string) (*Config, error) {
	return ParseEnv(data, source, os.LookupEnv)
}

// ParseEnv is Parse with the environment lookup injected (os.LookupEnv in
// Parse); lookup may be nil for no environment.
func ParseEnv(data []byte, source string, lookup func(string) (string, bool)) (*Config, error) {
	c := new(Config)
	present, errs := decode(data, c)
	if len(errs) > 0 {
		return nil, &Error{Source: source, Errors: errs}
	}
	c.applyEnv(lookup)
	c.fill(present)
	if err := c.Validate(); err != nil {
		err.(*Error).Source = source
		return nil, err
	}
	return c, nil
}

// Default returns the defaults alone, what an empty {} decodes to before
// validation. It does not read the environment and is not valid as is:
// replica.id, replica.listen and etcd.endpoints or etcd.embed are unset. A
// caller that fills fields in should call SetDefaults again (for
// advertise-url) and then Validate.
func Default() *Config {
	c := new(Config)
	c.SetDefaults()
	return c
}

// SetDefaults fills every field that has a default and is zero. It is
// idempotent. (Parse fills a field only when its key is absent or null, so an
// explicit "max-batch": 0 is reported by Validate rather than replaced.)
func (c *Config) SetDefaults() { c.fill(nil) }

// fill sets defaults on zero fields whose keys are not in present.
func (c *Config) fill(present map[string]bool) {
	str := func(key string, p *string, v string) {
		if *p == "" && !present[key] {
			*p = v
		}
	}
	num := func(key string, p *int, v int) {
		if *p == 0 && !present[key] {
			*p = v
		}
	}
	dur := func(key string, p *Duration, v time.Duration) {
		if p.Duration == 0 && !present[key] {
			p.Duration = v
		}
	}

	r := &c.Replica
	if r.Listen != "" && !wildcardHost(r.Listen) {
		str("replica.advertise-url", &r.AdvertiseURL, scheme(r.TLS != nil)+r.Listen)
	}
	if r.PeerListen != "" && !wildcardHost(r.PeerListen) {
		str("replica.peer-advertise-url", &r.PeerAdvertiseURL, scheme(r.PeerTLS != nil)+r.PeerListen)
	}
	dur("replica.request-timeout", &r.RequestTimeout, 10*time.Second)
	dur("replica.read-timeout", &r.ReadTimeout, 10*time.Second)
	dur("replica.write-timeout", &r.WriteTimeout, r.RequestTimeout.Duration+5*time.Second)
	dur("replica.idle-timeout", &r.IdleTimeout, 2*time.Minute)
	dur("replica.leader-probe", &r.LeaderProbe, 100*time.Millisecond)
	dur("replica.stall-timeout", &r.StallTimeout, 3*time.Second)
	num("replica.max-batch", &r.MaxBatch, 256)
	num("replica.max-onlyonce", &r.MaxOnlyOnce, 256)
	num("replica.max-connections", &r.MaxConnections, 4096)
	str("replica.heap-huge-pages", &r.HeapHugePages, HeapHugePagesAuto)

	s := &c.ServiceRegistry
	str("service-registry.type", &s.Type, RegistryTest)
	str("service-registry.id", &s.ID, "default")
	if s.Type == RegistryTest || s.Type == "" {
		str("service-registry.test-path", &s.TestPath, "registry.jsonl")
	}

	e := &c.Etcd
	id := s.ID
	if id == "" {
		id = "default"
	}
	str("etcd.prefix", &e.Prefix, "/br2k/"+id+"/")
	dur("etcd.session-ttl", &e.SessionTTL, 2*time.Second)
	dur("etcd.dial-timeout", &e.DialTimeout, 5*time.Second)
	if m := e.Embed; m != nil {
		str("etcd.embed.initial-cluster-state", &m.InitialClusterState, "new")
		dur("etcd.embed.heartbeat-interval", &m.HeartbeatInterval, 100*time.Millisecond)
		dur("etcd.embed.election-timeout", &m.ElectionTimeout, time.Second)
		if m.QuotaBackendBytes == 0 && !present["etcd.embed.quota-backend-bytes"] {
			m.QuotaBackendBytes = DefaultQuotaBackendBytes
		}
	}

	st := &c.StateConfig
	num("state-config.version-up-size", &st.VersionUpSize, 50000)
	str("state-config.state-path", &st.StatePath, "state")
	num("state-config.max-state-version", &st.MaxStateVersion, 10)
	dur("state-config.max-log-hold", &st.MaxLogHold, 2*time.Minute)
	str("state-config.state-mode", &st.StateMode, StateModeRollback)
	str("state-config.backup-storage-type", &st.BackupStorageType, BackupFile)
	str("state-config.backup-storage-path", &st.BackupStoragePath, "backup")
	dur("state-config.backup-interval", &st.BackupInterval, DefaultBackupInterval)
}

// DefaultBackupInterval is state-config.backup-interval's default. Versions
// follow the call rate (one every few seconds at full load), and each
// backup costs the whole state, an etcd snapshot and a registry
// transaction; the log keeps the entries since the newest backup, so a
// longer interval makes etcd's database larger (see the README).
const DefaultBackupInterval = 30 * time.Second

// DefaultQuotaBackendBytes is etcd.embed.quota-backend-bytes's default.
const DefaultQuotaBackendBytes = 2 << 30

func scheme(tls bool) string {
	if tls {
		return "https://"
	}
	return "http://"
}

// wildcardHost reports whether host:port names no host to reach: an empty
// host or an unspecified address (0.0.0.0, ::).
func wildcardHost(hostPort string) bool {
	host, _, err := net.SplitHostPort(hostPort)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return host == "" || ip != nil && ip.IsUnspecified()
}

func (c *Config) applyEnv(lookup func(string) (string, bool)) {
	if lookup == nil {
		return
	}
	for _, o := range []struct {
		name string
		dst  *Secret
	}{
		{EnvPeerSecret, &c.Replica.PeerSecret},
		{EnvEtcdPassword, &c.Etcd.Password},
		{EnvPrivateKey, &c.ServiceRegistry.AccessPerm.PrivateKey},
		{EnvRegistryPassword, &c.ServiceRegistry.AccessPerm.Password},
		{EnvBackupPassword, &c.StateConfig.BackupStorageAuth.Password},
	} {
		if v, ok := lookup(o.name); ok && v != "" {
			*o.dst = NewSecret(v)
		}
	}
}
