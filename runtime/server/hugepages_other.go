//go:build !linux

package server

import (
	"context"
	"log/slog"
	"time"
)

// keepHeapHugePages does nothing: transparent huge pages are a Linux
// feature (see hugepages_linux.go).
func keepHeapHugePages(context.Context, string, time.Duration, *slog.Logger) {}
