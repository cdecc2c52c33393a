//go:build !linux

package hugepages

import (
	"context"
	"log/slog"
	"time"
)

// Keep does nothing: transparent huge pages are a Linux feature (see
// hugepages_linux.go).
func Keep(context.Context, string, time.Duration, *slog.Logger) {}

// Mode is "": no transparent huge pages outside Linux.
func Mode() string { return "" }
