//go:build !linux

package hugepages

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Keep does nothing: transparent huge pages are a Linux feature (see
// hugepages_linux.go).
func Keep(context.Context, string, time.Duration, *slog.Logger) {}

// Mode is "": no transparent huge pages outside Linux.
func Mode() string { return "" }

// Resident fails: it reads Linux's /proc (see hugepages_linux.go).
func Resident(int) (rssKiB, hugeKiB int64, err error) {
	return 0, 0, errors.New("resident memory is read on Linux only")
}
