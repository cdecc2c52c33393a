// Package testmod makes throwaway Go modules that use this repository through
// a replace directive, so tests can build generated code the way a user's
// module would (abigen's TestBindings does the same).
package testmod

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// ModulePath is this repository's module path.
const ModulePath = "github.com/br2k/br2k"

// Root returns the repository root: the nearest directory at or above the
// working directory whose go.mod declares ModulePath.
func Root(t testing.TB) string {
	t.Helper()
	dir, err := FindRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// FindRoot is Root for callers without a testing.TB.
func FindRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module "+ModulePath+"\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s above the working directory", ModulePath)
		}
		dir = parent
	}
}

var moduleLine = regexp.MustCompile(`(?m)^module .*$`)

// New creates a module named name in a new temporary directory and returns
// the directory. Its go.mod is the repository's with the module line
// replaced, a requirement on the repository and a replace directive to it,
// and its go.sum is the repository's: every dependency the repository has is
// available from the module cache the repository's own build filled.
func New(t testing.TB, name string) string {
	t.Helper()
	root := Root(t)
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	mod := moduleLine.ReplaceAllString(string(gomod), "module "+name)
	mod += "\nrequire " + ModulePath + " v0.0.0-00010101000000-000000000000\n\nreplace " + ModulePath + " => " + root + "\n"
	dir := t.TempDir()
	WriteFile(t, filepath.Join(dir, "go.mod"), mod)
	if sum, err := os.ReadFile(filepath.Join(root, "go.sum")); err == nil {
		WriteFile(t, filepath.Join(dir, "go.sum"), string(sum))
	}
	return dir
}

// WriteFile writes a file, creating its directory.
func WriteFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// CopyGoFiles copies the .go files of src into dst.
func CopyGoFiles(t testing.TB, src, dst string) {
	t.Helper()
	matches, err := filepath.Glob(filepath.Join(src, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range matches {
		data, err := os.ReadFile(m)
		if err != nil {
			t.Fatal(err)
		}
		WriteFile(t, filepath.Join(dst, filepath.Base(m)), string(data))
	}
}

// Go runs the go command in dir, outside any workspace, and returns its
// combined output. It fails the test if the command fails. -mod=mod lets the
// go command complete the throwaway go.mod if the repository's needs more.
func Go(t testing.TB, dir string, args ...string) string {
	t.Helper()
	out, err := GoErr(dir, args...)
	if err != nil {
		t.Fatalf("go %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return out
}

// GoErr is Go for a command that may fail: it returns the output and the
// error.
func GoErr(dir string, args ...string) (string, error) {
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	out, err := cmd.CombinedOutput()
	return string(out), err
}
