package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// File is the "test" registry: records as JSON lines in one local file,
// appended and synced one at a time. It is what the one-command dev cluster
// and the tests use, and what a deployment on one machine can use; replicas
// on several machines need a registry they all reach (the chain).
//
// Reads look only at the file's tail, so their cost does not grow with the
// history; the file keeps the newest keepRecords records once it passes
// trimBytes (a chain keeps them all). A line torn by a crash mid-append is
// skipped by readers and closed off by the next append.
type File struct {
	path string
	mu   sync.Mutex // serialises this process's appends and trims
}

// trimBytes is the file size past which an append rewrites the file with
// the newest keepRecords records (a variable for tests).
var trimBytes int64 = 4 << 20

const (
	// keepRecords is how many records a trim keeps: far more than any
	// max-state-version.
	keepRecords = 1000
	// tailBlock is how much of the file a read takes from its end at a
	// time.
	tailBlock = 64 << 10
)

// OpenFile returns the registry in the file at path, creating its directory
// (the file is created by the first record).
func OpenFile(path string) (*File, error) {
	if path == "" {
		return nil, fmt.Errorf("registry: test registry: no file path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("registry: test registry: %w", err)
	}
	return &File{path: path}, nil
}

// Path is the file the records are in.
func (f *File) Path() string { return f.path }

// Record appends rec unless a record of its index is there (see Registry).
// Only the leader records; two processes that append at once (a deposed
// leader's late record) each write whole lines, and the order check may
// let the later line carry the lower index, which readers sort out.
func (f *File) Record(ctx context.Context, rec Record) error {
	if err := check(rec); err != nil {
		return err
	}
	if err := CheckFence(ctx); err != nil {
		return err
	}
	line, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	newest, err := f.latest(1)
	if err != nil {
		return err
	}
	if len(newest) > 0 {
		switch top := newest[0].Index; {
		case top == rec.Index:
			return nil
		case top > rec.Index:
			return fmt.Errorf("%w: index %d, newest %d (%s)", ErrOutOfOrder, rec.Index, top, f.path)
		}
	}
	file, err := os.OpenFile(f.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	// A line torn by a crash is closed off, so that this one stands alone.
	prefix := []byte{}
	if st.Size() > 0 {
		last := make([]byte, 1)
		if r, err := os.Open(f.path); err == nil {
			if _, err := r.ReadAt(last, st.Size()-1); err == nil && last[0] != '\n' {
				prefix = []byte{'\n'}
			}
			r.Close()
		}
	}
	if _, err := file.Write(append(append(prefix, line...), '\n')); err != nil {
		return fmt.Errorf("registry: append to %s: %w", f.path, err)
	}
	if err := file.Sync(); err != nil {
		return fmt.Errorf("registry: sync %s: %w", f.path, err)
	}
	if st.Size() > trimBytes {
		if err := f.trim(); err != nil {
			return fmt.Errorf("registry: trim %s (the record is in): %w", f.path, err)
		}
	}
	return nil
}

// Latest returns the newest n records, newest first.
func (f *File) Latest(ctx context.Context, n int) ([]Record, error) {
	if n < 1 {
		return nil, fmt.Errorf("registry: latest: n must be >= 1, got %d", n)
	}
	return f.latest(n)
}

// latest reads the file backwards from its end, a block at a time, until it
// has n records or reaches the start.
func (f *File) latest(n int) ([]Record, error) {
	file, err := os.Open(f.path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	end := st.Size()
	var out []Record
	var tail []byte // a line's start that belongs to the block before
	torn := true    // the file's last bytes may be a line torn by a crash
	for end > 0 && len(out) < n {
		start := max(0, end-tailBlock)
		block := make([]byte, end-start, int(end-start)+len(tail))
		if _, err := file.ReadAt(block, start); err != nil && err != io.EOF {
			return nil, fmt.Errorf("registry: read %s: %w", f.path, err)
		}
		block = append(block, tail...)
		lines := bytes.Split(block, []byte{'\n'})
		// The first piece may continue in the block before, unless this
		// block starts the file.
		first := 0
		if start > 0 {
			tail, first = lines[0], 1
		}
		for i := len(lines) - 1; i >= first && len(out) < n; i-- {
			line := lines[i]
			last := torn && i == len(lines)-1
			if len(line) == 0 || last {
				continue // the empty piece after the final '\n', or a torn line
			}
			var rec Record
			if json.Unmarshal(line, &rec) != nil || rec.Index == 0 {
				continue // a torn line closed off by a later append
			}
			out = append(out, rec)
		}
		torn = false
		end = start
	}
	// Two leaders' racing appends may leave the lines out of index order.
	sortNewestFirst(out)
	return out, nil
}

// trim rewrites the file with its newest keepRecords records, by a temporary
// file and a rename.
func (f *File) trim() error {
	recs, err := f.latest(keepRecords)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	for i := len(recs) - 1; i >= 0; i-- {
		line, _ := json.Marshal(recs[i])
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return replaceFile(f.path, ".registry-*.tmp", buf.Bytes())
}

// replaceFile replaces the file at path with data: a temporary file (named
// by pattern) in the same directory, synced, then renamed over path.
func replaceFile(path, pattern string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), pattern)
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if _, err := tmp.Write(data); err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// Close does nothing: the file is opened per call.
func (f *File) Close() error { return nil }

func sortNewestFirst(recs []Record) {
	for i := 1; i < len(recs); i++ {
		for j := i; j > 0 && recs[j].Index > recs[j-1].Index; j-- {
			recs[j], recs[j-1] = recs[j-1], recs[j]
		}
	}
}

// location is the test registry's leader location, in LeaderPath.
type location struct {
	Term     uint64 `json:"term"`
	Endpoint string `json:"endpoint"`
}

// LeaderPath is the file beside the records that holds the leader's
// location.
func (f *File) LeaderPath() string { return f.path + ".leader" }

// SetLeader stores the leader's location (see Locator), by a temporary file
// and a rename.
func (f *File) SetLeader(ctx context.Context, term uint64, endpoint string) error {
	if err := CheckFence(ctx); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	stored, _, err := f.leader()
	if err != nil {
		return err
	}
	if term < stored {
		return fmt.Errorf("%w: term %d, stored %d (%s)", ErrStaleTerm, term, stored, f.LeaderPath())
	}
	data, _ := json.Marshal(location{Term: term, Endpoint: endpoint})
	if err := replaceFile(f.LeaderPath(), ".leader-*.tmp", data); err != nil {
		return fmt.Errorf("registry: %w", err)
	}
	return nil
}

// Leader returns the stored location (see Locator).
func (f *File) Leader(ctx context.Context) (uint64, string, error) {
	return f.leader()
}

func (f *File) leader() (uint64, string, error) {
	data, err := os.ReadFile(f.LeaderPath())
	if os.IsNotExist(err) {
		return 0, "", nil
	}
	if err != nil {
		return 0, "", fmt.Errorf("registry: %w", err)
	}
	var l location
	if err := json.Unmarshal(data, &l); err != nil {
		return 0, "", fmt.Errorf("registry: %s: %w", f.LeaderPath(), err)
	}
	return l.Term, l.Endpoint, nil
}
