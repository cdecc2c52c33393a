package backup

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/br2k/br2k/runtime/config"
)

func fileHarness() harness {
	return harness{
		open: func(t *testing.T) Storage {
			f, err := OpenFile(filepath.Join(t.TempDir(), "backup"))
			if err != nil {
				t.Fatal(err)
			}
			return f
		},
		corrupt: func(t *testing.T, s Storage, index uint64, stream string, chunk int) {
			name := fileState
			if stream == StreamEtcd {
				name = fileEtcd
			}
			path := filepath.Join(s.(*File).dir, versionDir(index), name)
			file, err := os.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer file.Close()
			b := make([]byte, 1)
			off := int64(chunk*testChunk + 5)
			if _, err := file.ReadAt(b, off); err != nil {
				t.Fatal(err)
			}
			b[0] ^= 1
			if _, err := file.WriteAt(b, off); err != nil {
				t.Fatal(err)
			}
		},
		leftovers: func(t *testing.T, s Storage) int {
			entries, err := os.ReadDir(s.(*File).dir)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".") {
					n++
				}
			}
			return n
		},
		crashy: func(s Storage) { s.(*File).noCleanup = true },
	}
}

func TestFileContract(t *testing.T) { runContract(t, fileHarness()) }

// TestFileVersionHoldsTheStateFileAsIs checks the layout an operator sees:
// one directory per version, the state stream byte for byte (a state
// version file that can be copied into state-path), the etcd snapshot and
// the manifest.
func TestFileVersionHoldsTheStateFileAsIs(t *testing.T) {
	dir := t.TempDir()
	f, err := OpenFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	v := newVersion(50000, 200<<10, 100<<10)
	m := v.put(t, f)
	if m.AccessKey != "00000000000000050000" {
		t.Errorf("AccessKey %q", m.AccessKey)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "00000000000000050000" {
		t.Fatalf("dir holds %v", entries)
	}
	for name, want := range map[string][]byte{fileState: v.state, fileEtcd: v.etcd} {
		got, err := os.ReadFile(filepath.Join(dir, "00000000000000050000", name))
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes, %v; want %d bytes", name, len(got), err, len(want))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "00000000000000050000", fileManifest)); err != nil {
		t.Error(err)
	}
}

// TestFileUnusableManifestIsNotListedAndRefusedOnOpen: a version directory
// whose manifest is damaged is not a version List offers, and opening it
// says why.
func TestFileUnusableManifestIsNotListedAndRefusedOnOpen(t *testing.T) {
	f, err := OpenFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	newVersion(10, 1<<10, 1<<10).put(t, f)
	newVersion(20, 1<<10, 1<<10).put(t, f)
	if err := os.WriteFile(filepath.Join(f.dir, versionDir(20), fileManifest), []byte("{"), 0o640); err != nil {
		t.Fatal(err)
	}
	if got := listIndexes(t, f); !equalIndexes(got, []uint64{10}) {
		t.Errorf("List: %v", got)
	}
	_, err = f.OpenState(context.Background(), 20)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "index 20") || !strings.Contains(err.Error(), fileManifest) {
		t.Errorf("OpenState: %v", err)
	}
}

func TestOpenPicksTheStorageByType(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, config.StateConfig{BackupStorageType: config.BackupFile}, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := s.(*File); !ok {
		t.Errorf("file: got %T", s)
	}
	s.Close()
	for _, c := range []struct {
		name string
		cfg  config.StateConfig
		dir  string
		want string
	}{
		{"file without a directory", config.StateConfig{BackupStorageType: config.BackupFile}, "", "no directory"},
		{"unknown type", config.StateConfig{BackupStorageType: "s3"}, t.TempDir(), "state-config.backup-storage-type"},
		{"mysql without host", config.StateConfig{BackupStorageType: config.BackupMySQL,
			BackupStorageAuth: config.BackupStorageAuth{Database: "backup"}}, "", keyHost},
		{"mysql without database", config.StateConfig{BackupStorageType: config.BackupMySQL,
			BackupStorageAuth: config.BackupStorageAuth{Host: "127.0.0.1"}}, "", keyDatabase},
	} {
		if _, err := Open(ctx, c.cfg, c.dir); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error naming %s", c.name, err, c.want)
		}
	}
}

// TestFileManifestSizesAreCheckedBeforeUse: manifest.json is stored data,
// and a reader allocates a chunk-sized buffer and computes chunk counts and
// offsets from its sizes. Sizes that are out of range or do not agree with
// each other make the version unlisted and refused with an error naming the
// field, never a panic or a huge allocation.
func TestFileManifestSizesAreCheckedBeforeUse(t *testing.T) {
	f, err := OpenFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	newVersion(10, 1<<10, 1<<10).put(t, f) // a good one, still listed
	for i, c := range []struct {
		name string
		edit func(m *manifest)
		want string
	}{
		// What the audit found: accepted, listed, and OpenState died in
		// make([]byte, chunk_size) ("makeslice: len out of range"; with
		// 1<<40 the process runs out of memory, which is not recoverable).
		{"huge chunk_size", func(m *manifest) {
			m.Meta.ChunkSize, m.Meta.StateSize, m.State, m.Etcd = 1<<50, 10, m.State[:1], m.Etcd[:1]
		}, "chunk_size 1125899906842624 is above the 268435456 maximum"},
		// ceil(size/chunk_size) overflowed to 0 chunks, so no chunk listed
		// matched, and make([]byte, MaxInt64) panicked.
		{"chunk_size overflowing the chunk count", func(m *manifest) {
			m.Meta.ChunkSize, m.Meta.StateSize, m.State, m.Etcd = math.MaxInt64, 10, []string{}, []string{}
		}, "chunk_size 9223372036854775807 is above the 268435456 maximum"},
		// Allowed by the old check: a 256 MiB buffer for a few KiB.
		{"chunk_size just above the maximum", func(m *manifest) {
			m.Meta.ChunkSize, m.State, m.Etcd = MaxChunkSize+1, m.State[:1], m.Etcd[:1]
		}, "chunk_size 268435457 is above the 268435456 maximum"},
		{"zero chunk_size", func(m *manifest) { m.Meta.ChunkSize = 0 }, "chunk_size 0 is not positive"},
		{"negative state_size", func(m *manifest) { m.Meta.StateSize = -1 }, "state_size -1 is negative"},
		{"negative etcd_size", func(m *manifest) { m.Meta.EtcdSize = -1 << 62 }, "etcd_size -4611686018427387904 is negative"},
		{"state_size one chunk more than listed", func(m *manifest) { m.Meta.StateSize += testChunk },
			"4 state chunks listed for state_size 270336"},
		{"state_size near the int64 maximum", func(m *manifest) { m.Meta.StateSize = math.MaxInt64 },
			"4 state chunks listed for state_size 9223372036854775807 in chunks of 65536"},
		{"etcd_size with a chunk fewer listed", func(m *manifest) { m.Etcd = m.Etcd[:1] },
			"1 etcd chunks listed for etcd_size 102400"},
	} {
		t.Run(c.name, func(t *testing.T) {
			index := uint64(1200 + i)
			newVersion(index, 200<<10, 100<<10).put(t, f)
			path := filepath.Join(f.dir, versionDir(index), fileManifest)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var m manifest
			if err := json.Unmarshal(data, &m); err != nil {
				t.Fatal(err)
			}
			c.edit(&m)
			if data, err = json.Marshal(m); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, data, 0o640); err != nil {
				t.Fatal(err)
			}
			refusedRecord(t, f, index, fileManifest, c.want)
			if got := listIndexes(t, f); len(got) == 0 || got[len(got)-1] != 10 {
				t.Errorf("List: %v, want the good version 10 still listed", got)
			}
		})
	}
}

// TestFileHugeManifestIsNotRead: manifest.json is read whole, so one above
// maxManifestSize is refused without reading it.
func TestFileHugeManifestIsNotRead(t *testing.T) {
	f, err := OpenFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	newVersion(1300, 1<<10, 1<<10).put(t, f)
	// Sparse: no disk space, but a reader of the whole file allocates it.
	if err := os.Truncate(filepath.Join(f.dir, versionDir(1300), fileManifest), maxManifestSize+1); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	got := listIndexes(t, f)
	runtime.ReadMemStats(&after)
	if len(got) != 0 {
		t.Errorf("List: %v", got)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("List allocated %d bytes: it read the manifest", grew)
	}
	refusedRecord(t, f, 1300, fileManifest, fmt.Sprintf("%d bytes, above the %d maximum", maxManifestSize+1, maxManifestSize))
}

// TestFileStreamLongerThanRecordedIsRefused: a stream file with bytes past
// the size its manifest records (its last chunk longer than recorded, or
// more chunks) is corrupt: the reader would hand out a stream that is not
// the file an operator copies.
func TestFileStreamLongerThanRecordedIsRefused(t *testing.T) {
	f, err := OpenFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	v := newVersion(1400, 200<<10, 100<<10)
	v.put(t, f)
	file, err := os.OpenFile(filepath.Join(f.dir, versionDir(1400), fileState), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := file.Write([]byte("trailing")); err != nil {
		t.Fatal(err)
	}
	file.Close()
	got, err := readAll(t, f.OpenState, 1400)
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Stream != StreamState || !strings.Contains(err.Error(), "index 1400") ||
		!strings.Contains(err.Error(), "the file is 204808 bytes, longer than the 204800 the manifest records") {
		t.Errorf("OpenState: %d bytes, %v; want a CorruptError naming the lengths", len(got), err)
	}
	if got, err := readAll(t, f.OpenEtcd, 1400); err != nil || !bytes.Equal(got, v.etcd) {
		t.Errorf("OpenEtcd: %d bytes, %v", len(got), err)
	}
}
