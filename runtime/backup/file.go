package backup

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/br2k/br2k/internal/pagecache"
)

// File is the "file" storage: a directory with one subdirectory per
// complete version,
//
//	<index, 20 digits>/state.br2kstate   the state stream, byte for byte
//	                                     (a state version file an operator can copy)
//	<index, 20 digits>/etcd-snapshot.db  the etcd snapshot
//	<index, 20 digits>/manifest.json     Meta and every chunk's SHA-256
//
// A Put writes them in .partial-<index>-<random>/, manifest last, syncs each
// file and the directory, then renames it to <index>: the rename is what
// makes a version complete. Deletion renames a version to
// .deleting-<index>-<random>/ before removing its files. Names starting with
// ".partial-" and ".deleting-" are partial attempts; other names that are not
// versions are left alone.
type File struct {
	dir string
	mu  sync.Mutex // serialises completions, so Versions assigned in one process are distinct

	noCleanup bool // tests: a failed Put leaves its partial attempt, as a crash would
}

const (
	fileState    = "state.br2kstate"
	fileEtcd     = "etcd-snapshot.db"
	fileManifest = "manifest.json"

	prefixPartial  = ".partial-"
	prefixDeleting = ".deleting-"

	manifestFormat = 1

	// maxManifestSize bounds manifest.json, which a reader reads whole: Put
	// writes no larger one, and a larger one is refused unread. About
	// 70 bytes a chunk, so some 950 000 chunks: 3.7 TiB of streams in
	// chunks of DefaultChunkSize.
	maxManifestSize = 64 << 20
)

// manifestFields are manifest.json's names of the size fields.
var manifestFields = sizeFields{chunk: "chunk_size", state: "state_size", etcd: "etcd_size"}

// manifest is manifest.json.
type manifest struct {
	Format int      `json:"format"`
	Meta   Meta     `json:"meta"`
	State  []string `json:"state_chunks"` // SHA-256 of each chunk
	Etcd   []string `json:"etcd_chunks"`
}

// OpenFile opens (creating it if need be) the file storage in dir.
func OpenFile(dir string) (*File, error) {
	if dir == "" {
		return nil, errors.New("backup: file storage: no directory given")
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("backup: file storage: %w", err)
	}
	return &File{dir: dir}, nil
}

// Dir is the storage's directory.
func (f *File) Dir() string { return f.dir }

func versionDir(index uint64) string { return fmt.Sprintf("%020d", index) }

// parseVersionDir returns the index a complete version's directory name
// holds, or false.
func parseVersionDir(name string) (uint64, bool) {
	if len(name) != 20 {
		return 0, false
	}
	i, err := strconv.ParseUint(name, 10, 64)
	return i, err == nil && i > 0
}

// Put implements Storage.
func (f *File) Put(ctx context.Context, meta Meta, state, etcd io.Reader) (Meta, error) {
	meta, err := prepare(meta, DefaultChunkSize)
	if err != nil {
		return Meta{}, err
	}
	final := filepath.Join(f.dir, versionDir(meta.Index))
	if m, err := f.readManifest(meta.Index); err == nil {
		return m.Meta, fmt.Errorf("%w: index %d, in %s", ErrExists, meta.Index, final)
	} else if !errors.Is(err, ErrNotFound) {
		return Meta{}, fmt.Errorf("backup: put index %d: a version is there already, and: %w", meta.Index, err)
	}
	// A retry replaces what an earlier attempt at this index left. Best
	// effort: what is left does not stand in the way, and Retain removes it.
	f.removeLeftovers(func(index uint64) bool { return index == meta.Index })
	tmp, err := os.MkdirTemp(f.dir, prefixPartial+versionDir(meta.Index)+"-")
	if err != nil {
		return Meta{}, fmt.Errorf("backup: put index %d: %w", meta.Index, err)
	}
	out, err := f.put(ctx, meta, state, etcd, tmp, final)
	if err != nil {
		if !f.noCleanup {
			os.RemoveAll(tmp) // best effort: Retain and a retry remove it too
		}
		if errors.Is(err, ErrExists) { // completed by another Put meanwhile
			if m, merr := f.readManifest(meta.Index); merr == nil {
				return m.Meta, err
			}
		}
		return Meta{}, err
	}
	return out, nil
}

func (f *File) put(ctx context.Context, meta Meta, state, etcd io.Reader, tmp, final string) (Meta, error) {
	buf := make([]byte, meta.ChunkSize)
	man := manifest{Format: manifestFormat}

	size, sum, stateSums, err := writeStream(ctx, StreamState, filepath.Join(tmp, fileState), io.LimitReader(state, meta.StateSize+1), buf)
	if err != nil {
		return Meta{}, fmt.Errorf("backup: put index %d: %w", meta.Index, err)
	}
	if err := checkState(meta, size, sum); err != nil {
		return Meta{}, err
	}
	man.State = stateSums
	meta.EtcdSize, meta.EtcdSHA256, man.Etcd, err = writeStream(ctx, StreamEtcd, filepath.Join(tmp, fileEtcd), etcd, buf)
	if err != nil {
		return Meta{}, fmt.Errorf("backup: put index %d: %w", meta.Index, err)
	}
	if err := ctx.Err(); err != nil {
		return Meta{}, fmt.Errorf("backup: put index %d: %w", meta.Index, err)
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if meta.Version == 0 {
		metas, err := f.List(ctx)
		if err != nil {
			return Meta{}, fmt.Errorf("backup: put index %d: numbering the version: %w", meta.Index, err)
		}
		meta.Version = 1
		for _, m := range metas {
			meta.Version = max(meta.Version, m.Version+1)
		}
	}
	meta.AccessKey = versionDir(meta.Index)
	man.Meta = meta
	data, err := json.MarshalIndent(man, "", "\t")
	if err != nil {
		return Meta{}, fmt.Errorf("backup: put index %d: %w", meta.Index, err)
	}
	if len(data) > maxManifestSize {
		return Meta{}, fmt.Errorf("backup: put index %d: its %s would be %d bytes (%d state and %d etcd chunks of %d bytes), above the %d a reader accepts: use larger chunks",
			meta.Index, fileManifest, len(data), len(man.State), len(man.Etcd), meta.ChunkSize, maxManifestSize)
	}
	if err := writeSynced(filepath.Join(tmp, fileManifest), data); err != nil {
		return Meta{}, fmt.Errorf("backup: put index %d: %w", meta.Index, err)
	}
	if err := syncDir(tmp); err != nil {
		return Meta{}, fmt.Errorf("backup: put index %d: %w", meta.Index, err)
	}
	// The commit point. rename(2) of a directory onto an existing non-empty
	// one fails, so a version completed meanwhile is never replaced.
	if err := os.Rename(tmp, final); err != nil {
		if _, serr := os.Stat(final); serr == nil {
			return Meta{}, fmt.Errorf("%w: index %d, in %s (completed by another Put meanwhile)", ErrExists, meta.Index, final)
		}
		return Meta{}, fmt.Errorf("backup: put index %d: %w", meta.Index, err)
	}
	if err := syncDir(f.dir); err != nil {
		// The version is complete; only its durability across a power
		// loss is in doubt. Say so rather than pretend nothing happened.
		return meta, fmt.Errorf("backup: put index %d: stored, but syncing %s failed: %w", meta.Index, f.dir, err)
	}
	return meta, nil
}

// writeStream writes r to the new file path in chunks of len(buf), syncs
// it, and returns its size, SHA-256 and per-chunk SHA-256s.
func writeStream(ctx context.Context, stream, path string, r io.Reader, buf []byte) (int64, string, []string, error) {
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return 0, "", nil, err
	}
	defer file.Close() // after Sync and Close below, a no-op
	sums := []string{}
	size, sum, err := putChunks(ctx, stream, r, buf, func(n int, data []byte, sum string) error {
		if _, err := file.Write(data); err != nil {
			return fmt.Errorf("writing %s chunk %d to %s: %w", stream, n, path, err)
		}
		sums = append(sums, sum)
		return nil
	})
	if err != nil {
		return 0, "", nil, err
	}
	if err := file.Sync(); err != nil {
		return 0, "", nil, err
	}
	// A backup is read again only by a restore: its pages need not stay
	// cached (see internal/pagecache).
	pagecache.Drop(file, 0, 0)
	if err := file.Close(); err != nil {
		return 0, "", nil, err
	}
	return size, sum, sums, nil
}

func writeSynced(path string, data []byte) error {
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return err
	}
	if _, err := file.Write(data); err != nil {
		file.Close()
		return err
	}
	if err := file.Sync(); err != nil {
		file.Close()
		return err
	}
	return file.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// readManifest reads and checks the manifest of the complete version at
// index: ErrNotFound if there is none, a *CorruptError if it is unusable.
// What it returns has sizes open can allocate and compute with (checkSizes)
// and one SHA-256 listed per chunk.
func (f *File) readManifest(index uint64) (manifest, error) {
	path := filepath.Join(f.dir, versionDir(index), fileManifest)
	bad := func(format string, args ...any) (manifest, error) {
		return manifest{}, &CorruptError{Index: index, Stream: streamManifest, Chunk: -1, Where: path, Detail: fmt.Sprintf(format, args...)}
	}
	data, err := readBounded(path, maxManifestSize)
	if errors.Is(err, fs.ErrNotExist) {
		if _, derr := os.Stat(filepath.Dir(path)); errors.Is(derr, fs.ErrNotExist) {
			return manifest{}, fmt.Errorf("%w: index %d in %s", ErrNotFound, index, f.dir)
		}
	}
	if err != nil {
		return bad("%v", err)
	}
	var m manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return bad("%v", err)
	}
	switch {
	case m.Format != manifestFormat:
		return bad("format %d, want %d", m.Format, manifestFormat)
	case m.Meta.Index != index:
		return bad("holds index %d", m.Meta.Index)
	}
	if err := checkSizes(m.Meta, manifestFields, math.MaxInt); err != nil {
		return bad("%v", err)
	}
	switch {
	case int64(len(m.State)) != chunkCount(m.Meta.StateSize, m.Meta.ChunkSize):
		return bad("%d state chunks listed for state_size %d in chunks of %d", len(m.State), m.Meta.StateSize, m.Meta.ChunkSize)
	case int64(len(m.Etcd)) != chunkCount(m.Meta.EtcdSize, m.Meta.ChunkSize):
		return bad("%d etcd chunks listed for etcd_size %d in chunks of %d", len(m.Etcd), m.Meta.EtcdSize, m.Meta.ChunkSize)
	}
	return m, nil
}

// readBounded reads the file at path, which must not be larger than limit
// bytes: a larger one is an error, and is not read.
func readBounded(path string, limit int64) ([]byte, error) {
	file, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%d bytes, above the %d maximum", fi.Size(), limit)
	}
	// Limited anyway: the file may grow meanwhile.
	data, err := io.ReadAll(io.LimitReader(file, limit+1))
	if err == nil && int64(len(data)) > limit {
		err = fmt.Errorf("more than the %d bytes maximum", limit)
	}
	return data, err
}

// List implements Storage. A version directory whose manifest is unusable
// is not listed (OpenState and OpenEtcd on it return a *CorruptError).
func (f *File) List(ctx context.Context) ([]Meta, error) {
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return nil, fmt.Errorf("backup: list %s: %w", f.dir, err)
	}
	var metas []Meta
	for _, e := range entries {
		index, ok := parseVersionDir(e.Name())
		if !ok || !e.IsDir() {
			continue
		}
		m, err := f.readManifest(index)
		if err != nil {
			continue
		}
		metas = append(metas, m.Meta)
	}
	sort.Slice(metas, func(i, j int) bool { return metas[i].Index > metas[j].Index })
	return metas, nil
}

// OpenState implements Storage.
func (f *File) OpenState(ctx context.Context, index uint64) (io.ReadCloser, error) {
	return f.open(ctx, index, StreamState)
}

// OpenEtcd implements Storage.
func (f *File) OpenEtcd(ctx context.Context, index uint64) (io.ReadCloser, error) {
	return f.open(ctx, index, StreamEtcd)
}

func (f *File) open(ctx context.Context, index uint64, stream string) (io.ReadCloser, error) {
	m, err := f.readManifest(index)
	if err != nil {
		return nil, err
	}
	name, size, sum, sums := fileState, m.Meta.StateSize, m.Meta.StateSHA256, m.State
	if stream == StreamEtcd {
		name, size, sum, sums = fileEtcd, m.Meta.EtcdSize, m.Meta.EtcdSHA256, m.Etcd
	}
	path := filepath.Join(f.dir, versionDir(index), name)
	file, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &CorruptError{Index: index, Stream: stream, Chunk: -1, Where: path, Detail: "file missing"}
	}
	if err != nil {
		return nil, fmt.Errorf("backup: version at index %d: %w", index, err)
	}
	// Longer than recorded: bytes no chunk covers, that the reader would
	// never look at (a shorter file is found at the chunk where it ends).
	if fi, err := file.Stat(); err != nil {
		file.Close()
		return nil, fmt.Errorf("backup: version at index %d: %w", index, err)
	} else if fi.Size() > size {
		file.Close()
		return nil, &CorruptError{Index: index, Stream: stream, Chunk: -1, Where: path,
			Detail: fmt.Sprintf("the file is %d bytes, longer than the %d the manifest records", fi.Size(), size)}
	}
	// At most MaxChunkSize: readManifest checked the sizes.
	buf := make([]byte, m.Meta.ChunkSize)
	fetch := func(ctx context.Context, n, want int) (chunk, error) {
		k, err := io.ReadFull(file, buf[:want])
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return chunk{}, fmt.Errorf("%w: the file ends %d bytes into the chunk", errBadChunk, k)
		}
		return chunk{data: buf[:k], size: want, sum: sums[n]}, err
	}
	return newVerifier(ctx, index, stream, "file "+path, size, sum, m.Meta.ChunkSize, fetch, file.Close), nil
}

// Retain implements Storage.
func (f *File) Retain(ctx context.Context, n int) error {
	if n < 1 {
		return fmt.Errorf("backup: retain %d: must keep at least 1 version", n)
	}
	metas, err := f.List(ctx)
	if err != nil {
		return err
	}
	for _, m := range metas[min(n, len(metas)):] {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("backup: retain: %w", err)
		}
		// Out of the versions' namespace first, in one rename: from here
		// on a crash leaves a partial attempt, not a version missing files.
		dead := filepath.Join(f.dir, prefixDeleting+versionDir(m.Index)+"-"+randomHex(4))
		if err := os.Rename(filepath.Join(f.dir, versionDir(m.Index)), dead); err != nil {
			return fmt.Errorf("backup: retain: deleting the version at index %d: %w", m.Index, err)
		}
		if err := syncDir(f.dir); err != nil {
			return fmt.Errorf("backup: retain: deleting the version at index %d: %w", m.Index, err)
		}
		if err := os.RemoveAll(dead); err != nil {
			return fmt.Errorf("backup: retain: deleting the version at index %d: %w", m.Index, err)
		}
	}
	if err := f.removeLeftovers(func(uint64) bool { return true }); err != nil {
		return fmt.Errorf("backup: retain: %w", err)
	}
	return nil
}

// removeLeftovers removes the partial attempts and half-deleted versions
// whose index match accepts.
func (f *File) removeLeftovers(match func(index uint64) bool) error {
	entries, err := os.ReadDir(f.dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), prefixPartial)
		if !ok {
			rest, ok = strings.CutPrefix(e.Name(), prefixDeleting)
		}
		if !ok {
			continue
		}
		index, _ := parseVersionDir(strings.SplitN(rest, "-", 2)[0])
		if !match(index) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(f.dir, e.Name())); err != nil {
			return fmt.Errorf("removing the partial attempt %s: %w", e.Name(), err)
		}
	}
	return nil
}

// Close implements Storage; a File holds nothing open.
func (f *File) Close() error { return nil }
