package replica

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestTheLogGrowsWarningDoesNotWaitForTheNextUploadTry: uploads back off up
// to maxUploadBackoff after failures; the warning that the log keeps
// entries compaction would have deleted comes at the first look past
// backupLagWarn versions' worth, between tries too, and only once.
func TestTheLogGrowsWarningDoesNotWaitForTheNextUploadTry(t *testing.T) {
	var logs bytes.Buffer
	r := &Replica{
		opts:      Options{VersionUpSize: 20},
		logger:    slog.New(slog.NewTextHandler(&logs, nil)),
		backupLog: logLimit{period: time.Hour},
	}
	r.storedIndex.Store(100)
	// An upload failed just now and was logged; the next try is far off.
	r.uploadFailures, r.uploadRetryAt, r.uploadErr = 3, time.Now().Add(time.Hour), errors.New("connection refused")
	r.backupLog.allow()

	look := func(index uint64) string {
		logs.Reset()
		if stored, ok := r.storedVersion(context.Background(), []agreedVersion{{index: index}}, nil); !ok || stored != 100 {
			t.Fatalf("at %d: stored %d, ok %v; want 100, true", index, stored, ok)
		}
		return logs.String()
	}
	if got := look(180); got != "" { // 4 versions' worth: not yet
		t.Errorf("at 4 versions' worth above the stored one it logged:\n%s", got)
	}
	got := look(200)
	if !strings.Contains(got, "compaction waits for a stored version: the log keeps 100 entries") || !strings.Contains(got, "connection refused") {
		t.Errorf("past 4 versions' worth, between upload tries, it did not warn with the cause and the lag:\n%q", got)
	}
	if got := look(220); got != "" {
		t.Errorf("it warned twice within the period:\n%s", got)
	}
}
