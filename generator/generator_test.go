package generator

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/br2k/br2k/annotations"
	"github.com/br2k/br2k/internal/testmod"
	rlog "github.com/br2k/br2k/runtime/log"
)

var update = flag.Bool("update", false, "rewrite the golden files (testdata/gen/*/br2k_gen.golden, testdata/errors/*/want.txt) with the current output; the examples' golden files are their br2k_gen.go, which go generate rewrites")

// cases returns the case directories under testdata/<kind>.
func cases(t *testing.T, kind string) []string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(testmod.Root(t), "testdata", kind, "*"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no cases in testdata/%s: %v", kind, err)
	}
	return dirs
}

// diagLines formats a generator error as the lines a user sees, with file
// base names so that expectations do not depend on where the repository is.
func diagLines(t *testing.T, err error) []string {
	t.Helper()
	var list annotations.List
	if !errors.As(err, &list) {
		t.Fatalf("error is %T, want annotations.List: %v", err, err)
	}
	lines := make([]string, len(list))
	for i, d := range list {
		d := *d
		d.Pos.Filename = filepath.Base(d.Pos.Filename)
		lines[i] = d.Error()
	}
	return lines
}

// golden compares got with the file at path, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./generator -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (run go test ./generator -update and review the diff):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff shows the first differing lines, enough to see what changed.
func lineDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(w), len(g)); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + itoa(i+1) + ":\n-" + a + "\n+" + b
		}
	}
	return "(same lines)"
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func TestGoldenOutputs(t *testing.T) {
	for _, dir := range cases(t, "gen") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			res, err := Generate(dir)
			if err != nil {
				t.Fatalf("Generate: %v", err)
			}
			golden(t, filepath.Join(dir, "br2k_gen.golden"), res.Code)
		})
	}
}

func TestDiagnostics(t *testing.T) {
	for _, dir := range cases(t, "errors") {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			t.Parallel()
			res, err := Generate(dir)
			if err == nil {
				t.Fatalf("Generate succeeded with %d bytes; want diagnostics", len(res.Code))
			}
			got := strings.Join(diagLines(t, err), "\n") + "\n"
			golden(t, filepath.Join(dir, "want.txt"), []byte(got))
		})
	}
}

func TestGeneratingTwiceGivesIdenticalBytes(t *testing.T) {
	dir := filepath.Join(testmod.Root(t), "testdata", "gen", "deep")
	pkg, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	first, err := FromPackage(pkg)
	if err != nil {
		t.Fatal(err)
	}
	// Same loaded package again: nothing may depend on map order.
	for i := 0; i < 5; i++ {
		again, err := FromPackage(pkg)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first.Code, again.Code) {
			t.Fatalf("run %d differs:\n%s", i+2, lineDiff(string(first.Code), string(again.Code)))
		}
	}
	// A fresh load: nothing may depend on the loader's state either.
	fresh, err := Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first.Code, fresh.Code) {
		t.Fatalf("a second load differs:\n%s", lineDiff(string(first.Code), string(fresh.Code)))
	}
}

// TestCommittedExamplesAreCurrent checks each example's br2k_gen.go, which
// is the golden file of the example (TestGeneratedCodeCompilesAndRuns
// generates it again in another module and runs it).
func TestCommittedExamplesAreCurrent(t *testing.T) {
	for _, dir := range examples(t) {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			res, err := Generate(dir)
			if err != nil {
				t.Fatal(err)
			}
			ok, err := res.Current()
			if err != nil {
				t.Fatal(err)
			}
			if !ok {
				old, _ := os.ReadFile(res.Path)
				t.Errorf("%s is stale; run go generate ./example/%s:\n%s", res.Path, filepath.Base(dir), lineDiff(string(old), string(res.Code)))
			}
		})
	}
}

func TestWriteSkipsUnchangedFiles(t *testing.T) {
	dir := testmod.New(t, "example.com/write")
	testmod.CopyGoFiles(t, filepath.Join(testmod.Root(t), "testdata", "gen", "directory"), dir)
	res, err := Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if wrote, err := res.Write(); err != nil || !wrote {
		t.Fatalf("first Write = %v, %v; want true, nil", wrote, err)
	}
	past := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(res.Path, past, past); err != nil {
		t.Fatal(err)
	}
	if wrote, err := res.Write(); err != nil || wrote {
		t.Fatalf("second Write = %v, %v; want false, nil", wrote, err)
	}
	if fi, err := os.Stat(res.Path); err != nil || !fi.ModTime().Equal(past) {
		t.Fatalf("unchanged file was touched: %v %v", fi.ModTime(), err)
	}
	// The generated file is excluded from loading (br2kgen build tag), so a
	// stale one that no longer compiles does not stop the next run from
	// repairing it.
	stale := Header + "\n\n//go:build !" + BuildTag + "\n\npackage directory\n\nvar _ = (*Directory).RemovedHandler\n"
	if err := os.WriteFile(res.Path, []byte(stale), 0o644); err != nil {
		t.Fatal(err)
	}
	again, err := Generate(dir)
	if err != nil {
		t.Fatalf("Generate with a broken br2k_gen.go: %v", err)
	}
	if ok, _ := again.Current(); ok {
		t.Fatal("a broken file reported current")
	}
	if wrote, err := again.Write(); err != nil || !wrote {
		t.Fatalf("repairing Write = %v, %v", wrote, err)
	}
	if ok, _ := again.Current(); !ok {
		t.Fatal("not current after Write")
	}
}

func TestGeneratedFileHeader(t *testing.T) {
	res, err := Generate(filepath.Join(testmod.Root(t), "testdata", "gen", "directory"))
	if err != nil {
		t.Fatal(err)
	}
	want := Header + "\n\n//go:build !" + BuildTag + "\n\npackage directory\n"
	if !bytes.HasPrefix(res.Code, []byte(want)) {
		t.Errorf("file starts\n%s\nwant\n%s", res.Code[:len(want)], want)
	}
	// An onlyonce-only service needs no rollback copy.
	if bytes.Contains(res.Code, []byte("br2kCopy")) {
		t.Errorf("onlyonce-only service has copy functions")
	}
}

func TestTheMaxbodyLimitIsOneLogEntry(t *testing.T) {
	if annotations.MaxBodyLimit != rlog.MaxAppendBytes {
		t.Fatalf("annotations.MaxBodyLimit = %d, runtime/log.MaxAppendBytes = %d: a route could accept a body no log entry holds", annotations.MaxBodyLimit, rlog.MaxAppendBytes)
	}
}
