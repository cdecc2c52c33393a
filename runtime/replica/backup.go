package replica

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/br2k/br2k/runtime/backup"
)

// Backups off the cluster (Options.Backup). The leader's compactor uploads
// the newest version that a majority of the replicas agree on, from its own
// state-path, with an etcd snapshot, to the backup storage, keeps the newest
// MaxStateVersion there, and compacts the log only below a version that is
// stored (DESIGN.md invariant 5): when the storage is down or slow, serving
// goes on, uploads are retried at every look (every few seconds), and the
// log waits, with a warning once it holds more than backupLagWarn versions'
// worth of entries that compaction would otherwise have deleted.

// backupLagWarn is how many version intervals of entries the log may hold
// above the newest stored version before the replica warns, once per
// backupLog period, that backups are failing.
const backupLagWarn = 4

// storedVersion returns the newest version index in the backup storage
// (cached once known), uploading av first if it is newer, this replica
// holds its file with av's digest, and this replica leads. ok is false when
// the storage could not be read.
func (r *Replica) storedVersion(ctx context.Context, av agreedVersion) (stored uint64, ok bool) {
	if r.storedIndex.Load() == 0 {
		ms, err := r.opts.Backup.List(ctx)
		if err != nil {
			r.warnBackup("list the backup storage", err, av.index)
			return 0, false
		}
		if len(ms) > 0 {
			r.storedIndex.Store(ms[0].Index)
		}
	}
	if stored := r.storedIndex.Load(); av.index <= stored {
		return stored, true
	}
	start := time.Now()
	m, err := r.uploadVersion(ctx, av)
	if err != nil && !errors.Is(err, backup.ErrExists) {
		r.warnBackup("upload a state version", err, av.index)
		return r.storedIndex.Load(), true
	}
	r.storedIndex.Store(av.index)
	if err == nil {
		r.logger.Info("state version backed up", "index", av.index, "version", m.Version, "state_bytes", m.StateSize,
			"etcd_snapshot_bytes", m.EtcdSize, "access_key", m.AccessKey, "took", time.Since(start).Round(time.Millisecond))
	}
	if err := r.opts.Backup.Retain(ctx, r.opts.MaxStateVersion); err != nil {
		r.warnBackup("remove old backups", err, av.index)
	}
	return av.index, true
}

// uploadVersion streams this replica's file of version av, checked against
// the agreed digest, and an etcd snapshot into the backup storage.
func (r *Replica) uploadVersion(ctx context.Context, av agreedVersion) (backup.Meta, error) {
	path := filepath.Join(r.opts.StatePath, versionName(av.index))
	f, err := os.Open(path)
	if err != nil {
		return backup.Meta{}, fmt.Errorf("this replica has no file of version %d (pruned, or not written yet): %w", av.index, err)
	}
	defer f.Close()
	// A file this replica wrote has its sum noted; the storage checks the
	// stream against it as it goes in (a file damaged on this disk since is
	// refused, ErrMismatch). Another (installed from a peer, or written
	// before a restart) is read through and checked against the agreed
	// digest first.
	r.mu.Lock()
	known, ok := r.fileSums[av.index]
	r.mu.Unlock()
	size, sum := known.size, known.sha256
	if !ok {
		if size, sum, err = checkVersionFile(f, av.index, av.digest); err != nil {
			return backup.Meta{}, fmt.Errorf("%s: %w", path, err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return backup.Meta{}, err
		}
	}
	var etcd io.Reader = strings.NewReader("")
	if r.opts.Client != nil {
		snap, err := r.opts.Client.Snapshot(ctx)
		if err != nil {
			return backup.Meta{}, fmt.Errorf("etcd snapshot: %w", err)
		}
		defer snap.Close()
		etcd = snap
	}
	// Both streams share one pace (pace.go): an upload is never urgent.
	p := newPacer(versionIORate)
	return r.opts.Backup.Put(ctx, backup.Meta{Index: av.index, StateSize: size, StateSHA256: sum},
		&pacedReader{f, p}, &pacedReader{etcd, p})
}

// checkVersionFile reads a version file through once and returns its size
// and SHA-256 (hex), after checking that its header names index and digest
// and that what follows the header has that digest: a file damaged on this
// disk is never uploaded.
func checkVersionFile(f io.Reader, index uint64, digest string) (int64, string, error) {
	whole, body := sha256.New(), sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(f, whole), maxVersionHeader)
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, "", fmt.Errorf("version header: %w", err)
	}
	h, err := parseVersionHeader(line, index)
	if err != nil {
		return 0, "", err
	}
	if h.SHA256 != digest {
		return 0, "", fmt.Errorf("version header says digest %s, not the agreed %s", h.SHA256, digest)
	}
	n, err := io.Copy(body, br)
	if err != nil {
		return 0, "", err
	}
	if got := hex.EncodeToString(body.Sum(nil)); got != digest {
		return 0, "", fmt.Errorf("the file's state has SHA-256 %s, not the agreed %s: damaged on this disk", got, digest)
	}
	return int64(len(line)) + n, hex.EncodeToString(whole.Sum(nil)), nil
}

// warnBackup logs a failed backup step, at most once per backupLog period,
// saying how far the log has grown because compaction waits.
func (r *Replica) warnBackup(what string, err error, index uint64) {
	ok, dropped := r.backupLog.allow()
	if !ok {
		return
	}
	stored := r.storedIndex.Load()
	args := []any{"version", index, "newest_stored", stored, "err", err, "warnings_not_logged_since_last", dropped}
	if v := uint64(r.opts.VersionUpSize); v > 0 && index > stored+backupLagWarn*v {
		args = append(args, "log", fmt.Sprintf("compaction waits for a stored version: the log keeps %d entries it could have deleted", index-stored))
	}
	r.logger.Warn("backup: "+what+"; serving goes on, retrying", args...)
}
