// Package backup stores state versions off the cluster: the backup storage of
// state-config.backup-storage-type, "file" (a directory) or "mysql"
// (br2k-was's tables router, states and snapshot, plus what verification
// needs).
//
// A stored version is two streams, both opaque here:
//
//   - state: a replica's state version file at a log index (the
//     <index>.br2kstate file of runtime/replica), whose size and SHA-256 the
//     caller knows before it uploads, because the replicas agreed on them;
//   - etcd: an etcd snapshot (clientv3 Maintenance.Snapshot), for rebuilding
//     etcd itself after a disaster; its size and SHA-256 are learnt while it
//     streams in.
//
// Both are cut into chunks of Meta.ChunkSize bytes (the last one may be
// shorter), each stored with its size and SHA-256, so that a reader checks
// every chunk before handing out its bytes and names the chunk that is wrong,
// and neither writing nor reading ever holds more than a chunk or two of a
// stream in memory.
//
// # Ordering and failures
//
// Put makes a version visible to List and Open* with its very last write
// (the rename of its directory, the UPDATE that sets router.complete_index),
// after every chunk is durable. An error, a cancelled context or a crash
// before that leaves a partial attempt that nothing but Retain and a retry at
// the same index ever look at: no reader can mistake it for a version. That
// is what lets compaction below an index wait for "version i is stored"
// (DESIGN.md invariant 5) and recovery trust what List returns (invariant 6).
//
// Readers verify as they go; the whole stream's size and SHA-256 are checked
// when its last chunk has been read, so a consumer must not commit to what it
// read before Read returned io.EOF. Verification failures wrap ErrCorrupt (a
// *CorruptError naming the index, stream and chunk): the version is bad and
// the previous one should be tried. Other errors (I/O, network, a cancelled
// context) do not wrap ErrCorrupt: trying again later may succeed.
//
// A Storage is safe for concurrent use. Two Puts of one index race: at most
// one completes, the other fails (ErrExists, or an error because its partial
// attempt was removed by the other's start).
package backup

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"math"
	"time"

	"github.com/br2k/br2k/internal/lazyopen"
	"github.com/br2k/br2k/runtime/config"
)

// Chunk size bounds.
const (
	// DefaultChunkSize is the chunk size of a Put whose Meta.ChunkSize is
	// 0. MySQL lowers it to fit the server's max_allowed_packet.
	DefaultChunkSize = 4 << 20
	// MaxChunkSize is the largest Meta.ChunkSize Put accepts: a chunk is
	// held in memory (twice, for MySQL: ours and the driver's buffer).
	MaxChunkSize = 256 << 20
)

// Stream names, as they appear in errors and CorruptError.Stream.
const (
	StreamState = "state"
	StreamEtcd  = "etcd"

	// streamManifest is CorruptError.Stream for a version whose record,
	// the description of both streams, is unusable.
	streamManifest = "manifest"
)

// Meta describes one stored version.
type Meta struct {
	// Index is the log index the state is at; it identifies the version.
	Index uint64 `json:"index"`
	// Version is the backup's sequence number (1, 2, ...), br2k-was's
	// `version`. A Put with 0 gets one more than the highest complete
	// version in the storage, or 1.
	Version uint64 `json:"version"`
	// StateSize and StateSHA256 (lowercase hex) describe the state stream.
	// The caller declares them; Put refuses a stream that differs.
	StateSize   int64  `json:"state_size"`
	StateSHA256 string `json:"state_sha256"`
	// EtcdSize and EtcdSHA256 describe the etcd snapshot stream. Put
	// computes them while the stream goes in; what the caller passes is
	// ignored.
	EtcdSize   int64  `json:"etcd_size"`
	EtcdSHA256 string `json:"etcd_sha256"`
	// ChunkSize is the bytes per stored chunk. 0 in a Put means the
	// storage's default (DefaultChunkSize, lowered by MySQL to fit its
	// max_allowed_packet).
	ChunkSize int `json:"chunk_size"`
	// Created is when the Put started, UTC, microsecond precision. A Put
	// with the zero time gets the current time.
	Created time.Time `json:"created"`
	// AccessKey is the storage's own name for the version: router.id in
	// MySQL (br2k-was's backup-access-key, for the registry record), the
	// version's directory name in a file storage. Set by Put.
	AccessKey string `json:"access_key"`
}

// Storage is where versions go. See the package comment for what a crash or
// an error leaves behind and how reads verify.
type Storage interface {
	// Put stores a version: state, whose size and SHA-256 meta gives (Put
	// checks them and fails with ErrMismatch, storing nothing, when the
	// stream differs), and etcd, whose size and SHA-256 Put computes and
	// returns in the Meta, with Version, ChunkSize, Created and AccessKey
	// filled in. It reads both streams in chunks and never holds a whole
	// one; it does not close them. ctx is checked between chunks; a Read
	// that blocks is not interrupted.
	//
	// Atomic: an error, a cancelled ctx or a crash leaves nothing List or
	// Open* show, and a retry at the same index replaces the partial
	// attempt. If a complete version at meta.Index exists, Put reads
	// nothing and returns that version's Meta with an error wrapping
	// ErrExists. A Put whose error came late (the connection dropped while
	// committing) may have completed: its retry then gets ErrExists.
	Put(ctx context.Context, meta Meta, state io.Reader, etcd io.Reader) (Meta, error)
	// List returns the complete versions, newest (highest Index) first.
	List(ctx context.Context) ([]Meta, error)
	// OpenState and OpenEtcd return a reader of the version at index's
	// stream, or an error wrapping ErrNotFound if there is no complete
	// version at index. The reader verifies each chunk's size and SHA-256
	// before returning its bytes, and the stream's size and SHA-256 before
	// returning io.EOF; a mismatch is a *CorruptError. ctx governs the
	// reads too, not only the open. The caller closes the reader.
	OpenState(ctx context.Context, index uint64) (io.ReadCloser, error)
	OpenEtcd(ctx context.Context, index uint64) (io.ReadCloser, error)
	// Retain deletes all but the newest n complete versions, n >= 1, and
	// every partial attempt (including one in progress elsewhere, which
	// then fails). Deleting a version is atomic: a crash midway leaves the
	// version whole or a partial attempt, never a listed version with data
	// missing.
	Retain(ctx context.Context, n int) error
	// Close releases the storage's resources (MySQL connections).
	Close() error
}

// Errors, for errors.Is.
var (
	// ErrNotFound: no complete version at the index asked for.
	ErrNotFound = errors.New("backup: no such version")
	// ErrExists: Put of an index whose version is already complete.
	ErrExists = errors.New("backup: version already stored")
	// ErrMismatch: Put's state stream is not what its Meta declares.
	ErrMismatch = errors.New("backup: state stream does not match its declared size and SHA-256")
	// ErrCorrupt: a stored version failed verification. Errors wrapping it
	// are *CorruptError.
	ErrCorrupt = errors.New("backup: stored version is corrupt")
)

// CorruptError is a stored version that failed verification.
type CorruptError struct {
	Index  uint64 // the version's log index
	Stream string // StreamState or StreamEtcd; streamManifest for an unusable record (manifest.json, router row)
	Chunk  int    // the chunk number, from 0; -1 when the whole stream (or its record) is wrong
	Where  string // where it is stored: a table and id, or a file
	Detail string // what is wrong
}

func (e *CorruptError) Error() string {
	what := e.Stream + " stream"
	if e.Stream == streamManifest {
		what = e.Stream
	}
	if e.Chunk >= 0 {
		what = fmt.Sprintf("%s chunk %d", e.Stream, e.Chunk)
	}
	return fmt.Sprintf("backup: version at index %d: %s (%s): %s", e.Index, what, e.Where, e.Detail)
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// Open opens the storage cfg.BackupStorageType names: a File in dir, or a
// MySQL database as cfg.BackupStorageAuth says (dir is then unused). The
// caller chooses dir; the configuration has no key for it.
func Open(ctx context.Context, cfg config.StateConfig, dir string) (Storage, error) {
	switch cfg.BackupStorageType {
	case config.BackupFile, "":
		return OpenFile(dir)
	case config.BackupMySQL:
		return OpenMySQL(ctx, cfg.BackupStorageAuth)
	default:
		return nil, fmt.Errorf("backup: state-config.backup-storage-type: unknown type %q (want %q or %q)",
			cfg.BackupStorageType, config.BackupFile, config.BackupMySQL)
	}
}

// Lazy returns a Storage that opens the real one with open at its first
// use, and again at each later use until an open succeeds: a replica starts
// and serves while the backup storage (a MySQL server) is down, and its
// uploads are retried until it is back.
func Lazy(open func(ctx context.Context) (Storage, error)) Storage {
	return lazy{lazyopen.New(open)}
}

type lazy struct{ *lazyopen.Value[Storage] }

func (l lazy) Put(ctx context.Context, meta Meta, state io.Reader, etcd io.Reader) (Meta, error) {
	s, err := l.Get(ctx)
	if err != nil {
		return Meta{}, err
	}
	return s.Put(ctx, meta, state, etcd)
}

func (l lazy) List(ctx context.Context) ([]Meta, error) {
	s, err := l.Get(ctx)
	if err != nil {
		return nil, err
	}
	return s.List(ctx)
}

func (l lazy) OpenState(ctx context.Context, index uint64) (io.ReadCloser, error) {
	s, err := l.Get(ctx)
	if err != nil {
		return nil, err
	}
	return s.OpenState(ctx, index)
}

func (l lazy) OpenEtcd(ctx context.Context, index uint64) (io.ReadCloser, error) {
	s, err := l.Get(ctx)
	if err != nil {
		return nil, err
	}
	return s.OpenEtcd(ctx, index)
}

func (l lazy) Retain(ctx context.Context, n int) error {
	s, err := l.Get(ctx)
	if err != nil {
		return err
	}
	return s.Retain(ctx, n)
}

// prepare checks what a Put is given and fills the defaults it can.
func prepare(meta Meta, defaultChunk int) (Meta, error) {
	if meta.Index == 0 {
		return meta, errors.New("backup: put: Meta.Index must be > 0")
	}
	if meta.StateSize < 0 {
		return meta, fmt.Errorf("backup: put index %d: Meta.StateSize is negative (%d)", meta.Index, meta.StateSize)
	}
	if !isSHA256(meta.StateSHA256) {
		return meta, fmt.Errorf("backup: put index %d: Meta.StateSHA256 %q is not a lowercase hex SHA-256", meta.Index, meta.StateSHA256)
	}
	if meta.ChunkSize == 0 {
		meta.ChunkSize = defaultChunk
	}
	if meta.ChunkSize < 0 || meta.ChunkSize > MaxChunkSize {
		return meta, fmt.Errorf("backup: put index %d: Meta.ChunkSize %d is not in 1..%d", meta.Index, meta.ChunkSize, MaxChunkSize)
	}
	if meta.Created.IsZero() {
		meta.Created = time.Now()
	}
	// Microseconds: what MySQL's DATETIME(6) keeps, so that both storages
	// return the Meta Put returned.
	meta.Created = meta.Created.UTC().Truncate(time.Microsecond)
	meta.EtcdSize, meta.EtcdSHA256, meta.AccessKey = 0, "", ""
	return meta, nil
}

func isSHA256(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func hexSum(h hash.Hash) string { return hex.EncodeToString(h.Sum(nil)) }

func chunkSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// chunkCount is how many chunks a stream of size >= 0 bytes takes, with
// chunkSize > 0. It does not overflow, whatever the sizes (a stored record's
// may be anything).
func chunkCount(size int64, chunkSize int) int64 {
	n := size / int64(chunkSize)
	if size%int64(chunkSize) != 0 {
		n++
	}
	return n
}

// sizeFields names a record's size fields as it stores them, for errors.
type sizeFields struct{ chunk, state, etcd string }

// checkSizes checks the sizes of a stored version's record (a manifest.json,
// a router row) before anything is allocated or computed from them: the
// chunk size is what Put accepts (a reader allocates a chunk-sized buffer),
// the streams' sizes are not negative, and neither stream has more than
// maxChunks chunks (what the storage can number; also what a verifier's
// int counts). A stored record may hold anything: a corrupted or hostile
// storage must get an error, not a panic or a huge allocation. The error
// names the field.
func checkSizes(m Meta, f sizeFields, maxChunks int64) error {
	switch {
	case m.ChunkSize <= 0:
		return fmt.Errorf("%s %d is not positive", f.chunk, m.ChunkSize)
	case m.ChunkSize > MaxChunkSize:
		return fmt.Errorf("%s %d is above the %d maximum", f.chunk, m.ChunkSize, MaxChunkSize)
	}
	maxChunks = min(maxChunks, math.MaxInt)
	for _, s := range []struct {
		field string
		size  int64
	}{{f.state, m.StateSize}, {f.etcd, m.EtcdSize}} {
		if s.size < 0 {
			return fmt.Errorf("%s %d is negative", s.field, s.size)
		}
		if n := chunkCount(s.size, m.ChunkSize); n > maxChunks {
			return fmt.Errorf("%s %d is %d chunks of %d bytes, more than the %d a stream can have", s.field, s.size, n, m.ChunkSize, maxChunks)
		}
	}
	return nil
}

// errSource marks an error of a stream Put was given, as opposed to one of
// the storage.
type errSource struct {
	stream string
	err    error
}

func (e *errSource) Error() string { return "reading the " + e.stream + " stream: " + e.err.Error() }
func (e *errSource) Unwrap() error { return e.err }

// putChunks reads r in chunks of len(buf) and gives each to put, with its
// number and SHA-256, until r ends; it returns the stream's size and SHA-256.
// A chunk is put only once read whole (or at the end of r): a Read error
// puts nothing more.
func putChunks(ctx context.Context, stream string, r io.Reader, buf []byte, put func(n int, data []byte, sum string) error) (int64, string, error) {
	h := sha256.New()
	var size int64
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return size, "", err
		}
		k, err := io.ReadFull(r, buf)
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return size, "", &errSource{stream, err}
		}
		if k > 0 {
			data := buf[:k]
			h.Write(data)
			if err := put(n, data, chunkSum(data)); err != nil {
				return size, "", err
			}
			size += int64(k)
		}
		if err != nil { // the end of r
			return size, hexSum(h), nil
		}
	}
}

// checkState compares a state stream as it went in with what meta declared.
func checkState(meta Meta, size int64, sum string) error {
	if size != meta.StateSize || sum != meta.StateSHA256 {
		more := ""
		if size > meta.StateSize {
			more = " or more" // Put stops reading one byte past the declared size
		}
		return fmt.Errorf("%w: put index %d: the stream has %d bytes%s with SHA-256 %s, Meta declares %d bytes with SHA-256 %s",
			ErrMismatch, meta.Index, size, more, sum, meta.StateSize, meta.StateSHA256)
	}
	return nil
}

// chunk is one stored chunk as a storage read it.
type chunk struct {
	data []byte // valid until the next fetch
	size int    // the size recorded with it (the manifest's expectation for a file)
	sum  string // the SHA-256 recorded with it
}

// errBadChunk wraps a fetch's answer for a chunk that is missing or cannot
// be what was recorded; other fetch errors are I/O errors.
var errBadChunk = errors.New("bad chunk")

// verifier is the reader OpenState and OpenEtcd return: it fetches chunk
// after chunk and hands out a chunk's bytes only once they match the size
// and SHA-256 recorded with them, then checks the whole stream at the end.
type verifier struct {
	ctx       context.Context
	index     uint64
	stream    string
	where     string // for errors
	size      int64  // of the stream
	sum       string // of the stream
	chunkSize int
	chunks    int
	fetch     func(ctx context.Context, n, want int) (chunk, error)
	close     func() error

	next int    // the next chunk to fetch
	cur  []byte // what is left of the current chunk
	h    hash.Hash
	read int64
	err  error // sticky
}

// newVerifier's sizes must have passed checkSizes.
func newVerifier(ctx context.Context, index uint64, stream, where string, size int64, sum string, chunkSize int,
	fetch func(ctx context.Context, n, want int) (chunk, error), close func() error) *verifier {
	return &verifier{ctx: ctx, index: index, stream: stream, where: where, size: size, sum: sum, chunkSize: chunkSize,
		chunks: int(chunkCount(size, chunkSize)), fetch: fetch, close: close, h: sha256.New()}
}

func (v *verifier) corrupt(n int, format string, args ...any) error {
	where := v.where
	if n >= 0 {
		start := int64(n) * int64(v.chunkSize)
		end := min(start+int64(v.chunkSize), v.size) - 1
		where = fmt.Sprintf("of %d, bytes %d-%d, %s", v.chunks, start, end, v.where)
	}
	return &CorruptError{Index: v.index, Stream: v.stream, Chunk: n, Where: where, Detail: fmt.Sprintf(format, args...)}
}

func (v *verifier) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if len(v.cur) == 0 {
		if err := v.advance(); err != nil {
			v.err = err
			return 0, err
		}
	}
	k := copy(p, v.cur)
	v.cur = v.cur[k:]
	return k, nil
}

// advance fetches and verifies the next chunk, or checks the whole stream
// and returns io.EOF after the last one.
func (v *verifier) advance() error {
	if v.next == v.chunks {
		if v.read != v.size {
			return v.corrupt(-1, "read %d bytes, recorded size %d", v.read, v.size)
		}
		if got := hexSum(v.h); got != v.sum {
			return v.corrupt(-1, "SHA-256 is %s, recorded %s", got, v.sum)
		}
		return io.EOF
	}
	if err := v.ctx.Err(); err != nil {
		return fmt.Errorf("backup: version at index %d: reading %s chunk %d: %w", v.index, v.stream, v.next, err)
	}
	n := v.next
	want := v.chunkSize
	if n == v.chunks-1 {
		want = int(v.size - int64(n)*int64(v.chunkSize))
	}
	c, err := v.fetch(v.ctx, n, want)
	switch {
	case errors.Is(err, errBadChunk):
		return v.corrupt(n, "%v", err)
	case err != nil:
		return fmt.Errorf("backup: version at index %d: reading %s chunk %d (%s): %w", v.index, v.stream, n, v.where, err)
	case len(c.data) != want || c.size != want:
		return v.corrupt(n, "%d bytes stored, %d recorded, %d expected", len(c.data), c.size, want)
	}
	if got := chunkSum(c.data); got != c.sum {
		return v.corrupt(n, "SHA-256 is %s, recorded %s", got, c.sum)
	}
	v.h.Write(c.data)
	v.read += int64(len(c.data))
	v.cur = c.data
	v.next++
	return nil
}

func (v *verifier) Close() error {
	if v.err == nil {
		v.err = errors.New("backup: read after Close")
	}
	if v.close == nil {
		return nil
	}
	c := v.close
	v.close = nil
	return c()
}

// cleanupContext is for removing a failed Put's partial attempt: ctx may be
// the reason it failed, and the removal is worth finishing anyway (Retain
// and a retry would otherwise do it later).
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
}
