// Package registry is the service registry's Go side: where the leader
// records each backup it stored (br2k-was's backup log), and where failed
// and new replicas, and a disaster recovery, find the latest one.
//
// The registry types are those of service-registry.type: "test" (a local
// file, this package) and, behind the same interface, "ethereum" and
// "klaytn" (the registry contract; a later package). A record names a
// version in the backup storage and carries what a reader needs to check it
// (its index, sizes and SHA-256s); it never carries a password.
package registry

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/br2k/br2k/runtime/config"
)

// Record is one backup log record: br2k-was's fields, plus the log index
// and the SHA-256s that let a reader verify what it loads.
type Record struct {
	// Start and End are when the upload of the version started and ended.
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
	// Version is the backup's sequence number in the storage (1, 2, ...).
	Version uint64 `json:"version"`
	// Index is the log index the state version is at.
	Index uint64 `json:"index"`
	// Members are the replicas in the cluster when the version was
	// recorded; AliveMembers those of them that were running.
	Members      []string `json:"members"`
	AliveMembers []string `json:"alive-members"`
	// EtcdSnapshotSize and ServiceStateSize are the two stored streams'
	// sizes in bytes, with their SHA-256s (lowercase hex).
	EtcdSnapshotSize   int64  `json:"etcd-snapshot-size"`
	EtcdSnapshotSHA256 string `json:"etcd-snapshot-sha256"`
	ServiceStateSize   int64  `json:"service-state-size"`
	ServiceStateSHA256 string `json:"service-state-sha256"`
	// StateDigest is the digest the replicas agreed on for the state at
	// Index (the SHA-256 of its canonical encoding).
	StateDigest string `json:"state-digest"`
	// Storage says where the version is stored; never a password.
	Storage Storage `json:"storage"`
	// Subject is the replica (the leader) that stored and recorded it.
	Subject string `json:"subject"`
}

// Storage locates a stored version: br2k-was's storage {host, database,
// backup-access-key}, with the storage type, and without user or password.
type Storage struct {
	Type            string `json:"type"`               // "file" or "mysql"
	Host            string `json:"host,omitempty"`     // mysql
	Database        string `json:"database,omitempty"` // mysql
	Path            string `json:"path,omitempty"`     // file
	BackupAccessKey string `json:"backup-access-key"`
}

// Registry keeps the backup log records of one service.
type Registry interface {
	// Record adds rec. A record with rec.Index is there already: nothing
	// happens and Record returns nil, so that a retry after an ambiguous
	// failure is safe. rec.Index must be above every recorded index.
	Record(ctx context.Context, rec Record) error
	// Latest returns the newest n records (n >= 1), newest (highest Index)
	// first; none is not an error.
	Latest(ctx context.Context, n int) ([]Record, error)
	// Close releases the registry's resources.
	Close() error
}

// ErrOutOfOrder is returned by Record for an index below the newest
// recorded one: a deposed leader's late record.
var ErrOutOfOrder = errors.New("registry: record below the newest recorded index")

// check refuses a record that could not name a version.
func check(rec Record) error {
	switch {
	case rec.Index == 0:
		return errors.New("registry: record: index must be > 0")
	case rec.Storage.BackupAccessKey == "":
		return fmt.Errorf("registry: record of index %d: storage.backup-access-key is empty", rec.Index)
	case len(rec.ServiceStateSHA256) != 64:
		return fmt.Errorf("registry: record of index %d: service-state-sha256 %q is not a SHA-256", rec.Index, rec.ServiceStateSHA256)
	}
	return nil
}

// Open opens a registry of type test. The chain types (ethereum, klaytn)
// are opened by runtime/registry/chain, which this package cannot import
// (runtime/server chooses).
func Open(cfg config.ServiceRegistry) (Registry, error) {
	switch cfg.Type {
	case config.RegistryTest, "":
		return OpenFile(cfg.TestPath)
	case config.RegistryEthereum, config.RegistryKlaytn:
		return nil, fmt.Errorf("service-registry.type: %q: open it with runtime/registry/chain", cfg.Type)
	default:
		return nil, fmt.Errorf("service-registry.type: unknown type %q", cfg.Type)
	}
}

// Locator is implemented by registries that also keep where the current
// leader is, so that clients can find the service: the leader writes its
// location on every leadership change, with its election term.
type Locator interface {
	// SetLeader stores (term, endpoint) unless a higher term is stored:
	// then it fails with an error wrapping ErrStaleTerm, so that a deposed
	// leader's late write cannot move clients back. An equal term
	// overwrites.
	SetLeader(ctx context.Context, term uint64, endpoint string) error
	// Leader returns the stored location; term 0 when none is.
	Leader(ctx context.Context) (term uint64, endpoint string, err error)
}

// ErrStaleTerm is wrapped by SetLeader's error for a term below the stored
// one.
var ErrStaleTerm = errors.New("registry: a newer leader's location is stored")

// fenceKey is the context key of a sender fence.
type fenceKey struct{}

// WithFence returns a context whose registry writes call fence just before
// each transaction they send, and stop with its error if it fails: the
// replica passes a check that it still leads (read from a quorum), so that a
// deposed leader that has not noticed yet does not send beside the new one.
func WithFence(ctx context.Context, fence func(context.Context) error) context.Context {
	return context.WithValue(ctx, fenceKey{}, fence)
}

// CheckFence calls the fence WithFence put in ctx, if any. Registries call
// it before each write.
func CheckFence(ctx context.Context) error {
	if f, ok := ctx.Value(fenceKey{}).(func(context.Context) error); ok && f != nil {
		if err := f(ctx); err != nil {
			return fmt.Errorf("%w: %v", ErrFenced, err)
		}
	}
	return nil
}

// ErrFenced is wrapped by a registry write that its fence stopped: the
// writer no longer leads.
var ErrFenced = errors.New("registry: the writer no longer leads")
