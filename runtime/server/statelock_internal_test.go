package server

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestAStatePathIsCheckedAtStartAndHeldByOneReplica(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state", "r1")
	release, err := lockStatePath(dir)
	if err != nil {
		t.Fatal(err)
	}
	// A second replica, in this process or another, is refused, told who
	// holds the directory.
	if _, err := lockStatePath(dir); err == nil {
		t.Fatal("a second replica locked a state-path in use")
	} else if !strings.Contains(err.Error(), "state-config.state-path") || !strings.Contains(err.Error(), "in use by another running replica (process "+strconv.Itoa(os.Getpid())+")") {
		t.Fatalf("second lock: %v", err)
	}
	release()
	release, err = lockStatePath(dir)
	if err != nil {
		t.Fatalf("after the first replica stopped: %v", err)
	}
	release()

	// A path that cannot be a directory is refused with the key.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := lockStatePath(filepath.Join(file, "state")); err == nil || !strings.HasPrefix(err.Error(), "state-config.state-path: ") {
		t.Fatalf("a state-path under a file: %v", err)
	}
	if os.Geteuid() != 0 { // root writes anywhere
		ro := filepath.Join(t.TempDir(), "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		if _, err := lockStatePath(ro); err == nil || !strings.Contains(err.Error(), "is not writable") {
			t.Fatalf("a read-only state-path: %v", err)
		}
	}
}
