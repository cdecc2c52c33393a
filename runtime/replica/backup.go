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
	"sort"
	"strings"
	"time"

	"github.com/br2k/br2k/internal/pagecache"
	"github.com/br2k/br2k/runtime/backup"
	"github.com/br2k/br2k/runtime/registry"
)

// Backups off the cluster (Options.Backup). The leader's compactor uploads
// the newest version that a majority of the replicas agree on, from its own
// state-path, with an etcd snapshot, to the backup storage, keeps the newest
// MaxStateVersion there, and compacts the log only below a version that is
// stored (DESIGN.md invariant 5): when the storage is down or slow, serving
// goes on, uploads are retried (after 2 s, doubling up to maxUploadBackoff), and the
// log waits, with a warning once it holds more than backupLagWarn versions'
// worth of entries that compaction would otherwise have deleted.

// backupLagWarn is how many version intervals of entries the log may hold
// above the newest stored version before the replica warns, once per
// backupLog period, that backups are failing.
const backupLagWarn = 4

// storedVersion returns the newest version index that is in the backup
// storage and, with a registry, recorded there: what the log may be
// compacted below. On the way it uploads avs[0] (the newest version the
// replicas agree on) if it is newer than the stored one and this replica
// holds its file, and records the newest stored version if the registry
// lacks it. Storage and registry are read once and then tracked. ok is false
// when the storage could not be read.
func (r *Replica) storedVersion(ctx context.Context, avs []agreedVersion, running map[string]string) (stored uint64, ok bool) {
	av := avs[0]
	if r.storedIndex.Load() == 0 {
		ms, err := r.opts.Backup.List(ctx)
		if err != nil {
			r.warnBackup("list the backup storage", err, av.index)
			return 0, false
		}
		m, ok, foreign := r.newestOwnStored(ms, av.index)
		if foreign != nil {
			r.warnBackup("read the backup storage", foreign, av.index)
		}
		if ok {
			r.storedMeta, r.storedEnd = m, time.Time{}
			r.storedIndex.Store(m.Index)
		}
	}
	// Within BackupInterval of the last upload, versions are not stored.
	// The writer kicks the compactor every 2 s between versions too, so
	// the newest is stored once the interval is over even if no other
	// version comes (the service went idle).
	if stored := r.storedIndex.Load(); av.index > stored && !r.uploadTooSoon(0) && !time.Now().Before(r.uploadRetryAt) {
		start := time.Now()
		m, err := r.uploadVersion(ctx, av)
		if err != nil && !errors.Is(err, backup.ErrExists) {
			// Each attempt streams the whole version and an etcd snapshot:
			// a storage that keeps failing is tried less and less often.
			r.uploadFailures++
			r.uploadRetryAt = time.Now().Add(uploadBackoff(r.uploadFailures))
			r.uploadErr = err
		} else {
			r.uploadFailures, r.uploadRetryAt, r.uploadErr = 0, time.Time{}, nil
		}
		switch {
		case errors.Is(err, backup.ErrExists):
			// Another leader stored it: its Meta came back with the error.
			r.storedMeta, r.storedEnd = m, time.Time{}
			r.storedIndex.Store(av.index)
		case err != nil:
			r.warnBackup("upload a state version", err, av.index)
		default:
			r.storedMeta, r.storedEnd = m, time.Now()
			r.storedIndex.Store(av.index)
			r.lastUpload.Store(start.UnixNano())
			r.lagWarned = false
			r.logger.Info("state version backed up", "index", av.index, "version", m.Version, "state_bytes", m.StateSize,
				"etcd_snapshot_bytes", m.EtcdSize, "access_key", m.AccessKey, "took", time.Since(start).Round(time.Millisecond))
			if err := r.opts.Backup.Retain(ctx, r.opts.MaxStateVersion); err != nil {
				r.warnBackup("remove old backups", err, av.index)
			}
		}
	} else if av.index > r.storedIndex.Load() && r.uploadErr != nil {
		// Waiting out a backoff (up to maxUploadBackoff): the warning that
		// the log grows is due when the lag crosses, not at the next try.
		r.warnBackupLag("upload a state version", r.uploadErr, av.index)
	}
	return r.recordedVersion(ctx, avs, running), true
}

// uploadTooSoon reports whether, slack from now, less than BackupInterval
// will have passed since the last upload that stored a version started.
func (r *Replica) uploadTooSoon(slack time.Duration) bool {
	last := r.lastUpload.Load()
	return last != 0 && time.Since(time.Unix(0, last))+slack < r.opts.BackupInterval
}

// uploadBackoff is how long the compactor waits before uploading again
// after failures uploads failed in a row: from 2 s, doubling, up to
// maxUploadBackoff.
func uploadBackoff(failures int) time.Duration {
	d := 2 * time.Second
	for i := 1; i < failures && d < maxUploadBackoff; i++ {
		d *= 2
	}
	return min(d, maxUploadBackoff)
}

// maxUploadBackoff bounds the wait between upload attempts to a failing
// storage: once it is back, a version is stored within this long.
const maxUploadBackoff = 30 * time.Second

// recordedVersion records the newest stored version in the registry unless
// it is there, and returns the newest version both hold (the stored one
// without a registry).
func (r *Replica) recordedVersion(ctx context.Context, avs []agreedVersion, running map[string]string) uint64 {
	stored := r.storedIndex.Load()
	if r.opts.Registry == nil || stored == 0 {
		return stored
	}
	if !r.recordedKnown {
		recs, err := r.opts.Registry.Latest(ctx, 1)
		if err != nil {
			r.warnBackup("read the registry", err, stored)
			return 0
		}
		if len(recs) > 0 {
			r.recordedIndex = recs[0].Index
		}
		r.recordedKnown = true
	}
	if r.recordedIndex >= stored {
		return stored
	}
	m := r.storedMeta
	rec := registry.Record{
		Start: m.Created, End: r.storedEnd, Version: m.Version, Index: m.Index,
		EtcdSnapshotSize: m.EtcdSize, EtcdSnapshotSHA256: m.EtcdSHA256,
		ServiceStateSize: m.StateSize, ServiceStateSHA256: m.StateSHA256,
		Storage: r.opts.BackupLocation, Subject: r.opts.ID,
	}
	rec.Storage.BackupAccessKey = m.AccessKey
	if rec.End.IsZero() {
		rec.End = time.Now().UTC() // stored by an earlier leader: when it was found
	}
	members := map[string]bool{}
	for id := range running {
		rec.AliveMembers = append(rec.AliveMembers, id)
		members[id] = true
	}
	for _, av := range avs {
		if av.index == m.Index {
			rec.StateDigest = av.digest
		}
		for _, id := range av.holders {
			members[id] = true
		}
	}
	for id := range members {
		rec.Members = append(rec.Members, id)
	}
	sort.Strings(rec.AliveMembers)
	sort.Strings(rec.Members)
	if err := r.opts.Registry.Record(ctx, rec); err != nil {
		if errors.Is(err, registry.ErrOutOfOrder) {
			r.recordedKnown = false // a newer record is there: read it next time
		}
		r.warnBackup("record a stored version in the registry", err, stored)
		return min(r.recordedIndex, stored)
	}
	r.recordedIndex = stored
	r.logger.Info("state version recorded in the registry", "index", stored, "version", m.Version, "access_key", m.AccessKey)
	return stored
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
	defer pagecache.Drop(f, 0, 0) // read through once (see internal/pagecache)
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
	m, err := r.opts.Backup.Put(ctx, backup.Meta{Index: av.index, StateSize: size, StateSHA256: sum},
		&pacedReader{f, p}, &pacedReader{etcd, p})
	if errors.Is(err, backup.ErrExists) && (m.StateSHA256 != sum || m.StateSize != size) {
		return m, fmt.Errorf("%w: the stored version %d (SHA-256 %s) is not this log's (%s)", errForeignVersion, av.index, m.StateSHA256, sum)
	}
	return m, err
}

// errForeignVersion: the backup storage holds, at a version's index, a
// version of another history, which a cluster lost before a -restore
// stored and did not record. It is never counted as stored nor recorded;
// the log waits for the next version, which is stored beside it.
var errForeignVersion = errors.New("the backup storage holds another history's version at this index (stored by a cluster lost before a restore?); it is not counted, and compaction waits for the next version")

// newestOwnStored returns the newest of the stored versions ms (newest
// first) that belongs to this log: at most the newest agreed index, and
// byte for byte this replica's file of that version. A stored version
// above the agreed ones, or one that differs, is another history's (see
// errForeignVersion), reported in foreign; one whose file this replica no
// longer has cannot be told apart and is passed over (the newest agreed
// version is uploaded instead). At most a few files are read.
func (r *Replica) newestOwnStored(ms []backup.Meta, agreed uint64) (own backup.Meta, ok bool, foreign error) {
	checked := 0
	for _, m := range ms {
		if m.Index > agreed {
			foreign = fmt.Errorf("%w: version %d is above every version the replicas agree on (%d)", errForeignVersion, m.Index, agreed)
			continue
		}
		if checked == 3 {
			break
		}
		checked++
		size, sum, ok := r.localFileSum(m.Index)
		if !ok {
			continue
		}
		if size == m.StateSize && sum == m.StateSHA256 {
			return m, true, foreign
		}
		foreign = fmt.Errorf("%w: the stored version %d (SHA-256 %s) differs from this replica's file of it (%s)", errForeignVersion, m.Index, m.StateSHA256, sum)
	}
	return backup.Meta{}, false, foreign
}

// localFileSum is the size and SHA-256 of this replica's file of version
// index, as written or read through now; ok is false without one.
func (r *Replica) localFileSum(index uint64) (int64, string, bool) {
	r.mu.Lock()
	known, ok := r.fileSums[index]
	r.mu.Unlock()
	if ok {
		return known.size, known.sha256, true
	}
	f, err := os.Open(filepath.Join(r.opts.StatePath, versionName(index)))
	if err != nil {
		return 0, "", false
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, "", false
	}
	return n, hex.EncodeToString(h.Sum(nil)), true
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
// and at once when the log first grows past backupLagWarn versions' worth
// of entries above the newest stored version, saying so.
func (r *Replica) warnBackup(what string, err error, index uint64) {
	stored := r.storedIndex.Load()
	lagging := r.backupLagging(index)
	ok, dropped := r.backupLog.allow()
	if lagging && !r.lagWarned {
		ok, r.lagWarned = true, true
	}
	if !ok {
		return
	}
	args := []any{"version", index, "newest_stored", stored, "err", err, "warnings_not_logged_since_last", dropped}
	if lagging {
		args = append(args, "log", fmt.Sprintf("compaction waits for a stored version: the log keeps %d entries it could have deleted", index-stored))
	}
	r.logger.Warn("backup: "+what+"; serving goes on, retrying", args...)
}

// warnBackupLag is warnBackup for a step not tried this time (an upload
// waiting out its backoff): it logs only the first time the log grows past
// backupLagWarn versions' worth.
func (r *Replica) warnBackupLag(what string, err error, index uint64) {
	if r.backupLagging(index) && !r.lagWarned {
		r.warnBackup(what, err, index)
	}
}

// backupLagging reports whether the log at index holds more than
// backupLagWarn versions' worth of entries above the newest stored version.
func (r *Replica) backupLagging(index uint64) bool {
	v := uint64(r.opts.VersionUpSize)
	return v > 0 && index > r.storedIndex.Load()+backupLagWarn*v
}
