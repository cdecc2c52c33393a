// Command br2kgen generates the br2k wiring of a Go package and scaffolds
// new services.
//
// Usage:
//
//	br2kgen [dir]
//	    Generate br2k_gen.go for the package in dir (default: the current
//	    directory, which is where go generate runs it). The file is written
//	    only if its content changes.
//
//	br2kgen check [dir ...]
//	    Check the packages and report a br2k_gen.go that is missing or not
//	    what br2kgen would write, without writing anything. For CI.
//
//	br2kgen init [-module path] [-name Name] dir
//	    Scaffold a new service in dir: a service package with a state type
//	    and two handlers, a command that runs a replica of it, and a sample
//	    config.json. With -module, dir becomes a new module of that path;
//	    without it, dir must be inside an existing module.
//
// Problems are printed to standard error vet-style, one per line
// (file:line:col: BR2Knnn: message), and the exit status is 1.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/br2k/br2k/annotations"
	"github.com/br2k/br2k/generator"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usageText = `usage:
  br2kgen [dir]                                  generate br2k_gen.go for the package in dir
  br2kgen check [dir ...]                        report problems and stale br2k_gen.go files
  br2kgen init [-module path] [-name Name] dir   scaffold a new service in dir
`

// run is the command with its arguments and outputs, for tests. It returns
// the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "check":
			return check(args[1:], stderr)
		case "init":
			return initCmd(args[1:], stdout, stderr)
		case "help", "-h", "-help", "--help":
			fmt.Fprint(stdout, usageText)
			return 0
		}
		if strings.HasPrefix(args[0], "-") {
			fmt.Fprintf(stderr, "br2kgen: unknown flag %s\n%s", args[0], usageText)
			return 2
		}
	}
	if len(args) > 1 {
		fmt.Fprintf(stderr, "br2kgen: want at most one directory, got %d arguments\n%s", len(args), usageText)
		return 2
	}
	dir := "."
	if len(args) == 1 {
		dir = args[0]
	}
	res, err := generator.Generate(dir)
	if err != nil {
		report(stderr, err)
		return 1
	}
	if _, err := res.Write(); err != nil {
		fmt.Fprintf(stderr, "br2kgen: %v\n", err)
		return 1
	}
	for _, n := range res.Notes {
		fmt.Fprintf(stderr, "br2kgen: note: %s\n", n)
	}
	return 0
}

// check generates each package in memory and compares with the file on disk.
func check(dirs []string, stderr io.Writer) int {
	if len(dirs) == 0 {
		dirs = []string{"."}
	}
	status := 0
	for _, dir := range dirs {
		if strings.HasPrefix(dir, "-") {
			fmt.Fprintf(stderr, "br2kgen check: unknown flag %s\n%s", dir, usageText)
			return 2
		}
		res, err := generator.Generate(dir)
		if err != nil {
			report(stderr, err)
			status = 1
			continue
		}
		current, err := res.Current()
		switch {
		case err != nil:
			fmt.Fprintf(stderr, "br2kgen: %v\n", err)
			status = 1
		case !current:
			what := "is stale (differs from what br2kgen generates)"
			if _, err := os.Stat(res.Path); errors.Is(err, os.ErrNotExist) {
				what = "is missing"
			}
			fmt.Fprintf(stderr, "%s: %s; run go generate in %s\n", rel(res.Path), what, rel(res.Dir))
			status = 1
		}
	}
	return status
}

// report prints an error; diagnostics one per line, with file names
// relative to the working directory as go vet prints them.
func report(w io.Writer, err error) {
	var list annotations.List
	if !errors.As(err, &list) {
		fmt.Fprintf(w, "br2kgen: %v\n", err)
		return
	}
	for _, d := range list {
		d := *d
		d.Pos.Filename = rel(d.Pos.Filename)
		fmt.Fprintln(w, d.Error())
	}
}

// rel returns path relative to the working directory when it is below it.
func rel(path string) string {
	wd, err := os.Getwd()
	if err != nil || !filepath.IsAbs(path) {
		return path
	}
	r, err := filepath.Rel(wd, path)
	if err != nil || r == ".." || strings.HasPrefix(r, ".."+string(filepath.Separator)) {
		return path
	}
	return r
}
