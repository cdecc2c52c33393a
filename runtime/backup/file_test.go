package backup

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
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
