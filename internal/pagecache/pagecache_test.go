package pagecache

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDropKeepsTheFile: dropping the cached pages of a synced file loses
// none of its bytes (they are read back from the disk).
func TestDropKeepsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	want := make([]byte, 3<<20)
	for i := range want {
		want[i] = byte(i * 7)
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(want); err != nil {
		t.Fatal(err)
	}
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	Drop(f, 0, 1<<20)
	Drop(f, 1<<20, 0)
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatal("the file changed after its pages were dropped")
	}
}
