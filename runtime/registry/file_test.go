package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func rec(index uint64) Record {
	return Record{
		Start: time.Unix(int64(index), 0).UTC(), End: time.Unix(int64(index)+1, 0).UTC(),
		Version: index, Index: index, Members: []string{"r1", "r2", "r3"}, AliveMembers: []string{"r1", "r2"},
		ServiceStateSize: 100, ServiceStateSHA256: strings.Repeat("a", 64), StateDigest: strings.Repeat("b", 64),
		Storage: Storage{Type: "mysql", Host: "127.0.0.1:3306", Database: "backup", BackupAccessKey: fmt.Sprint("key", index)},
		Subject: "r1",
	}
}

func indices(recs []Record) []uint64 {
	var out []uint64
	for _, r := range recs {
		out = append(out, r.Index)
	}
	return out
}

func TestTheFileRegistryKeepsRecordsNewestFirst(t *testing.T) {
	ctx := context.Background()
	f, err := OpenFile(filepath.Join(t.TempDir(), "sub", "registry.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := f.Latest(ctx, 3); err != nil || len(got) != 0 {
		t.Fatalf("empty registry: %v, %v", got, err)
	}
	for _, i := range []uint64{10, 20, 30} {
		if err := f.Record(ctx, rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	// A retry of the newest is a no-op; an older index is refused.
	if err := f.Record(ctx, rec(30)); err != nil {
		t.Fatalf("retry: %v", err)
	}
	if err := f.Record(ctx, rec(15)); !errors.Is(err, ErrOutOfOrder) {
		t.Fatalf("older record: %v, want ErrOutOfOrder", err)
	}
	got, err := f.Latest(ctx, 2)
	if err != nil || fmt.Sprint(indices(got)) != "[30 20]" {
		t.Fatalf("latest 2: %v, %v", indices(got), err)
	}
	if got[0].Storage.BackupAccessKey != "key30" || got[0].Members[2] != "r3" || !got[0].End.Equal(time.Unix(31, 0)) {
		t.Fatalf("record read back: %+v", got[0])
	}
	// No password field exists to leak; the JSON has br2k-was's keys.
	data, _ := os.ReadFile(f.Path())
	for _, key := range []string{`"alive-members"`, `"etcd-snapshot-size"`, `"service-state-size"`, `"backup-access-key"`, `"subject"`} {
		if !strings.Contains(string(data), key) {
			t.Errorf("file lacks key %s", key)
		}
	}
	if strings.Contains(string(data), "password") {
		t.Error("a record mentions a password")
	}
	if err := f.Record(ctx, Record{Index: 40}); err == nil {
		t.Error("a record without storage key or SHA-256 was accepted")
	}
}

func TestATornLastLineIsSkippedAndClosedOff(t *testing.T) {
	ctx := context.Background()
	f, _ := OpenFile(filepath.Join(t.TempDir(), "registry.jsonl"))
	if err := f.Record(ctx, rec(1)); err != nil {
		t.Fatal(err)
	}
	// A crash in the middle of the second append.
	file, _ := os.OpenFile(f.Path(), os.O_WRONLY|os.O_APPEND, 0)
	file.WriteString(`{"index":2,"start":"2026-`)
	file.Close()
	if got, _ := f.Latest(ctx, 5); fmt.Sprint(indices(got)) != "[1]" {
		t.Fatalf("with a torn line: %v", indices(got))
	}
	if err := f.Record(ctx, rec(3)); err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Latest(ctx, 5); fmt.Sprint(indices(got)) != "[3 1]" {
		t.Fatalf("after the next append: %v", indices(got))
	}
}

func TestTheFileRegistryReadsOnlyItsTailAndTrims(t *testing.T) {
	ctx := context.Background()
	defer func(b int64) { trimBytes = b }(trimBytes)
	line, _ := json.Marshal(rec(1))
	trimBytes = int64(len(line)+1) * (keepRecords + 200)
	f, _ := OpenFile(filepath.Join(t.TempDir(), "registry.jsonl"))
	// Enough records to cross several read blocks and the trim size once.
	n := uint64(keepRecords + 250)
	for i := uint64(1); i <= n; i++ {
		if err := f.Record(ctx, rec(i)); err != nil {
			t.Fatal(err)
		}
	}
	got, err := f.Latest(ctx, 400)
	if err != nil || len(got) != 400 || got[0].Index != n || got[399].Index != n-399 {
		t.Fatalf("latest 400 of %d: %d records, err %v", n, len(got), err)
	}
	all, _ := f.Latest(ctx, int(n))
	if len(all) < keepRecords || len(all) > keepRecords+100 || all[0].Index != n {
		t.Fatalf("after trimming the file holds %d records (newest %d), want about %d (newest %d)", len(all), all[0].Index, keepRecords, n)
	}
}

func TestTheFileRegistryKeepsTheNewestLeaderLocation(t *testing.T) {
	ctx := context.Background()
	f, _ := OpenFile(filepath.Join(t.TempDir(), "registry.jsonl"))
	if term, url, err := f.Leader(ctx); err != nil || term != 0 || url != "" {
		t.Fatalf("no leader yet: %d %q %v", term, url, err)
	}
	for _, step := range []struct {
		term uint64
		url  string
		err  error
	}{{5, "http://r1", nil}, {5, "http://r1b", nil}, {7, "http://r2", nil}, {6, "http://r1", ErrStaleTerm}} {
		if err := f.SetLeader(ctx, step.term, step.url); !errors.Is(err, step.err) {
			t.Fatalf("SetLeader(%d, %s) = %v, want %v", step.term, step.url, err, step.err)
		}
	}
	if term, url, err := f.Leader(ctx); err != nil || term != 7 || url != "http://r2" {
		t.Fatalf("leader: %d %q %v, want 7 http://r2", term, url, err)
	}
}
