package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// stateLockName is the file in state-config.state-path that the replica
// using the directory holds locked.
const stateLockName = "LOCK"

// lockStatePath makes sure, at start, that state-path can hold this
// replica's state versions, and that no other running replica uses it:
// without versions there is no compaction and no backup, which would
// otherwise show only as an error after version-up-size entries; and two
// replicas writing versions into one directory would load each other's.
// It creates dir, takes an exclusive lock on its LOCK file (held until the
// returned release; the system drops it if the process dies) and writes
// the process id there for the error another replica gets.
func lockStatePath(dir string) (release func(), err error) {
	const key = "state-config.state-path"
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	f, err := os.OpenFile(filepath.Join(dir, stateLockName), os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("%s: %s is not writable: %w", key, dir, err)
	}
	if err := lockFile(f); err != nil {
		f.Close()
		if errors.Is(err, errLocked) {
			holder, _ := os.ReadFile(filepath.Join(dir, stateLockName))
			return nil, fmt.Errorf("%s: %s is in use by another running replica (process %s); give each replica a directory of its own",
				key, dir, strings.TrimSpace(string(holder)))
		}
		return nil, fmt.Errorf("%s: lock %s: %w", key, dir, err)
	}
	if err := f.Truncate(0); err == nil {
		f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return func() { f.Close() }, nil // closing the file drops the lock
}

// errLocked is lockFile's error for a file another open file holds locked.
var errLocked = errors.New("locked")
