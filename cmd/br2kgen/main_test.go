package main

import (
	"bufio"
	"bytes"
	"fmt"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/modfile"

	"github.com/br2k/br2k/generator"
	"github.com/br2k/br2k/internal/testmod"
)

// runCmd runs the command in-process.
func runCmd(args ...string) (status int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	status = run(args, &out, &errOut)
	return status, out.String(), errOut.String()
}

func TestGenerateThenCheck(t *testing.T) {
	dir := testmod.New(t, "example.com/cmdtest")
	pkg := filepath.Join(dir, "ledger")
	testmod.CopyGoFiles(t, filepath.Join(testmod.Root(t), "example", "ledger"), pkg)
	// The example's source, without its generated file.
	if err := os.Remove(filepath.Join(pkg, generator.FileName)); err != nil {
		t.Fatal(err)
	}

	if status, _, stderr := runCmd("check", pkg); status != 1 || !strings.Contains(stderr, "br2k_gen.go: is missing; run go generate in ") {
		t.Errorf("check before generating: %d %q", status, stderr)
	}
	// Generating succeeds with a note naming the handlers without undo
	// hooks and what they cost. Every replicated handler of the example
	// has hooks: take RequestMint's away.
	src := filepath.Join(pkg, "ledger.go")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	noHooks := strings.NewReplacer("//br2k:backup RequestMint", "// no hook", "//br2k:rollback RequestMint", "// no hook").Replace(string(data))
	if noHooks == string(data) {
		t.Fatal("the example has no hooks for RequestMint")
	}
	testmod.WriteFile(t, src, noHooks)
	if status, stdout, stderr := runCmd(pkg); status != 0 || stdout != "" ||
		stderr != "br2kgen: note: Ledger: replicated handlers without //br2k:backup and //br2k:rollback hooks: RequestMint; "+
			"in state-mode rollback (the default) every batch of entries that runs one copies the whole state first, which costs time in proportion to the state's size; hooks make it cost what the call touches\n" {
		t.Fatalf("generate: %d %q %q", status, stdout, stderr)
	}
	if status, _, stderr := runCmd("check", pkg); status != 0 || stderr != "" {
		t.Errorf("check after generating: %d %q", status, stderr)
	}
	// Rename a handler: the committed file no longer matches.
	testmod.WriteFile(t, src, strings.ReplaceAll(noHooks, "Balance(ctx", "Lookup(ctx"))
	if status, _, stderr := runCmd("check", pkg); status != 1 || !strings.Contains(stderr, "br2k_gen.go: is stale") {
		t.Errorf("check after an edit: %d %q", status, stderr)
	}
	// go generate runs in the package directory with no argument.
	t.Chdir(pkg)
	if status, _, stderr := runCmd(); status != 0 {
		t.Fatalf("generate in the working directory: %d %q", status, stderr)
	}
	if status, _, stderr := runCmd("check"); status != 0 {
		t.Errorf("check in the working directory: %d %q", status, stderr)
	}
	gen, _ := os.ReadFile(filepath.Join(pkg, generator.FileName))
	if !bytes.Contains(gen, []byte("(*Ledger).Lookup")) {
		t.Error("regenerated file does not have the renamed handler")
	}
	testmod.Go(t, dir, "build", "./ledger")

	// A field added to a state type without go generate is a compile
	// error (the file's field guard), not a field that snapshots silently
	// leave out.
	regenerated, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	withVenue := strings.Replace(string(regenerated), "\tBalance uint64 ", "\tVenue   string\n\tBalance uint64 ", 1)
	if withVenue == string(regenerated) {
		t.Fatal("Account has no Balance field to add one before")
	}
	testmod.WriteFile(t, src, withVenue)
	out, err := testmod.GoErr(dir, "build", "./ledger")
	if err == nil || !strings.Contains(out, generator.FileName) || !strings.Contains(out, "too few values in struct literal of type Account") {
		t.Fatalf("build with a field added after go generate: %v\n%s", err, out)
	}
}

func TestDiagnosticsAreVetStyleRelativeToTheWorkingDirectory(t *testing.T) {
	root := testmod.Root(t)
	t.Chdir(root)
	status, stdout, stderr := runCmd("testdata/errors/grammar")
	if status != 1 || stdout != "" {
		t.Fatalf("status %d, stdout %q", status, stdout)
	}
	want, err := os.ReadFile(filepath.Join(root, "testdata", "errors", "grammar", "want.txt"))
	if err != nil {
		t.Fatal(err)
	}
	wantText := strings.ReplaceAll(string(want), "ledger.go:", "testdata/errors/grammar/ledger.go:")
	if stderr != wantText {
		t.Errorf("stderr:\n%s\nwant:\n%s", stderr, wantText)
	}
	// check reports the same problems.
	if status, _, stderr := runCmd("check", "testdata/errors/grammar"); status != 1 || stderr != wantText {
		t.Errorf("check: %d\n%s", status, stderr)
	}
}

func TestReadSectionDiagnosticsHaveAHintLine(t *testing.T) {
	root := testmod.Root(t)
	t.Chdir(root)
	for _, c := range []string{"state_outside_read", "io_inside_read"} {
		dir := "testdata/errors/" + c
		want, err := os.ReadFile(filepath.Join(root, dir, "want.txt"))
		if err != nil {
			t.Fatal(err)
		}
		wantText := strings.ReplaceAll(string(want), "ledger.go:", dir+"/ledger.go:")
		if !strings.Contains(wantText, "\n\t") {
			t.Fatalf("%s/want.txt has no hint line", dir)
		}
		for _, args := range [][]string{{dir}, {"check", dir}} {
			if status, _, stderr := runCmd(args...); status != 1 || stderr != wantText {
				t.Errorf("br2kgen %s: %d\n%s\nwant:\n%s", strings.Join(args, " "), status, stderr, wantText)
			}
		}
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args   []string
		status int
		stderr string // substring
	}{
		{[]string{"-x"}, 2, "br2kgen: unknown flag -x"},
		{[]string{"a", "b"}, 2, "want at most one directory, got 2 arguments"},
		{[]string{"check", "-v"}, 2, "br2kgen check: unknown flag -v"},
		{[]string{"init"}, 2, "want one directory, got 0 arguments"},
		{[]string{"init", "-mod", "x", "dir"}, 2, "flag provided but not defined: -mod"},
		{[]string{"init", "-module"}, 2, "flag needs an argument: -module"},
		{[]string{"init", "-name", "lower", t.TempDir() + "/svc"}, 1, `-name: "lower" is not an exported Go identifier`},
		{[]string{"init", "-name", "Service", t.TempDir() + "/svc"}, 1, "-name: Service is a name the service package already uses"},
		{[]string{"init", "-module", "not a path", t.TempDir() + "/svc"}, 1, "-module: malformed module path"},
		{[]string{"init", t.TempDir() + "/svc"}, 1, "-module: the directory is not inside a Go module"},
		{[]string{"init", t.TempDir() + "/123"}, 1, "cannot make a Go package name"},
		{[]string{"/nonexistent/dir"}, 1, "br2kgen: "},
	}
	for _, tt := range tests {
		status, _, stderr := runCmd(tt.args...)
		if status != tt.status || !strings.Contains(stderr, tt.stderr) {
			t.Errorf("br2kgen %s: %d %q, want %d and %q", strings.Join(tt.args, " "), status, stderr, tt.status, tt.stderr)
		}
	}
	if status, stdout, _ := runCmd("help"); status != 0 || !strings.Contains(stdout, "br2kgen init [-module path] [-name Name] dir") {
		t.Errorf("help: %d %q", status, stdout)
	}
}

func TestInitScaffoldParsesAndGenerates(t *testing.T) {
	mod := testmod.New(t, "example.com/services")
	dir := filepath.Join(mod, "shop-floor")
	status, stdout, stderr := runCmd("init", "-name", "Floor", dir)
	if status != 0 {
		t.Fatalf("init: %d %s", status, stderr)
	}
	for _, f := range []string{"shopfloor.go", "cmd/shopfloor/main.go", "config.json"} {
		if !strings.Contains(stdout, filepath.Join("shop-floor", f)) && !strings.Contains(stdout, f) {
			t.Errorf("output does not list %s:\n%s", f, stdout)
		}
	}
	fset := token.NewFileSet()
	for _, f := range []string{"shopfloor.go", "cmd/shopfloor/main.go"} {
		file, err := parser.ParseFile(fset, filepath.Join(dir, f), nil, parser.ParseComments)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if f == "cmd/shopfloor/main.go" {
			found := false
			for _, imp := range file.Imports {
				found = found || imp.Path.Value == `"example.com/services/shop-floor"`
			}
			if !found {
				t.Errorf("main.go does not import the service package")
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
		t.Error("init inside a module wrote a go.mod")
	}
	if status, _, stderr := runCmd(dir); status != 0 {
		t.Fatalf("generating the scaffold: %s", stderr)
	}
	gen, err := os.ReadFile(filepath.Join(dir, generator.FileName))
	if err != nil || !bytes.Contains(gen, []byte("func NewService(state *Floor) *Service")) {
		t.Fatalf("generated file: %v\n%s", err, gen)
	}
	// The whole scaffold, command included, builds against the runtime,
	// and its command runs the service as a local cluster.
	testmod.Go(t, mod, "vet", "./shop-floor/...")
	runScaffoldDev(t, mod, "./shop-floor/cmd/shopfloor")
	if status, _, stderr := runCmd("init", dir); status != 1 || !strings.Contains(stderr, "exists and is not empty") {
		t.Errorf("init over an existing service: %d %q", status, stderr)
	}
}

func TestInitWithModuleWritesGoMod(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "counter")
	if status, _, stderr := runCmd("init", "-module", "example.com/counter", dir); status != 0 {
		t.Fatalf("init: %s", stderr)
	}
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	f, err := modfile.Parse("go.mod", data, nil)
	if err != nil {
		t.Fatalf("go.mod: %v\n%s", err, data)
	}
	if f.Module.Mod.Path != "example.com/counter" || len(f.Require) != 1 || f.Require[0].Mod.Path != "github.com/br2k/br2k" {
		t.Errorf("go.mod:\n%s", data)
	}
	main, _ := os.ReadFile(filepath.Join(dir, "cmd", "counter", "main.go"))
	if !bytes.Contains(main, []byte(`counter "example.com/counter"`)) {
		t.Errorf("main.go imports:\n%s", main)
	}
}

// runScaffoldDev builds the scaffold's command, runs "dev" (3 replicas,
// free ports), adds to a counter through a follower and reads it back
// through the leader's route, then stops it with SIGINT.
func runScaffoldDev(t *testing.T, mod, pkg string) {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "shopfloor")
	testmod.Go(t, mod, "build", "-o", bin, pkg)
	cmd := exec.Command(bin, "dev", "-port", "0")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	urls := make(chan []string, 1)
	go func() {
		var got []string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 2 && strings.HasPrefix(f[1], "http://") {
				if got = append(got, f[1]); len(got) == 3 {
					urls <- got
				}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	var replicas []string
	select {
	case replicas = <-urls:
	case <-time.After(60 * time.Second):
		t.Fatalf("dev printed no replica URLs within 60s; stderr:\n%s", stderr.String())
	}
	client := &http.Client{Timeout: 10 * time.Second}
	post := func(url, body string) (int, string) {
		for deadline := time.Now().Add(30 * time.Second); ; {
			resp, err := client.Post(url, "application/json", strings.NewReader(body))
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusServiceUnavailable || time.Now().After(deadline) {
					return resp.StatusCode, strings.TrimSpace(string(b))
				}
			} else if time.Now().After(deadline) {
				t.Fatalf("POST %s: %v", url, err)
			}
			time.Sleep(50 * time.Millisecond) // no leader elected yet
		}
	}
	for i, want := range []string{`{"name":"visits","value":2}`, `{"name":"visits","value":5}`} {
		status, body := post(replicas[2-i]+"/counters/visits", fmt.Sprintf(`{"delta":%d}`, 2+i))
		if status != http.StatusOK || body != want {
			t.Fatalf("POST /counters/visits via replica %d: %d %s, want 200 %s", 3-i, status, body, want)
		}
	}
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dev after SIGINT: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("dev did not stop within 30s of SIGINT")
	}
}
