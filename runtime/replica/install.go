package replica

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/apply"
	"github.com/br2k/br2k/runtime/backup"
	"github.com/br2k/br2k/runtime/httpx"
)

// Installing a peer's state version. A replica needs one when the log no
// longer holds the entries after its own state (they were compacted below a
// version most replicas hold: it was down, or is new), and when its state
// diverged from the majority's. It reads the versions the replicas
// published (Membership.Versions), takes the newest one that more than half
// of them published with one digest, fetches it from one of those replicas'
// peer port (GET PathPeerVersion, authenticated like every peer request),
// checks it against that digest, installs it in its live and shadow states,
// and follows the log from the entry after it.

// PathPeerVersion is the peer endpoint that serves a replica's state
// version file: ?index=N.
const PathPeerVersion = "/br2k/peer/version"

// maxVersionHeader bounds the header line of a version file.
const maxVersionHeader = 4 << 10

// serveVersion sends the version file ?index= from StatePath, as it is.
func (r *Replica) serveVersion(w http.ResponseWriter, req *http.Request) {
	index, err := strconv.ParseUint(req.URL.Query().Get("index"), 10, 64)
	if err != nil {
		runtime.WriteError(w, runtime.NewError(http.StatusBadRequest, runtime.CodeBadRequest, "query parameter index: %q is not an index", req.URL.Query().Get("index")))
		return
	}
	if r.opts.StatePath == "" {
		runtime.WriteError(w, runtime.NewError(http.StatusNotFound, runtime.CodeNotFound, "this replica keeps no state versions"))
		return
	}
	f, err := os.Open(filepath.Join(r.opts.StatePath, versionName(index)))
	if err != nil {
		runtime.WriteError(w, runtime.NewError(http.StatusNotFound, runtime.CodeNotFound, "no state version %d here", index))
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		runtime.WriteError(w, runtime.NewError(http.StatusInternalServerError, runtime.CodeInternal, "state version %d: %v", index, err))
		return
	}
	// The listener's write timeout is sized for calls; a version takes as
	// long as its size needs, at a modest 10 MB/s at worst.
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(30*time.Second + time.Duration(st.Size()/(10<<20))*time.Second))
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(st.Size(), 10))
	io.Copy(w, f)
}

// majorityVersions lists, newest first, the versions that more than half
// of the replicas published with one digest, each with that digest and the
// replicas that published it. The replicas are those that publish versions
// and those in the roster (running), so that a version only the fastest
// replica has written so far is not taken for the majority's.
func majorityVersions(all map[uint64]map[string]string, running map[string]string) []agreedVersion {
	ids := map[string]bool{}
	for _, ds := range all {
		for id := range ds {
			ids[id] = true
		}
	}
	for id := range running {
		ids[id] = true
	}
	var out []agreedVersion
	for i, ds := range all {
		by := map[string][]string{}
		for id, d := range ds {
			by[d] = append(by[d], id)
		}
		for d, holders := range by {
			if 2*len(holders) > len(ids) {
				sort.Strings(holders)
				out = append(out, agreedVersion{index: i, digest: d, holders: holders})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].index > out[j].index })
	return out
}

type agreedVersion struct {
	index   uint64
	digest  string
	holders []string
}

// agreedVersions reads the versions the replicas published and the roster,
// and returns the versions a majority agrees on (majorityVersions) and the
// running replicas' values.
func (r *Replica) agreedVersions(ctx context.Context) ([]agreedVersion, map[string]string, error) {
	m := r.membership()
	if m == nil {
		return nil, nil, errors.New("not in the roster")
	}
	all, err := m.Versions(ctx)
	if err != nil {
		return nil, nil, err
	}
	running, err := m.Replicas(ctx)
	if err != nil {
		return nil, nil, err
	}
	avs := majorityVersions(all, running)
	r.noteAbsentPublishers(all, running, avs)
	return avs, running, nil
}

// absentLogEvery is the least time between two warnings about replicas
// that hold compaction back without running.
const absentLogEvery = 5 * time.Minute

// noteAbsentPublishers warns, at most every absentLogEvery, when replica
// ids that published versions but are not running hold the majority back:
// the running replicas alone agree on a newer version than all of them do.
// Replicas replaced for good under new ids (a redeployment) stay in the
// count until "member remove" forgets them, and compaction stops.
func (r *Replica) noteAbsentPublishers(all map[uint64]map[string]string, running map[string]string, avs []agreedVersion) {
	absent := map[string]bool{}
	runningOnly := map[uint64]map[string]string{}
	for i, ds := range all {
		for id, d := range ds {
			if _, ok := running[id]; !ok {
				absent[id] = true
				continue
			}
			if runningOnly[i] == nil {
				runningOnly[i] = map[string]string{}
			}
			runningOnly[i][id] = d
		}
	}
	if len(absent) == 0 {
		return
	}
	alone := majorityVersions(runningOnly, running)
	if len(alone) == 0 || (len(avs) > 0 && avs[0].index >= alone[0].index) {
		return
	}
	if ok, _ := r.absentLog.allow(); !ok {
		return
	}
	ids := make([]string, 0, len(absent))
	for id := range absent {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	agreed := uint64(0)
	if len(avs) > 0 {
		agreed = avs[0].index
	}
	r.logger.Warn("replicas that are not running hold log compaction back: they published state versions, so they count in the majority a version needs; if they are gone for good, remove them (NAME member remove -config FILE -replica ID)",
		"absent", strings.Join(ids, ","), "newest_version_all_agree_on", agreed, "newest_version_the_running_agree_on", alone[0].index)
}

// recoverFromPeer installs the newest version at or after atLeast that a
// majority of the replicas agree on, fetched from one of them. The apply
// loop is stopped while it runs.
func (r *Replica) recoverFromPeer(ctx context.Context, atLeast uint64, why string) error {
	if r.opts.StatePath == "" {
		return errors.New("this replica keeps no state versions (no state-path), so it cannot install a peer's")
	}
	avs, reps, err := r.agreedVersions(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, av := range avs {
		if av.index < atLeast {
			break
		}
		for _, id := range av.holders {
			var p peerInfo
			if id == r.opts.ID || json.Unmarshal([]byte(reps[id]), &p) != nil || p.Peer == "" {
				continue // itself, or not running
			}
			start := time.Now()
			gen := r.needLog(ctx, av.index+1)
			v, err := r.fetchVersion(ctx, p.Peer, av.index, av.digest)
			if err != nil {
				errs = append(errs, fmt.Errorf("version %d from %s: %w", av.index, id, err))
				continue
			}
			if err := r.installLive(v, av.digest); err != nil {
				return fmt.Errorf("install version %d from %s: %w", av.index, id, err)
			}
			r.logger.Info("installed a peer's state version", "why", why, "index", av.index, "from", id,
				"bytes", len(v.machine)+len(v.state), "took", time.Since(start).Round(time.Millisecond))
			go r.releaseLogOnceCaughtUp(ctx, gen)
			if r.afterInstall != nil {
				r.afterInstall(av.index)
			}
			return nil
		}
	}
	if len(errs) == 0 {
		return fmt.Errorf("no running replica holds a version at or after %d that a majority agrees on", atLeast)
	}
	return errors.Join(errs...)
}

// fetchVersion downloads version index from the replica whose peer port is
// at peerURL into StatePath (as a temporary file, renamed once its SHA-256
// is the agreed digest) and reads it back verified.
func (r *Replica) fetchVersion(ctx context.Context, peerURL string, index uint64, digest string) (*version, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, peerURL+PathPeerVersion+"?index="+strconv.FormatUint(index, 10), nil)
	if err != nil {
		return nil, err
	}
	if err := r.opts.PeerAuth.Sign(req, nil); err != nil {
		return nil, err
	}
	// A peer that stops sending (a paused VM keeps its TCP connections
	// open) must not hold the follow loop: the download is given up once
	// no byte came for fetchStall, and the next holder is tried.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stalled atomic.Bool
	watch := time.AfterFunc(fetchStall, func() { stalled.Store(true); cancel() })
	defer watch.Stop()
	req = req.WithContext(ctx)
	// No ResponseHeaderTimeout: watch covers the wait for the headers too,
	// and a second timer of the same length would race it and lose the
	// "sent nothing" in the error.
	client := &http.Client{Transport: &http.Transport{
		TLSClientConfig:     r.opts.PeerTLS,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		TLSHandshakeTimeout: 10 * time.Second,
	}}
	defer client.CloseIdleConnections()
	stallErr := func(err error) error {
		if stalled.Load() {
			return fmt.Errorf("the peer sent nothing for %s: %w", fetchStall, err)
		}
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, stallErr(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return nil, fmt.Errorf("peer answered %s: %s", resp.Status, msg)
	}
	body := progressReader{r: resp.Body, progress: func() { watch.Reset(fetchStall) }}
	if err := r.saveVersionFile(index, body, "", func(h versionHeader) error {
		if h.SHA256 != digest {
			return fmt.Errorf("header says digest %s, not the agreed %s", h.SHA256, digest)
		}
		return nil
	}); err != nil {
		return nil, fmt.Errorf("version %d: %w", index, stallErr(err))
	}
	return r.readVersion(index)
}

// fetchStall is how long a version download may go without a byte from
// the peer (or without its answer's headers) before it is given up.
var fetchStall = 30 * time.Second // a variable for tests

// progressReader calls progress after every read that returned bytes.
type progressReader struct {
	r        io.Reader
	progress func()
}

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.progress()
	}
	return n, err
}

// saveVersionFile streams the version file of index from body into
// StatePath: a temporary file, renamed once the whole of body was read (a
// verifying reader checks its last part at io.EOF), the header passed
// check and the MaxVersionBytes bound, the state after the header has the
// header's digest, and the whole file has the SHA-256 fileSHA256 (when not
// empty).
func (r *Replica) saveVersionFile(index uint64, body io.Reader, fileSHA256 string, check func(versionHeader) error) error {
	whole := sha256.New()
	br := bufio.NewReaderSize(io.TeeReader(body, whole), maxVersionHeader)
	line, err := br.ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("version header: %w", err)
	}
	h, err := parseVersionHeader(line, index)
	if err != nil {
		return err
	}
	if err := check(h); err != nil {
		return err
	}
	size := int64(h.MachineBytes) + int64(h.StateBytes)
	if size > r.opts.MaxVersionBytes {
		return fmt.Errorf("version header says %d+%d bytes; this replica takes at most %d (Options.MaxVersionBytes)", h.MachineBytes, h.StateBytes, r.opts.MaxVersionBytes)
	}
	if err := os.MkdirAll(r.opts.StatePath, 0o750); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(r.opts.StatePath, fetchTempPattern)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	sum := sha256.New()
	_, err = tmp.Write(line)
	if err == nil {
		var n int64
		n, err = io.Copy(io.MultiWriter(tmp, sum), io.LimitReader(br, size))
		if err == nil && n != size {
			err = fmt.Errorf("version body ended after %d of %d bytes", n, size)
		}
	}
	if err == nil {
		// Read to the end: a verifying reader checks the whole stream
		// there, and nothing may follow the body.
		var extra [1]byte
		if k, rerr := io.ReadFull(br, extra[:]); k > 0 {
			err = errors.New("the version goes on after the size its header gives")
		} else if rerr != io.EOF {
			err = rerr
		}
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(sum.Sum(nil)); got != h.SHA256 {
		return fmt.Errorf("version body has SHA-256 %s, its header says %s", got, h.SHA256)
	}
	if got := hex.EncodeToString(whole.Sum(nil)); fileSHA256 != "" && got != fileSHA256 {
		return fmt.Errorf("%w: the version file has SHA-256 %s, its record %s", backup.ErrCorrupt, got, fileSHA256)
	}
	return os.Rename(tmp.Name(), filepath.Join(r.opts.StatePath, versionName(index)))
}

// installLive puts version v (whose digest is digest) into the live state
// and, after the chunks already handed to it, the shadow's, and makes it
// this replica's newest version. The apply loop is stopped.
func (r *Replica) installLive(v *version, digest string) error {
	// Checked on a scratch machine first, so that a refusal halfway leaves
	// nothing installed.
	if err := apply.New(r.svc, apply.Options{}).Import(v.machine); err != nil {
		return err
	}
	r.stateMu.Lock()
	err := installVersion(r.machine, r.svc, v)
	r.stateMu.Unlock()
	if err != nil {
		return err
	}
	// Versions captured before the install (from the state it replaced)
	// are dropped by the writer: their epoch is over.
	epoch := r.epoch.Add(1)
	if r.shadow != nil {
		r.shadow.send(shadowChunk{install: v, epoch: epoch})
	}
	r.mu.Lock()
	r.applied, r.lastVersion, r.appliedAt = v.index, v.index, time.Now()
	// The calls waiting for an index the version covers are not applied
	// one by one here: whether the entry there was theirs is not known.
	for i, p := range r.waiters {
		if i <= v.index {
			delete(r.waiters, i)
			p.answer(httpx.SignalAnswer(httpx.SignalOutcomeUnknown), false)
		}
	}
	// The digests not settled yet are of the replaced state.
	clear(r.digests)
	close(r.progress)
	r.progress = make(chan struct{})
	r.mu.Unlock()
	r.digest.invalidate()
	go r.versionDigest(v.index, epoch, v.state) // the apply loop need not wait for the hash
	go r.agree(v.index, digest)
	return nil
}
