package replica

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/br2k/br2k/runtime/backup"
	rlog "github.com/br2k/br2k/runtime/log"
	"github.com/br2k/br2k/runtime/registry"
)

// Recovery from the backups (DESIGN.md invariant 6). A replica whose log was
// compacted past its state (it is new, was down for a while, or lost its
// state-path) loads the newest version the registry names from the backup
// storage, checking every chunk as it streams in and the whole file against
// the record, and replays the log after it. A version that fails
// verification is refused, with an error naming it, and the previous
// record's is tried; when the storage cannot help (none configured, down,
// or every version refused) the replica installs a peer's version instead
// (install.go).

// errNoBackups says that this replica has no backup storage and registry to
// recover from.
var errNoBackups = errors.New("no backup storage and registry configured")

// recoverFromBackup installs the newest recorded version at or after
// atLeast that loads and verifies. The apply loop is stopped while it runs.
func (r *Replica) recoverFromBackup(ctx context.Context, atLeast uint64, why string) error {
	if r.opts.Registry == nil || r.opts.Backup == nil || r.opts.StatePath == "" {
		return errNoBackups
	}
	recs, err := r.opts.Registry.Latest(ctx, r.opts.MaxStateVersion)
	if err != nil {
		return fmt.Errorf("read the registry: %w", err)
	}
	// A version above the log's head is not of this log (a registry
	// shared with an older cluster, or a race between two restores): its
	// state would not continue the entries this log will hold.
	head, _, err := r.log.Head(ctx)
	if err != nil {
		return fmt.Errorf("read the log head: %w", err)
	}
	var errs []error
	for _, rec := range recs {
		if rec.Index > head {
			errs = append(errs, fmt.Errorf("stored version %d is at index %d, above the log's head %d: not of this log", rec.Version, rec.Index, head))
			continue
		}
		if rec.Index < atLeast {
			break
		}
		start := time.Now()
		gen := r.needLog(ctx, rec.Index+1)
		v, digest, err := r.loadStoredVersion(ctx, rec)
		if err == nil {
			err = r.installLive(v, digest)
		}
		if err != nil {
			// Named, so that an operator finds the bad version.
			r.logger.Error("stored state version refused; trying the previous one", "index", rec.Index, "version", rec.Version,
				"access_key", rec.Storage.BackupAccessKey, "corrupt", errors.Is(err, backup.ErrCorrupt), "err", err)
			errs = append(errs, fmt.Errorf("stored version %d (index %d): %w", rec.Version, rec.Index, err))
			continue
		}
		r.logger.Info("installed a stored state version", "why", why, "index", rec.Index, "version", rec.Version,
			"bytes", len(v.machine)+len(v.state), "took", time.Since(start).Round(time.Millisecond))
		go r.releaseLogOnceCaughtUp(ctx, gen)
		return nil
	}
	if len(errs) == 0 {
		return fmt.Errorf("the registry records no version at or after %d", atLeast)
	}
	return errors.Join(errs...)
}

// loadStoredVersion streams the version rec names from the backup storage
// into StatePath and reads it back: the storage's reader checks each chunk
// and the whole stream against what the storage recorded, and the file is
// checked against the registry's record (its SHA-256, and the digest the
// replicas agreed on) before it is kept.
func (r *Replica) loadStoredVersion(ctx context.Context, rec registry.Record) (*version, string, error) {
	rc, err := r.opts.Backup.OpenState(ctx, rec.Index)
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	var digest string
	err = r.saveVersionFile(rec.Index, rc, rec.ServiceStateSHA256, func(h versionHeader) error {
		if rec.StateDigest != "" && h.SHA256 != rec.StateDigest {
			return fmt.Errorf("header says digest %s, the record %s", h.SHA256, rec.StateDigest)
		}
		digest = h.SHA256
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	v, err := r.readVersion(rec.Index)
	return v, digest, err
}

// ErrLogNotEmpty is returned by RestoreFromBackup when the log has entries:
// there is nothing to restore, the replica follows the log as it is.
var ErrLogNotEmpty = errors.New("the log is not empty")

// RestoreFromBackup is disaster recovery, called before Run on the replicas
// of a new cluster (empty etcd, empty state-path) whose backup storage and
// registry are the lost cluster's: when the log is empty it loads the
// newest recorded version, verified, into StatePath and starts the log at
// its index, so that Run loads it and the service goes on from there. What
// the lost cluster acknowledged after that version is gone. Several
// replicas may call it at once: one starts the log, the others then find
// it not empty (ErrLogNotEmpty) and load the version when Run finds the
// log starting after their state. It returns the restored index.
//
// Only the newest record is restored: when its version fails verification
// the error names it and restoring stops, because an older version would
// start the log below indices the registry and the storage already hold.
func (r *Replica) RestoreFromBackup(ctx context.Context) (uint64, error) {
	restorer, ok := r.log.(interface {
		Restore(ctx context.Context, index uint64) error
	})
	switch {
	case r.opts.Registry == nil || r.opts.Backup == nil || r.opts.StatePath == "":
		return 0, fmt.Errorf("restore: %w", errNoBackups)
	case !ok:
		return 0, errors.New("restore: this log cannot be restored (not the etcd log)")
	}
	head, _, err := r.log.Head(ctx)
	if err != nil {
		return 0, fmt.Errorf("restore: read the log head: %w", err)
	}
	if head != 0 {
		return 0, fmt.Errorf("restore: %w (head %d): nothing to restore", ErrLogNotEmpty, head)
	}
	recs, err := r.opts.Registry.Latest(ctx, 2)
	if err != nil {
		return 0, fmt.Errorf("restore: read the registry: %w", err)
	}
	if len(recs) == 0 {
		return 0, errors.New("restore: the registry records no version")
	}
	rec := recs[0]
	start := time.Now()
	if _, _, err := r.loadStoredVersion(ctx, rec); err != nil {
		more := ""
		if len(recs) > 1 {
			more = fmt.Sprintf("; the previous one is version %d at index %d, but restoring an older version than the newest recorded is not supported", recs[1].Version, recs[1].Index)
		}
		return 0, fmt.Errorf("restore: stored version %d (index %d, access key %s): %w%s", rec.Version, rec.Index, rec.Storage.BackupAccessKey, err, more)
	}
	if r.beforeLogRestore != nil {
		r.beforeLogRestore()
	}
	if err := restorer.Restore(ctx, rec.Index); err != nil {
		// Another replica restored first: Run follows whatever it chose.
		os.Remove(filepath.Join(r.opts.StatePath, versionName(rec.Index)))
		if errors.Is(err, rlog.ErrNotEmpty) {
			// It lost the race with another replica started with
			// -restore at the same time: as if it had found the log
			// restored, which a caller takes as success.
			return 0, fmt.Errorf("restore: %w (%w)", ErrLogNotEmpty, err)
		}
		return 0, fmt.Errorf("restore: %w", err)
	}
	r.logger.Warn("log restored from a stored state version: calls acknowledged after it by the lost cluster are gone",
		"index", rec.Index, "version", rec.Version, "recorded_end", rec.End, "access_key", rec.Storage.BackupAccessKey,
		"took", time.Since(start).Round(time.Millisecond))
	return rec.Index, nil
}
