package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"go/format"
	"go/token"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"golang.org/x/mod/modfile"
	"golang.org/x/mod/module"

	"github.com/br2k/br2k/templates"
)

// initCmd scaffolds a new service.
func initCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("br2kgen init", flag.ContinueOnError)
	fs.SetOutput(stderr)
	modPath := fs.String("module", "", "make dir a new module with this `path` (default: dir is inside an existing module)")
	name := fs.String("name", "", "the state type's `Name` (default: the directory name, capitalised)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: br2kgen init [-module path] [-name Name] dir")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2 // flag has printed which flag is wrong
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(stderr, "br2kgen init: want one directory, got %d arguments\n", fs.NArg())
		fs.Usage()
		return 2
	}
	files, err := scaffold(fs.Arg(0), *modPath, *name)
	if err != nil {
		fmt.Fprintf(stderr, "br2kgen init: %v\n", err)
		return 1
	}
	for _, f := range files {
		fmt.Fprintf(stdout, "created %s\n", rel(f))
	}
	// The scaffold imports packages the module does not require yet: go
	// generate refuses to run until go.mod has them, and the generated
	// file imports more. The same sequence as the README's.
	run := "."
	for _, f := range files {
		if filepath.Base(f) == "main.go" {
			run = rel(filepath.Dir(f))
		}
	}
	if !filepath.IsAbs(run) {
		run = "./" + filepath.ToSlash(run)
	}
	fmt.Fprintf(stdout, "next, from the module's root: go mod tidy && go generate ./... && go mod tidy && go run %s dev\n", run)
	return 0
}

// scaffold writes the files of a new service in dir and returns their paths.
func scaffold(dir, modPath, name string) ([]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(abs); err == nil && len(entries) > 0 {
		return nil, fmt.Errorf("%s exists and is not empty", dir)
	}
	pkg := packageName(filepath.Base(abs))
	if pkg == "" {
		return nil, fmt.Errorf("cannot make a Go package name of directory name %q; use letters and digits", filepath.Base(abs))
	}
	if name == "" {
		name = strings.ToUpper(pkg[:1]) + pkg[1:]
	}
	switch {
	case !token.IsIdentifier(name) || !token.IsExported(name):
		return nil, fmt.Errorf("-name: %q is not an exported Go identifier", name)
	case name == "Service" || name == "NewService" || name == "New":
		return nil, fmt.Errorf("-name: %s is a name the service package already uses; choose another", name)
	}
	var secret [24]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, err
	}
	data := templates.Scaffold{Package: pkg, Name: name, ID: pkg, GoVersion: goVersion(), PeerSecret: hex.EncodeToString(secret[:])}
	if modPath != "" {
		if err := module.CheckPath(modPath); err != nil {
			return nil, fmt.Errorf("-module: %v", err)
		}
		data.Module, data.ImportPath = modPath, modPath
	} else {
		root, mod, err := enclosingModule(filepath.Dir(abs))
		if err != nil {
			return nil, err
		}
		r, err := filepath.Rel(root, abs)
		if err != nil {
			return nil, err
		}
		data.Module, data.ImportPath = mod, mod+"/"+filepath.ToSlash(r)
	}

	type file struct{ tmpl, path string }
	plan := []file{
		{"service.go.tmpl", filepath.Join(abs, pkg+".go")},
		{"main.go.tmpl", filepath.Join(abs, "cmd", pkg, "main.go")},
		{"config.sample.json", filepath.Join(abs, "config.json")},
	}
	if modPath != "" {
		plan = append(plan, file{"go.mod.tmpl", filepath.Join(abs, "go.mod")})
	}
	var written []string
	for _, f := range plan {
		out, err := templates.Render(f.tmpl, data)
		if err != nil {
			return nil, err
		}
		if strings.HasSuffix(f.path, ".go") {
			if out, err = format.Source(out); err != nil {
				return nil, fmt.Errorf("template %s: %v", f.tmpl, err) // a template bug
			}
		}
		if err := os.MkdirAll(filepath.Dir(f.path), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(f.path, out, 0o644); err != nil {
			return nil, err
		}
		written = append(written, f.path)
	}
	return written, nil
}

// packageName makes a package name of a directory name: lower case letters
// and digits, starting with a letter.
func packageName(base string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(base) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' && b.Len() > 0 {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if token.IsKeyword(s) || s == "main" {
		return ""
	}
	return s
}

// enclosingModule finds the go.mod at or above dir and returns its directory
// and module path.
func enclosingModule(dir string) (root, path string, err error) {
	for d := dir; ; d = filepath.Dir(d) {
		data, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if err == nil {
			p := modfile.ModulePath(data)
			if p == "" {
				return "", "", fmt.Errorf("%s has no module line", filepath.Join(d, "go.mod"))
			}
			return d, p, nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return "", "", err
		}
		if filepath.Dir(d) == d {
			return "", "", errors.New("-module: the directory is not inside a Go module; give the new module's path with -module")
		}
	}
}

// goVersion is the go directive for a new go.mod: the language version of
// the toolchain that built br2kgen ("1.26").
func goVersion() string {
	v := strings.TrimPrefix(goruntime.Version(), "go")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return "1.26"
	}
	return parts[0] + "." + strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' })
}
