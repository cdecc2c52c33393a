package pagecache

import (
	"os"

	"golang.org/x/sys/unix"
)

func drop(f *os.File, off, n int64) {
	_ = unix.Fadvise(int(f.Fd()), off, n, unix.FADV_DONTNEED)
}
