package replica

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/br2k/br2k/internal/pagecache"
	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/apply"
)

// State versions. Every VersionUpSize applied entries, every replica
// captures its state at the same index (the apply loop cuts its batches
// there) and writes it to StatePath as one file:
//
//	<index, 20 digits>.br2kstate: a JSON header line, then the apply
//	machine's state (idempotency records) and the service's snapshot
//
// The header has the format, the index, both sizes and the SHA-256 of what
// follows it. A file is written to a temporary name, synced and renamed, so
// a crash never leaves a version that looks complete; the newest
// MaxStateVersion are kept. A restarting replica loads the newest version
// that verifies and replays only the log after it.
//
// The capture itself (machine.Export and Service.Snapshot) runs on the
// shadow state when the replica has one (Options.Shadow), off the apply
// loop; otherwise in the apply loop under the state lock, holding up
// applying for as long as encoding the state takes. Writing the file never
// does.

const (
	versionFormat = 1
	versionSuffix = ".br2kstate"
)

type versionHeader struct {
	Format       int    `json:"format"`
	Index        uint64 `json:"index"`
	MachineBytes int    `json:"machine_bytes"`
	StateBytes   int    `json:"state_bytes"`
	SHA256       string `json:"sha256"` // of the machine bytes followed by the state bytes
}

// version is a captured state, on its way to a file.
type version struct {
	index          uint64
	machine, state []byte
	took           time.Duration // the apply loop's stall to capture it
	epoch          uint64        // Replica.epoch when its state was captured
}

func versionName(index uint64) string { return fmt.Sprintf("%020d%s", index, versionSuffix) }

// nextVersion is the first version index after applied, or 0 when
// versions are off.
func (r *Replica) nextVersion(applied uint64) uint64 {
	v := uint64(r.opts.VersionUpSize)
	if v == 0 || r.opts.StatePath == "" {
		return 0
	}
	return (applied/v + 1) * v
}

// writeVersions writes the versions it is given, one at a time, until the
// channel closes; between versions it settles the last ones with the other
// replicas' digests.
func (r *Replica) writeVersions(vs <-chan *version) {
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
	for {
		var v *version
		select {
		case v = <-vs:
		case <-tick.C:
			ctx, cancel := context.WithTimeout(context.Background(), r.opts.RequestTimeout)
			r.settleVersions(ctx, r.newestVersion()+1)
			cancel()
			r.kickCompactor()
			continue
		}
		if v == nil {
			return // closed
		}
		r.writeCaptured(v)
		// Nothing holds v's state bytes now (the file, the digests and
		// the upload have what they need): the next capture encodes
		// into them rather than into a new buffer the size of the state.
		runtime.ReuseSnapshot(v.state)
	}
}

// writeCaptured writes v, a version the apply loop or the shadow captured,
// and settles it with the other replicas.
func (r *Replica) writeCaptured(v *version) {
	if v.epoch != r.epoch.Load() {
		return // of a state a peer's version replaced
	}
	start := time.Now()
	digest, err := r.writeVersion(v)
	if err != nil {
		r.logger.Error("write state version", "index", v.index, "err", err)
		return
	}
	r.mu.Lock()
	r.lastVersion = v.index
	r.mu.Unlock()
	r.versionDigest(v.index, v.epoch, v.state)
	r.logger.Info("state version written", "index", v.index, "bytes", len(v.machine)+len(v.state),
		"capture", v.took.Round(time.Microsecond), "write", time.Since(start).Round(time.Millisecond))
	r.pruneVersions()
	r.agree(v.index, digest)
	r.kickCompactor()
}

// writeVersion writes v's file and returns its digest (the header's
// SHA-256), which is the same on every replica for the same state.
func (r *Replica) writeVersion(v *version) (string, error) {
	dir := r.opts.StatePath
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", err
	}
	digest := versionSum(v.machine, v.state)
	head, err := json.Marshal(versionHeader{Format: versionFormat, Index: v.index, MachineBytes: len(v.machine), StateBytes: len(v.state), SHA256: digest})
	if err != nil {
		return "", err
	}
	tmp, err := os.CreateTemp(dir, versionTempPattern)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	// The whole file's size and SHA-256, for the backup upload, which
	// then need not read the file through once more before it streams it.
	// Only the leader uploads, and within BackupInterval of the last
	// upload (the slack: the next version comes before it ends) not this
	// version; otherwise the upload reads the file through
	// (checkVersionFile) rather than have every version hashed once more.
	_, leading, _ := r.currentLeader()
	var whole hash.Hash
	if leading != nil && r.opts.Backup != nil && !r.uploadTooSoon(wholeSumSlack) {
		whole = sha256.New()
	}
	var size int64
	bufs := [][]byte{head, {'\n'}, v.machine, v.state}
	for _, b := range bufs {
		if whole != nil {
			whole.Write(b)
		}
		size += int64(len(b))
	}
	if err := writePaced(tmp, bufs, versionIORate, func() bool { return len(r.versions) > 0 }); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	pagecache.Drop(tmp, 0, 0) // the rest that writePaced did not drop
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, versionName(v.index))); err != nil {
		return "", err
	}
	if whole != nil {
		r.noteFileSum(v.index, fileSum{size: size, sha256: hex.EncodeToString(whole.Sum(nil))})
	}
	// Make the rename itself durable.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return digest, nil
}

// wholeSumSlack is how long before BackupInterval ends the leader starts
// hashing the version files it writes for the next upload: versions come
// every few seconds under load, and one hashed in vain costs a pass over
// the state while one not hashed costs the upload a read and a pass.
const wholeSumSlack = 10 * time.Second

// fileSum is a version file's size and SHA-256 as it was written.
type fileSum struct {
	size   int64
	sha256 string
}

// noteFileSum remembers the sum of the file of version index, keeping those
// of the newest MaxStateVersion.
func (r *Replica) noteFileSum(index uint64, s fileSum) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fileSums == nil {
		r.fileSums = map[uint64]fileSum{}
	}
	r.fileSums[index] = s
	for len(r.fileSums) > r.opts.MaxStateVersion {
		oldest := index
		for i := range r.fileSums {
			oldest = min(oldest, i)
		}
		delete(r.fileSums, oldest)
	}
}

// versionFiles lists the version files in StatePath, newest first.
func (r *Replica) versionFiles() ([]uint64, error) {
	entries, err := os.ReadDir(r.opts.StatePath)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var idx []uint64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), versionSuffix)
		if !ok || e.IsDir() {
			continue
		}
		if n, err := strconv.ParseUint(name, 10, 64); err == nil {
			idx = append(idx, n)
		}
	}
	sort.Slice(idx, func(i, j int) bool { return idx[i] > idx[j] })
	return idx, nil
}

// pruneVersions keeps the newest MaxStateVersion files.
func (r *Replica) pruneVersions() {
	idx, err := r.versionFiles()
	if err != nil {
		r.logger.Warn("list state versions", "err", err)
		return
	}
	for _, i := range idx[min(len(idx), r.opts.MaxStateVersion):] {
		if err := os.Remove(filepath.Join(r.opts.StatePath, versionName(i))); err != nil {
			r.logger.Warn("remove old state version", "index", i, "err", err)
		}
	}
}

// parseVersionHeader decodes the header line of a version file (the
// newline may be there) and checks that it is of this binary's format, of
// version index, with sizes that are not negative.
func parseVersionHeader(line []byte, index uint64) (versionHeader, error) {
	var h versionHeader
	if err := json.Unmarshal(bytes.TrimSpace(line), &h); err != nil {
		return h, fmt.Errorf("header: %w", err)
	}
	switch {
	case h.Format != versionFormat:
		return h, fmt.Errorf("format %d, this binary reads %d", h.Format, versionFormat)
	case h.Index != index:
		return h, fmt.Errorf("header says index %d, not %d", h.Index, index)
	case h.MachineBytes < 0 || h.StateBytes < 0:
		return h, fmt.Errorf("header says %d+%d bytes", h.MachineBytes, h.StateBytes)
	}
	return h, nil
}

// readVersion reads and verifies the version file of index.
func (r *Replica) readVersion(index uint64) (*version, error) {
	data, err := os.ReadFile(filepath.Join(r.opts.StatePath, versionName(index)))
	if err != nil {
		return nil, err
	}
	line, rest, ok := bytes.Cut(data, []byte{'\n'})
	if !ok {
		return nil, errors.New("no header line")
	}
	h, err := parseVersionHeader(line, index)
	if err != nil {
		return nil, err
	}
	if h.MachineBytes+h.StateBytes != len(rest) {
		return nil, fmt.Errorf("header says %d+%d bytes, the file has %d after it", h.MachineBytes, h.StateBytes, len(rest))
	}
	if sum := sha256.Sum256(rest); hex.EncodeToString(sum[:]) != h.SHA256 {
		return nil, fmt.Errorf("SHA-256 is %x, the header says %s", sum, h.SHA256)
	}
	return &version{index: index, machine: rest[:h.MachineBytes], state: rest[h.MachineBytes:]}, nil
}

// loadVersion installs the newest local version that verifies, trying
// older ones when one is refused, and returns its index (0: none, the log
// is replayed from the start).
func (r *Replica) loadVersion() uint64 {
	if r.opts.StatePath == "" {
		return 0
	}
	idx, err := r.versionFiles()
	if err != nil {
		r.logger.Error("list state versions; replaying the whole log", "state_path", r.opts.StatePath, "err", err)
		return 0
	}
	for _, i := range idx {
		start := time.Now()
		v, err := r.readVersion(i)
		if err == nil {
			// The machine's part is checked on a scratch machine first, so
			// that a version refused halfway leaves nothing installed
			// (a generated Restore changes nothing when it fails).
			err = apply.New(r.svc, apply.Options{}).Import(v.machine)
		}
		if err == nil {
			// The shadow decodes the same bytes at the same time, on the
			// other core: a large state's restart waits for one decode,
			// not two.
			var shadowErr chan error
			if r.shadow != nil {
				shadowErr = make(chan error, 1)
				go func() {
					r.shadow.mu.Lock()
					defer r.shadow.mu.Unlock()
					shadowErr <- installVersion(r.shadow.machine, r.shadow.svc, v)
				}()
			}
			r.stateMu.Lock()
			err = installVersion(r.machine, r.svc, v)
			r.stateMu.Unlock()
			if shadowErr != nil {
				if serr := <-shadowErr; (serr == nil) != (err == nil) {
					// One state took the version and the other refused
					// the same bytes: a bug, not a bad file.
					panic(fmt.Sprintf("replica: of the live state and its shadow, one took version %d and the other refused it (live: %v, shadow: %v)", i, err, serr))
				}
			}
		}
		if err != nil {
			r.logger.Error("state version refused; trying the previous one", "file", filepath.Join(r.opts.StatePath, versionName(i)), "err", err)
			continue
		}
		r.mu.Lock()
		r.applied, r.lastVersion = i, i
		r.mu.Unlock()
		// Hashed in the background: a restart need not wait for it.
		go r.versionDigest(i, r.epoch.Load(), v.state)
		r.logger.Info("state version loaded", "index", i, "bytes", len(v.machine)+len(v.state), "took", time.Since(start).Round(time.Millisecond))
		return i
	}
	return 0
}

// The temporary files of version writes and downloads (os.CreateTemp
// patterns), renamed when complete; removeTempFiles removes those a killed
// process left.
const (
	versionTempPattern = ".version-*.tmp"
	fetchTempPattern   = ".fetch-*.tmp"
)

// removeTempFiles removes what a process that died while writing or
// downloading a version left in StatePath (each up to a state's size).
// It runs at start, before this process writes any.
func (r *Replica) removeTempFiles() {
	for _, p := range []string{versionTempPattern, fetchTempPattern} {
		left, _ := filepath.Glob(filepath.Join(r.opts.StatePath, p))
		for _, f := range left {
			if err := os.Remove(f); err != nil {
				r.logger.Warn("remove a temporary file left by an earlier process", "file", f, "err", err)
				continue
			}
			r.logger.Info("removed a temporary file left by an earlier process", "file", f)
		}
	}
}

func (r *Replica) newestVersion() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastVersion
}
