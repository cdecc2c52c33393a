package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// peerKeys are the peer listener keys every file needs.
const peerKeys = `"peer-listen": "127.0.0.1:9081", "peer-secret": "cluster-secret-0123456789"`

// minimal is a small valid file (its mysql backup needs a host and a
// database).
const minimal = `{
  "replica": {"id": "r1", "listen": "127.0.0.1:8081", "peer-listen": "127.0.0.1:9081", "peer-secret": "cluster-secret-0123456789"},
  "etcd": {"endpoints": ["http://127.0.0.1:2379"]},
  ` + backup + `
}`

const backup = `"state-config": {"backup-storage-auth": {"host": "db", "database": "br2k"}}`

const (
	addr1 = "0xaB3ffd0000000000000000000000000000000001"
	addr2 = "0x00000000000000000000000000000000000000Ff"
)

func noEnv(string) (string, bool) { return "", false }

func env(kv map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := kv[k]; return v, ok }
}

func mustParse(t *testing.T, data string) *Config {
	t.Helper()
	c, err := ParseEnv([]byte(data), "test.json", noEnv)
	if err != nil {
		t.Fatalf("ParseEnv: %v", err)
	}
	return c
}

// fieldErrors returns the FieldErrors of err, failing if err is not an *Error.
func fieldErrors(t *testing.T, err error) []FieldError {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *config.Error", err, err)
	}
	return e.Errors
}

func sec(d time.Duration) Duration { return Duration{d} }

func TestDefaultIsWhatAnEmptyObjectGives(t *testing.T) {
	want := &Config{
		Replica: Replica{RequestTimeout: sec(10 * time.Second), ReadTimeout: sec(10 * time.Second), WriteTimeout: sec(15 * time.Second),
			IdleTimeout: sec(2 * time.Minute), LeaderProbe: sec(100 * time.Millisecond), StallTimeout: sec(3 * time.Second), MaxBatch: 256, MaxOnlyOnce: 256, MaxConnections: 4096, HeapHugePages: "auto"},
		Etcd:            Etcd{Prefix: "/br2k/default/", SessionTTL: sec(2 * time.Second), DialTimeout: sec(5 * time.Second)},
		ServiceRegistry: ServiceRegistry{Type: "test", ID: "default", TestPath: "registry.jsonl"},
		StateConfig: StateConfig{VersionUpSize: 50000, StatePath: "state", MaxStateVersion: 10, MaxLogHold: sec(2 * time.Minute),
			StateMode: "rollback", BackupStorageType: "file", BackupStoragePath: "backup", BackupInterval: sec(30 * time.Second)},
	}
	if got := Default(); !reflect.DeepEqual(got, want) {
		t.Errorf("Default() =\n%+v\nwant\n%+v", got, want)
	}
	// {} fails validation (no replica.id, ...) but decodes to the same values.
	c := new(Config)
	present, errs := decode([]byte("{}"), c)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	c.fill(present)
	if !reflect.DeepEqual(c, want) {
		t.Errorf("{} gives\n%+v\nwant\n%+v", c, want)
	}
}

func TestParseFillsDefaults(t *testing.T) {
	tests := []struct {
		name string
		data string
		get  func(*Config) any
		want any
	}{
		{"advertise-url from listen", minimal, func(c *Config) any { return c.Replica.AdvertiseURL }, "http://127.0.0.1:8081"},
		{"explicit advertise-url kept", `{"replica": {"id": "r1", "listen": "127.0.0.1:8081", "peer-listen": "127.0.0.1:9081", "peer-secret": "cluster-secret-0123456789", "advertise-url": "https://a.example", "tls": {"cert-file": "c.pem", "key-file": "k.pem"}}, "etcd": {"endpoints": ["http://e:2379"]}, ` + backup + `}`,
			func(c *Config) any { return c.Replica.AdvertiseURL }, "https://a.example"},
		{"request-timeout 10s", minimal, func(c *Config) any { return c.Replica.RequestTimeout.Duration }, 10 * time.Second},
		{"max-batch 256", minimal, func(c *Config) any { return c.Replica.MaxBatch }, 256},
		{"max-onlyonce 256", minimal, func(c *Config) any { return c.Replica.MaxOnlyOnce }, 256},
		{"prefix without registry id", minimal, func(c *Config) any { return c.Etcd.Prefix }, "/br2k/default/"},
		{"prefix from registry id", `{"replica": {"id": "r1", "listen": "127.0.0.1:8081", "peer-listen": "127.0.0.1:9081", "peer-secret": "cluster-secret-0123456789"}, "etcd": {"endpoints": ["http://e:2379"]}, "service-registry": {"id": "ledger"}, ` + backup + `}`,
			func(c *Config) any { return c.Etcd.Prefix }, "/br2k/ledger/"},
		{"session-ttl 2s", minimal, func(c *Config) any { return c.Etcd.SessionTTL.Duration }, 2 * time.Second},
		{"dial-timeout 5s", minimal, func(c *Config) any { return c.Etcd.DialTimeout.Duration }, 5 * time.Second},
		{"no embed", minimal, func(c *Config) any { return c.Etcd.Embed == nil }, true},
		{"embed defaults", `{"replica": {"id": "r1", "listen": "127.0.0.1:8081", "peer-listen": "127.0.0.1:9081", "peer-secret": "cluster-secret-0123456789"}, "etcd": {"embed": {"name": "r1", "data-dir": "d", "client-url": "http://h:2379", "peer-url": "http://h:2380", "initial-cluster": "r1=http://h:2380"}}, ` + backup + `}`,
			func(c *Config) any {
				m := c.Etcd.Embed
				return fmt.Sprintf("%v %v %v", m.InitialClusterState, m.HeartbeatInterval, m.ElectionTimeout)
			}, "new 100ms 1s"},
		{"registry type test", minimal, func(c *Config) any { return c.ServiceRegistry.Type }, "test"},
		{"registry id default", minimal, func(c *Config) any { return c.ServiceRegistry.ID }, "default"},
		{"state-config", minimal, func(c *Config) any {
			s := c.StateConfig
			return fmt.Sprintf("%v %v %v %v %v", s.VersionUpSize, s.StatePath, s.MaxStateVersion, s.StateMode, s.BackupStorageType)
		}, "50000 state 10 rollback file"},
		{"timeouts", minimal, func(c *Config) any {
			r := c.Replica
			return fmt.Sprint(r.ReadTimeout, r.WriteTimeout, r.IdleTimeout)
		}, "10s 15s 2m0s"},
		{"write-timeout follows request-timeout", strings.Replace(minimal, `"listen"`, `"request-timeout": "30s", "listen"`, 1),
			func(c *Config) any { return c.Replica.WriteTimeout.Duration }, 35 * time.Second},
		{"peer-advertise-url from peer-listen", minimal, func(c *Config) any { return c.Replica.PeerAdvertiseURL }, "http://127.0.0.1:9081"},
		{"quota default", `{"replica": {"id": "r1", "listen": "127.0.0.1:8081", ` + peerKeys + `}, "etcd": {"embed": {"name": "r1", "data-dir": "d", "client-url": "http://h:2379", "peer-url": "http://h:2380", "initial-cluster": "r1=http://h:2380"}}}`,
			func(c *Config) any { return c.Etcd.Embed.QuotaBackendBytes }, int64(2 << 30)},
		{"null means default", `{"replica": {"id": "r1", "listen": "127.0.0.1:8081", "peer-listen": "127.0.0.1:9081", "peer-secret": "cluster-secret-0123456789", "max-batch": null}, "etcd": {"endpoints": ["http://e:2379"], "session-ttl": null}, ` + backup + `}`,
			func(c *Config) any { return fmt.Sprint(c.Replica.MaxBatch, c.Etcd.SessionTTL) }, "256 2s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, tt.data)
			if got := tt.get(c); got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseAcceptsTheDocumentedExample(t *testing.T) {
	for _, etcd := range []string{
		`{"endpoints": ["http://127.0.0.1:2379"], "prefix": "/br2k/ledger/", "session-ttl": "2s", "dial-timeout": "5s"}`,
		`{"prefix": "/br2k/ledger/", "session-ttl": "2s", "dial-timeout": "5s",
		  "embed": {"name": "r1", "data-dir": "data/r1", "client-url": "http://127.0.0.1:2379", "peer-url": "http://127.0.0.1:2380",
		            "initial-cluster": "r1=http://127.0.0.1:2380,r2=http://127.0.0.1:2382", "initial-cluster-state": "new",
		            "heartbeat-interval": "100ms", "election-timeout": "1s"}}`,
	} {
		data := `{
		  "replica": {"id": "r1", "listen": "127.0.0.1:8081", "advertise-url": "http://127.0.0.1:8081", "peer-listen": "127.0.0.1:9081", "peer-secret": "cluster-secret-0123456789", "request-timeout": "10s", "max-batch": 100},
		  "etcd": ` + etcd + `,
		  "service-registry": {"type": "test", "id": "ledger",
		     "access-perm": {"endpoint": "", "account": "", "private-key": "", "password": "",
		                     "contract": {"json-interface-path": "", "address": ""}}},
		  "state-config": {"version-up-size": 50000, "state-path": "state", "max-state-version": 10, "state-mode": "default",
		                   "backup-storage-type": "mysql",
		                   "backup-storage-auth": {"host": "127.0.0.1:3306", "user": "root", "password": "pw", "database": "br2k"}},
		  "webpack-config": {"dist": "web/dist"}
		}`
		c := mustParse(t, data)
		if c.ServiceRegistry.ID != "ledger" || c.StateConfig.BackupStorageAuth.Password.Reveal() != "pw" || c.WebpackConfig.Dist != "web/dist" {
			t.Errorf("decoded %+v", c)
		}
	}
}

// valid returns a valid Config with every section populated, so that each
// validation case below breaks exactly one thing.
func valid(t *testing.T) *Config {
	t.Helper()
	c := mustParse(t, `{
	  "replica": {"id": "r1", "listen": "127.0.0.1:8081", "peer-listen": "127.0.0.1:9081", "peer-secret": "cluster-secret-0123456789"},
	  "etcd": {"embed": {"name": "r1", "data-dir": "data/r1", "client-url": "http://127.0.0.1:2379",
	           "peer-url": "http://127.0.0.1:2380", "initial-cluster": "r1=http://127.0.0.1:2380,r2=http://127.0.0.1:2382"}},
	  "service-registry": {"type": "ethereum", "id": "ledger", "access-perm": {"endpoint": "http://127.0.0.1:8545",
	     "account": "`+addr1+`", "private-key": "k", "contract": {"json-interface-path": "abi.json", "address": "`+addr2+`"}}},
	  "state-config": {"backup-storage-auth": {"host": "127.0.0.1:3306", "database": "br2k"}}
	}`)
	return c
}

func TestValidateReportsEachProblemWithItsKey(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		key    string
		msg    string // substring of the message
	}{
		{"replica id missing", func(c *Config) { c.Replica.ID = "" }, "replica.id", "required"},
		{"replica id bad chars", func(c *Config) { c.Replica.ID = "r 1" }, "replica.id", "letters, digits"},
		{"replica id too long", func(c *Config) { c.Replica.ID = strings.Repeat("r", 129) }, "replica.id", "at most 128 characters"},
		{"listen missing", func(c *Config) { c.Replica.Listen = "" }, "replica.listen", "required"},
		{"listen without port", func(c *Config) { c.Replica.Listen = "127.0.0.1" }, "replica.listen", "host:port"},
		{"listen bad port", func(c *Config) { c.Replica.Listen = "127.0.0.1:http" }, "replica.listen", "port 1..65535"},
		{"listen port out of range", func(c *Config) { c.Replica.Listen = ":70000" }, "replica.listen", "port 1..65535"},
		{"advertise-url empty", func(c *Config) { c.Replica.AdvertiseURL = "" }, "replica.advertise-url", "required"},
		{"advertise-url relative", func(c *Config) { c.Replica.AdvertiseURL = "127.0.0.1:8081" }, "replica.advertise-url", "absolute URL"},
		{"advertise-url not http", func(c *Config) { c.Replica.AdvertiseURL = "ftp://h:1" }, "replica.advertise-url", "http or https"},
		{"request-timeout zero", func(c *Config) { c.Replica.RequestTimeout = sec(0) }, "replica.request-timeout", "> 0"},
		{"listen on all interfaces without advertise-url", func(c *Config) {
			c.Replica.Listen, c.Replica.AdvertiseURL = ":8081", ""
		}, "replica.advertise-url", `replica.listen is ":8081", which names no address`},
		{"listen on 0.0.0.0 without advertise-url", func(c *Config) {
			c.Replica.Listen, c.Replica.AdvertiseURL = "0.0.0.0:8081", ""
		}, "replica.advertise-url", "names no address"},
		{"peer-listen on [::] without peer-advertise-url", func(c *Config) {
			c.Replica.PeerListen, c.Replica.PeerAdvertiseURL = "[::]:9081", ""
		}, "replica.peer-advertise-url", "names no address"},
		{"https advertise-url without tls", func(c *Config) { c.Replica.AdvertiseURL = "https://127.0.0.1:8081" }, "replica.advertise-url", "replica.tls is not set"},
		{"tls with an http advertise-url", func(c *Config) { c.Replica.TLS = &ServerTLS{CertFile: "c", KeyFile: "k"} }, "replica.advertise-url", "want an https URL"},
		{"tls without a key", func(c *Config) {
			c.Replica.TLS = &ServerTLS{CertFile: "c"}
			c.Replica.AdvertiseURL = "https://127.0.0.1:8081"
		}, "replica.tls.key-file", "required"},
		{"https peer-advertise-url without peer-tls", func(c *Config) { c.Replica.PeerAdvertiseURL = "https://127.0.0.1:9081" }, "replica.peer-advertise-url", "replica.peer-tls is not set"},
		{"peer-listen missing", func(c *Config) { c.Replica.PeerListen, c.Replica.PeerAdvertiseURL = "", "" }, "replica.peer-listen", "required"},
		{"peer-listen same as listen", func(c *Config) { c.Replica.PeerListen = c.Replica.Listen }, "replica.peer-listen", "must differ"},
		{"no peer secret and no mutual TLS", func(c *Config) { c.Replica.PeerSecret = Secret{} }, "replica.peer-secret", "required"},
		{"short peer secret", func(c *Config) { c.Replica.PeerSecret = NewSecret("short") }, "replica.peer-secret", "at least 16 bytes, has 5"},
		{"write-timeout not above request-timeout", func(c *Config) { c.Replica.WriteTimeout = sec(10 * time.Second) }, "replica.write-timeout", "longer than replica.request-timeout"},
		{"read-timeout zero", func(c *Config) { c.Replica.ReadTimeout = sec(0) }, "replica.read-timeout", "> 0"},
		{"stall-timeout zero", func(c *Config) { c.Replica.StallTimeout = sec(0) }, "replica.stall-timeout", "> 0"},
		{"https client-url without client-tls", func(c *Config) {
			c.Etcd.Embed.ClientURL = "https://127.0.0.1:2379"
			c.Etcd.TLS = &TLSFiles{CAFile: "ca"}
		}, "etcd.embed.client-url", "etcd.embed.client-tls is not set"},
		{"https peer-url without peer-tls", func(c *Config) {
			c.Etcd.Embed.PeerURL = "https://127.0.0.1:2380"
			c.Etcd.Embed.InitialCluster = "r1=https://127.0.0.1:2380"
		}, "etcd.embed.peer-url", "etcd.embed.peer-tls is not set"},
		{"https endpoints without etcd.tls", func(c *Config) { c.Etcd.Embed, c.Etcd.Endpoints = nil, []string{"https://e:2379"} }, "etcd.tls", "required for https"},
		{"member client-cert-auth without the replica's certificate", func(c *Config) {
			m := c.Etcd.Embed
			m.ClientURL = "https://127.0.0.1:2379"
			m.ClientTLS = &MemberTLS{CertFile: "c", KeyFile: "k", CAFile: "ca", ClientCertAuth: true}
			c.Etcd.TLS = &TLSFiles{CAFile: "ca"}
		}, "etcd.tls.cert-file", "requires client certificates"},
		{"client-cert-auth without ca-file", func(c *Config) {
			m := c.Etcd.Embed
			m.PeerURL, m.InitialCluster = "https://127.0.0.1:2380", "r1=https://127.0.0.1:2380"
			m.PeerTLS = &MemberTLS{CertFile: "c", KeyFile: "k", ClientCertAuth: true}
		}, "etcd.embed.peer-tls.ca-file", "required with client-cert-auth"},
		{"etcd username without password", func(c *Config) { c.Etcd.Username = "br2k" }, "etcd.username", "both"},
		{"quota too small", func(c *Config) { c.Etcd.Embed.QuotaBackendBytes = 1000 }, "etcd.embed.quota-backend-bytes", "between"},
		{"duplicate member name", func(c *Config) {
			c.Etcd.Embed.InitialCluster = "r1=http://127.0.0.1:2380,r1=http://127.0.0.1:2382"
		}, "etcd.embed.initial-cluster", `member "r1" is listed twice`},
		{"max-batch zero", func(c *Config) { c.Replica.MaxBatch = 0 }, "replica.max-batch", "1..1024"},
		{"max-batch too big", func(c *Config) { c.Replica.MaxBatch = 1025 }, "replica.max-batch", "1..1024"},
		{"max-onlyonce zero", func(c *Config) { c.Replica.MaxOnlyOnce = 0 }, "replica.max-onlyonce", "1..65536"},
		{"max-onlyonce too big", func(c *Config) { c.Replica.MaxOnlyOnce = 65537 }, "replica.max-onlyonce", "1..65536"},
		{"max-connections too few", func(c *Config) { c.Replica.MaxConnections = 15 }, "replica.max-connections", "16..1000000"},
		{"heap-huge-pages unknown", func(c *Config) { c.Replica.HeapHugePages = "always" }, "replica.heap-huge-pages", `one of auto, on, off, got "always"`},
		{"listen-peer-url not a URL", func(c *Config) {
			c.Etcd.Endpoints = nil
			c.Etcd.Embed = &Embed{Name: "r1", DataDir: "d", ClientURL: "http://127.0.0.1:2379", PeerURL: "http://127.0.0.1:2380",
				ListenPeerURL: "127.0.0.1:2381", InitialCluster: "r1=http://127.0.0.1:2380", InitialClusterState: "new",
				HeartbeatInterval: sec(100 * time.Millisecond), ElectionTimeout: sec(time.Second), QuotaBackendBytes: DefaultQuotaBackendBytes}
		}, "etcd.embed.listen-peer-url", ""},
		{"leader-probe negative", func(c *Config) { c.Replica.LeaderProbe = sec(-time.Second) }, "replica.leader-probe", "0s (off)"},
		{"leader-probe too slow", func(c *Config) { c.Replica.LeaderProbe = sec(11 * time.Second) }, "replica.leader-probe", "10s"},
		{"etcd neither", func(c *Config) { c.Etcd.Embed = nil }, "etcd", "set one of endpoints"},
		{"etcd empty endpoints", func(c *Config) { c.Etcd.Embed, c.Etcd.Endpoints = nil, []string{} }, "etcd", "set one of endpoints"},
		{"etcd both", func(c *Config) { c.Etcd.Endpoints = []string{"http://h:2379"} }, "etcd", "not both"},
		{"endpoint not a URL", func(c *Config) { c.Etcd.Embed, c.Etcd.Endpoints = nil, []string{"http://h:2379", "h:2379"} }, "etcd.endpoints[1]", "absolute URL"},
		{"endpoint empty", func(c *Config) { c.Etcd.Embed, c.Etcd.Endpoints = nil, []string{""} }, "etcd.endpoints[0]", "required"},
		{"prefix no leading slash", func(c *Config) { c.Etcd.Prefix = "br2k/" }, "etcd.prefix", "start and end"},
		{"prefix no trailing slash", func(c *Config) { c.Etcd.Prefix = "/br2k" }, "etcd.prefix", "start and end"},
		{"session-ttl under 1s", func(c *Config) { c.Etcd.SessionTTL = sec(500 * time.Millisecond) }, "etcd.session-ttl", ">= 1s"},
		{"session-ttl fractional", func(c *Config) { c.Etcd.SessionTTL = sec(1500 * time.Millisecond) }, "etcd.session-ttl", "whole seconds"},
		{"dial-timeout negative", func(c *Config) { c.Etcd.DialTimeout = sec(-1) }, "etcd.dial-timeout", "> 0"},
		{"embed name missing", func(c *Config) { c.Etcd.Embed.Name = "" }, "etcd.embed.name", "required"},
		{"embed data-dir missing", func(c *Config) { c.Etcd.Embed.DataDir = "" }, "etcd.embed.data-dir", "required"},
		{"embed client-url missing", func(c *Config) { c.Etcd.Embed.ClientURL = "" }, "etcd.embed.client-url", "required"},
		{"embed peer-url missing", func(c *Config) { c.Etcd.Embed.PeerURL = "" }, "etcd.embed.peer-url", "required"},
		{"embed peer-url not a URL", func(c *Config) { c.Etcd.Embed.PeerURL = "127.0.0.1:2380" }, "etcd.embed.peer-url", "absolute URL"},
		{"initial-cluster missing", func(c *Config) { c.Etcd.Embed.InitialCluster = "" }, "etcd.embed.initial-cluster", "required"},
		{"initial-cluster malformed", func(c *Config) { c.Etcd.Embed.InitialCluster = "r1=http://127.0.0.1:2380,r2" }, "etcd.embed.initial-cluster", `want name=peer-url, got "r2"`},
		{"initial-cluster bad url", func(c *Config) { c.Etcd.Embed.InitialCluster = "r1=http://127.0.0.1:2380,r2=h:1" }, "etcd.embed.initial-cluster", `member "r2"`},
		{"initial-cluster lacks self", func(c *Config) { c.Etcd.Embed.InitialCluster = "r2=http://127.0.0.1:2380" }, "etcd.embed.initial-cluster", "must contain this member, r1=http://127.0.0.1:2380"},
		{"initial-cluster self has other url", func(c *Config) { c.Etcd.Embed.InitialCluster = "r1=http://127.0.0.1:9999" }, "etcd.embed.initial-cluster", "must contain this member"},
		{"initial-cluster-state bad", func(c *Config) { c.Etcd.Embed.InitialClusterState = "join" }, "etcd.embed.initial-cluster-state", "new, existing"},
		{"heartbeat zero", func(c *Config) { c.Etcd.Embed.HeartbeatInterval = sec(0) }, "etcd.embed.heartbeat-interval", "> 0"},
		{"election under 5 heartbeats", func(c *Config) { c.Etcd.Embed.ElectionTimeout = sec(400 * time.Millisecond) }, "etcd.embed.election-timeout", ">= 5 * heartbeat-interval (500ms), got 400ms"},
		{"registry type unknown", func(c *Config) { c.ServiceRegistry.Type = "solana" }, "service-registry.type", "test, ethereum, klaytn"},
		{"registry id missing", func(c *Config) { c.ServiceRegistry.ID = "" }, "service-registry.id", "required"},
		{"registry id bad chars", func(c *Config) { c.ServiceRegistry.ID = "a/b" }, "service-registry.id", "letters, digits"},
		{"chain endpoint missing", func(c *Config) { c.ServiceRegistry.AccessPerm.Endpoint = "" }, "service-registry.access-perm.endpoint", "required"},
		{"chain endpoint not a URL", func(c *Config) { c.ServiceRegistry.AccessPerm.Endpoint = "localhost" }, "service-registry.access-perm.endpoint", "absolute URL"},
		{"account missing", func(c *Config) { c.ServiceRegistry.AccessPerm.Account = "" }, "service-registry.access-perm.account", "required"},
		{"account short", func(c *Config) { c.ServiceRegistry.AccessPerm.Account = "0xaB3ffd" }, "service-registry.access-perm.account", "40 hex digits"},
		{"account no 0x", func(c *Config) { c.ServiceRegistry.AccessPerm.Account = addr1[2:] + "00" }, "service-registry.access-perm.account", "40 hex digits"},
		{"contract address missing", func(c *Config) { c.ServiceRegistry.AccessPerm.Contract.Address = "" }, "service-registry.access-perm.contract.address", "required"},
		{"contract address not hex", func(c *Config) { c.ServiceRegistry.AccessPerm.Contract.Address = "0x" + strings.Repeat("g", 40) }, "service-registry.access-perm.contract.address", "40 hex digits"},
		{"json-interface-path missing", func(c *Config) { c.ServiceRegistry.AccessPerm.Contract.JSONInterfacePath = "" }, "service-registry.access-perm.contract.json-interface-path", "required"},
		{"no private-key nor password", func(c *Config) { c.ServiceRegistry.AccessPerm.PrivateKey = Secret{} }, "service-registry.access-perm.private-key", "unless password"},
		{"klaytn checked like ethereum", func(c *Config) {
			c.ServiceRegistry.Type = "klaytn"
			c.ServiceRegistry.AccessPerm.Account = ""
		}, "service-registry.access-perm.account", "required"},
		{"version-up-size zero", func(c *Config) { c.StateConfig.VersionUpSize = 0 }, "state-config.version-up-size", "> 0"},
		{"version-up-size negative", func(c *Config) { c.StateConfig.VersionUpSize = -5 }, "state-config.version-up-size", "> 0, got -5"},
		{"state-path empty", func(c *Config) { c.StateConfig.StatePath = "" }, "state-config.state-path", "required"},
		{"max-state-version zero", func(c *Config) { c.StateConfig.MaxStateVersion = 0 }, "state-config.max-state-version", ">= 1"},
		{"max-log-hold zero", func(c *Config) { c.StateConfig.MaxLogHold = sec(0) }, "state-config.max-log-hold", "> 0"},
		{"backup-interval negative", func(c *Config) { c.StateConfig.BackupInterval = sec(-time.Second) }, "state-config.backup-interval", ">= 0 (0s stores every version), got -1s"},
		{"state-mode bad", func(c *Config) { c.StateConfig.StateMode = "replay" }, "state-config.state-mode", "default, rollback"},
		{"backup type bad", func(c *Config) { c.StateConfig.BackupStorageType = "s3" }, "state-config.backup-storage-type", "file, mysql"},
		{"file backup without a path", func(c *Config) {
			c.StateConfig.BackupStorageType = "file"
			c.StateConfig.BackupStoragePath = ""
		}, "state-config.backup-storage-path", "required"},
		{"mysql host missing", func(c *Config) {
			c.StateConfig.BackupStorageType = "mysql"
			c.StateConfig.BackupStorageAuth.Host = ""
		}, "state-config.backup-storage-auth.host", "required"},
		{"mysql database missing", func(c *Config) {
			c.StateConfig.BackupStorageType = "mysql"
			c.StateConfig.BackupStorageAuth.Database = ""
		}, "state-config.backup-storage-auth.database", "required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid(t)
			tt.mutate(c)
			errs := fieldErrors(t, c.Validate())
			if len(errs) != 1 || errs[0].Key != tt.key || !strings.Contains(errs[0].Message, tt.msg) {
				t.Errorf("got %q, want one error %s: ...%s...", errs, tt.key, tt.msg)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"the base config", func(*Config) {}},
		{"endpoints instead of embed", func(c *Config) {
			c.Etcd.Embed, c.Etcd.Endpoints = nil, []string{"http://a:2379", "https://b:2379"}
			c.Etcd.TLS = &TLSFiles{} // the system's roots
		}},
		{"klaytn with password only", func(c *Config) {
			c.ServiceRegistry.Type = "klaytn"
			c.ServiceRegistry.AccessPerm.PrivateKey, c.ServiceRegistry.AccessPerm.Password = Secret{}, NewSecret("pw")
		}},
		{"test registry ignores access-perm", func(c *Config) {
			c.ServiceRegistry.Type, c.ServiceRegistry.TestPath = "test", "registry.jsonl"
			c.ServiceRegistry.AccessPerm = AccessPerm{Account: "junk"}
		}},
		{"file backup needs no auth", func(c *Config) {
			c.StateConfig.BackupStorageType = "file"
			c.StateConfig.BackupStorageAuth = BackupStorageAuth{}
		}},
		{"rollback mode", func(c *Config) { c.StateConfig.StateMode = "rollback" }},
		{"listen on all interfaces with advertise-url", func(c *Config) {
			c.Replica.Listen, c.Replica.PeerListen = ":8081", "0.0.0.0:9081"
			c.Replica.AdvertiseURL, c.Replica.PeerAdvertiseURL = "http://r1.example:8081", "http://10.0.0.1:9081"
		}},
		{"mutual TLS instead of a peer secret", func(c *Config) {
			c.Replica.PeerSecret = Secret{}
			c.Replica.PeerTLS = &TLSFiles{CertFile: "r1.pem", KeyFile: "r1-key.pem", CAFile: "ca.pem"}
			c.Replica.PeerAdvertiseURL = "https://127.0.0.1:9081"
		}},
		{"TLS everywhere", func(c *Config) {
			c.Replica.TLS = &ServerTLS{CertFile: "c", KeyFile: "k"}
			c.Replica.AdvertiseURL = "https://127.0.0.1:8081"
			c.Replica.PeerTLS = &TLSFiles{CertFile: "c", KeyFile: "k", CAFile: "ca"}
			c.Replica.PeerAdvertiseURL = "https://127.0.0.1:9081"
			m := c.Etcd.Embed
			m.ClientURL, m.PeerURL = "https://127.0.0.1:2379", "https://127.0.0.1:2380"
			m.InitialCluster = "r1=https://127.0.0.1:2380"
			m.ClientTLS = &MemberTLS{CertFile: "c", KeyFile: "k", CAFile: "ca", ClientCertAuth: true}
			m.PeerTLS = &MemberTLS{CertFile: "c", KeyFile: "k", CAFile: "ca", ClientCertAuth: true}
			c.Etcd.TLS = &TLSFiles{CAFile: "ca", CertFile: "c", KeyFile: "k"}
		}},
		{"etcd auth", func(c *Config) { c.Etcd.Username, c.Etcd.Password = "br2k", NewSecret("pw") }},
		{"root prefix", func(c *Config) { c.Etcd.Prefix = "/" }},
		{"existing cluster", func(c *Config) { c.Etcd.Embed.InitialClusterState = "existing" }},
		{"election exactly 5 heartbeats", func(c *Config) { c.Etcd.Embed.ElectionTimeout = sec(500 * time.Millisecond) }},
		{"max-batch bounds", func(c *Config) { c.Replica.MaxBatch = 1024 }},
		{"leader-probe off", func(c *Config) { c.Replica.LeaderProbe = sec(0) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid(t)
			tt.mutate(c)
			if err := c.Validate(); err != nil {
				t.Errorf("Validate: %v", err)
			}
		})
	}
}

func TestValidateCollectsAllErrorsSortedByKey(t *testing.T) {
	c := valid(t)
	c.StateConfig.StateMode = "x"
	c.Replica.ID = ""
	c.Etcd.Prefix = "p"
	c.Etcd.Endpoints = []string{"http://h:2379"}
	err := c.Validate()
	want := strings.Join([]string{
		"etcd: set only one of endpoints and embed, not both",
		`etcd.prefix: must start and end with "/", got "p"`,
		"replica.id: required",
		`state-config.state-mode: must be one of default, rollback, got "x"`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
	if errs := fieldErrors(t, err); len(errs) != 4 || errs[2] != (FieldError{Key: "replica.id", Message: "required"}) {
		t.Errorf("FieldErrors = %q", errs)
	}
}

func TestParseValidatesExplicitZeroInsteadOfDefaulting(t *testing.T) {
	tests := []struct {
		name, replica, key string
	}{
		{"max-batch 0", `"max-batch": 0`, "replica.max-batch"},
		{"request-timeout 0s", `"request-timeout": "0s"`, "replica.request-timeout"},
		{"advertise-url empty", `"advertise-url": ""`, "replica.advertise-url"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := strings.Replace(minimal, `"listen": "127.0.0.1:8081"`, `"listen": "127.0.0.1:8081", `+tt.replica, 1)
			_, err := ParseEnv([]byte(data), "f.json", noEnv)
			if errs := fieldErrors(t, err); len(errs) != 1 || errs[0].Key != tt.key {
				t.Errorf("got %v, want one error for %s", err, tt.key)
			}
		})
	}
}

// TestAnExplicitZeroBackupIntervalStoresEveryVersion: 0s is a value of
// its own (every version), not "use the default".
func TestAnExplicitZeroBackupIntervalStoresEveryVersion(t *testing.T) {
	data := strings.Replace(minimal, `"database": "br2k"}`, `"database": "br2k"}, "backup-interval": "0s"`, 1)
	c, err := ParseEnv([]byte(data), "f.json", noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.StateConfig.BackupInterval.Duration; got != 0 {
		t.Errorf("backup-interval \"0s\" gave %v, want 0", got)
	}
	if got := mustParse(t, minimal).StateConfig.BackupInterval.Duration; got != DefaultBackupInterval {
		t.Errorf("no backup-interval gave %v, want the default %v", got, DefaultBackupInterval)
	}
}

func TestParseRejectsUnknownKeysWithFullPath(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"top level", `{"replicas": {}}`, `f.json:1:2: replicas: unknown key (did you mean "replica"?)`},
		{"typo in state-config", "{\n  \"state-config\": {\"version-up-sise\": 5}\n}",
			`f.json:2:20: state-config.version-up-sise: unknown key (did you mean "version-up-size"?)`},
		{"in embed", `{"etcd": {"embed": {"nam": "r1"}}}`, `f.json:1:21: etcd.embed.nam: unknown key (did you mean "name"?)`},
		{"br2k-was typo addresss", `{"service-registry": {"access-perm": {"contract": {"addresss": "0x"}}}}`,
			`f.json:1:52: service-registry.access-perm.contract.addresss: unknown key (did you mean "address"?)`},
		{"no suggestion when nothing is close", `{"webpack-config": {"entry": "x"}}`, `f.json:1:21: webpack-config.entry: unknown key`},
		{"duplicate key", `{"replica": {"id": "a", "id": "b"}}`, `f.json:1:25: replica.id: duplicate key`},
		{"a key in the wrong section", `{"state-config": {"session-ttl": "2s"}}`,
			`f.json:1:19: state-config.session-ttl: unknown key here (it is etcd.session-ttl)`},
		{"a key of many sections", `{"webpack-config": {"cert-file": "c"}}`,
			`f.json:1:21: webpack-config.cert-file: unknown key here (it is etcd.embed.client-tls.cert-file or etcd.embed.peer-tls.cert-file or etcd.tls.cert-file or ...)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEnv([]byte(tt.data), "f.json", noEnv)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestParseTypeErrorsNameKeyAndExpectedType(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"duration as number", `{"etcd": {"session-ttl": 5}}`, `f.json:1:26: etcd.session-ttl: want a duration string like "2s", got 5`},
		{"duration without unit", `{"etcd": {"dial-timeout": "5"}}`, `f.json:1:27: etcd.dial-timeout: want a duration string like "2s", got "5"`},
		{"embed duration", `{"etcd": {"embed": {"election-timeout": true}}}`, `f.json:1:41: etcd.embed.election-timeout: want a duration string like "2s", got true`},
		{"int as string", `{"state-config": {"version-up-size": "50000"}}`, `f.json:1:38: state-config.version-up-size: want an integer, got "50000"`},
		{"int as float", `{"replica": {"max-batch": 1.5}}`, `f.json:1:27: replica.max-batch: want an integer, got 1.5`},
		{"string as number", `{"replica": {"id": 7}}`, `f.json:1:20: replica.id: want a string, got 7`},
		{"secret as number", `{"service-registry": {"access-perm": {"password": 1234}}}`, `f.json:1:51: service-registry.access-perm.password: want a string, got 1234`},
		{"endpoints as string", `{"etcd": {"endpoints": "http://h:2379"}}`, `f.json:1:24: etcd.endpoints: want an array of strings, got "http://h:2379"`},
		{"endpoint element", `{"etcd": {"endpoints": ["http://h:2379", 3]}}`, `f.json:1:42: etcd.endpoints[1]: want a string, got 3`},
		{"section as array", `{"state-config": []}`, `f.json:1:18: state-config: want an object, got an array`},
		{"embed as string", `{"etcd": {"embed": "yes"}}`, `f.json:1:20: etcd.embed: want an object, got "yes"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEnv([]byte(tt.data), "f.json", noEnv)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestParseReportsAllDecodeErrorsInFileOrder(t *testing.T) {
	data := "{\n  \"replica\": {\"max-batch\": \"x\", \"bogus\": {\"a\": [1, {}]}},\n  \"etcd\": {\"session-ttl\": 2}\n}"
	_, err := ParseEnv([]byte(data), "f.json", noEnv)
	want := `f.json:2:28: replica.max-batch: want an integer, got "x"
f.json:2:33: replica.bogus: unknown key
f.json:3:27: etcd.session-ttl: want a duration string like "2s", got 2`
	if err == nil || err.Error() != want {
		t.Fatalf("got\n%v\nwant\n%s", err, want)
	}
	if errs := fieldErrors(t, err); errs[1].Line != 2 || errs[1].Col != 33 {
		t.Errorf("position = %d:%d", errs[1].Line, errs[1].Col)
	}
}

func TestParseSyntaxErrorsGiveLineCol(t *testing.T) {
	tests := []struct {
		name, data, want string
	}{
		{"trailing comma", "{\n  \"replica\": {\"id\": \"r1\",}\n}", `f.json:2:26: invalid character '}' looking for beginning of object key string`},
		{"missing colon", "{\n  \"replica\": {\"id\" \"r1\"}\n}", `f.json:2:20: invalid character '"' after object key`},
		{"bare word", "{\n\n  \"replica\": {\"id\": r1}}", `f.json:3:21: invalid character 'r' looking for beginning of value`},
		{"truncated", "{\n  \"replica\": {", `f.json:2:15: unexpected end of JSON input`},
		{"empty", "", `f.json:1:1: empty file, want a JSON object`},
		{"not an object", "\n [1]", `f.json:2:2: want a JSON object at top level, got an array`},
		{"second object", "{}\n{}", `f.json:2:1: unexpected data after the top-level object`},
		{"garbage after object", "{} x", `f.json:1:4: invalid character 'x' after top-level value`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEnv([]byte(tt.data), "f.json", noEnv)
			if err == nil || err.Error() != tt.want {
				t.Errorf("got  %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestParseEnvOverridesSecrets(t *testing.T) {
	file := `{
	  "replica": {"id": "r1", "listen": "127.0.0.1:8081", "peer-listen": "127.0.0.1:9081", "peer-secret": "cluster-secret-0123456789"},
	  "etcd": {"endpoints": ["http://h:2379"]},
	  "service-registry": {"type": "klaytn", "access-perm": {"endpoint": "https://node", "account": "` + addr1 + `",
	     "private-key": "file-key", "password": "file-pw", "contract": {"json-interface-path": "a.json", "address": "` + addr2 + `"}}},
	  "state-config": {"backup-storage-auth": {"host": "db", "database": "br2k", "password": "file-db"}}
	}`
	tests := []struct {
		name string
		env  map[string]string
		want [3]string // private-key, registry password, backup password
	}{
		{"no env keeps file values", nil, [3]string{"file-key", "file-pw", "file-db"}},
		{"private key", map[string]string{"BR2K_PRIVATE_KEY": "env-key"}, [3]string{"env-key", "file-pw", "file-db"}},
		{"registry password", map[string]string{"BR2K_REGISTRY_PASSWORD": "env-pw"}, [3]string{"file-key", "env-pw", "file-db"}},
		{"backup password", map[string]string{"BR2K_BACKUP_PASSWORD": "env-db"}, [3]string{"file-key", "file-pw", "env-db"}},
		{"all three", map[string]string{"BR2K_PRIVATE_KEY": "k", "BR2K_REGISTRY_PASSWORD": "p", "BR2K_BACKUP_PASSWORD": "d"}, [3]string{"k", "p", "d"}},
		{"empty env is ignored", map[string]string{"BR2K_PRIVATE_KEY": "", "BR2K_BACKUP_PASSWORD": ""}, [3]string{"file-key", "file-pw", "file-db"}},
		{"other vars are ignored", map[string]string{"PRIVATE_KEY": "x", "BR2K_PASSWORD": "y"}, [3]string{"file-key", "file-pw", "file-db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseEnv([]byte(file), "f.json", env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			a := c.ServiceRegistry.AccessPerm
			got := [3]string{a.PrivateKey.Reveal(), a.Password.Reveal(), c.StateConfig.BackupStorageAuth.Password.Reveal()}
			if got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseEnvSatisfiesCredentialRequirement(t *testing.T) {
	file := `{"replica": {"id": "r1", "listen": "127.0.0.1:8081", "peer-listen": "127.0.0.1:9081", "peer-secret": "cluster-secret-0123456789"}, "etcd": {"endpoints": ["http://h:2379"]},
	  "service-registry": {"type": "ethereum", "access-perm": {"endpoint": "https://node", "account": "` + addr1 + `",
	     "contract": {"json-interface-path": "a.json", "address": "` + addr2 + `"}}},
	  "state-config": {"backup-storage-type": "file"}}`
	_, err := ParseEnv([]byte(file), "f.json", noEnv)
	if errs := fieldErrors(t, err); len(errs) != 1 || errs[0].Key != "service-registry.access-perm.private-key" {
		t.Fatalf("without env: %v", err)
	}
	if _, err := ParseEnv([]byte(file), "f.json", env(map[string]string{"BR2K_PRIVATE_KEY": "k"})); err != nil {
		t.Errorf("with BR2K_PRIVATE_KEY: %v", err)
	}
}

func TestSecretIsNeverPrinted(t *testing.T) {
	c := valid(t)
	c.ServiceRegistry.AccessPerm.PrivateKey = NewSecret("s3cr3t-key")
	c.ServiceRegistry.AccessPerm.Password = NewSecret("s3cr3t-pw")
	c.StateConfig.BackupStorageAuth.Password = NewSecret("s3cr3t-db")
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"json.Marshal(cfg)": string(js),
		"%v cfg":            fmt.Sprintf("%v", *c),
		"%+v cfg":           fmt.Sprintf("%+v", *c),
		"%#v cfg":           fmt.Sprintf("%#v", *c),
		"%v &cfg":           fmt.Sprintf("%v", c),
		"%s secret":         fmt.Sprintf("%s", c.StateConfig.BackupStorageAuth.Password),
		"%q secret":         fmt.Sprintf("%q", c.StateConfig.BackupStorageAuth.Password),
		"%x secret":         fmt.Sprintf("%x", c.StateConfig.BackupStorageAuth.Password),
		"%d secret":         fmt.Sprintf("%d", c.StateConfig.BackupStorageAuth.Password),
		"%+v access-perm":   fmt.Sprintf("%+v", c.ServiceRegistry.AccessPerm),
		"%#v access-perm":   fmt.Sprintf("%#v", &c.ServiceRegistry.AccessPerm),
		"String()":          c.ServiceRegistry.AccessPerm.PrivateKey.String(),
		"GoString()":        c.ServiceRegistry.AccessPerm.PrivateKey.GoString(),
	}
	for name, out := range outputs {
		if strings.Contains(out, "s3cr3t") || strings.Contains(out, hexOf("s3cr3t")) {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
		if !strings.Contains(out, Redacted) {
			t.Errorf("%s does not show %s: %s", name, Redacted, out)
		}
	}
	if got := c.ServiceRegistry.AccessPerm.PrivateKey.Reveal(); got != "s3cr3t-key" {
		t.Errorf("Reveal() = %q", got)
	}
	if got := fmt.Sprintf("%v|%q|%#v", Secret{}, Secret{}, Secret{}); got != `|""|config.Secret("")` {
		t.Errorf("empty secret prints %s", got)
	}
}

func hexOf(s string) string { return fmt.Sprintf("%x", s) }

func TestDurationAndSecretWorkWithEncodingJSON(t *testing.T) {
	var v struct {
		D Duration `json:"d"`
		S Secret   `json:"s"`
	}
	if err := json.Unmarshal([]byte(`{"d": "1m30s", "s": "pw"}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.D.Duration != 90*time.Second || v.S.Reveal() != "pw" {
		t.Errorf("decoded %v %q", v.D, v.S.Reveal())
	}
	out, _ := json.Marshal(v)
	if string(out) != `{"d":"1m30s","s":"[redacted]"}` {
		t.Errorf("encoded %s", out)
	}
	if err := json.Unmarshal([]byte(`{"d": 5}`), &v); err == nil || !strings.Contains(err.Error(), `want a duration string like "2s", got 5`) {
		t.Errorf("number duration: %v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "br2k.json")
	if err := os.WriteFile(good, []byte(minimal), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(good)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Replica.ID != "r1" || c.Etcd.Endpoints[0] != "http://127.0.0.1:2379" || c.Replica.MaxBatch != 256 {
		t.Errorf("loaded %+v", c)
	}

	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"replica": {"id": ""}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	if err == nil || !strings.HasPrefix(err.Error(), bad+": etcd: ") || !strings.Contains(err.Error(), "\n"+bad+": replica.id: required") {
		t.Errorf("Load(bad) = %v, want lines prefixed with the path", err)
	}

	if _, err := Load(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want os.ErrNotExist", err)
	}
}
