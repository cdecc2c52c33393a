package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestGoVetRunsTheAnalysis builds br2kvet and runs it the way users do,
// through go vet -vettool: it reports a service's problems with their
// positions and codes, and nothing on the examples or on packages without
// directives.
func TestGoVetRunsTheAnalysis(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a binary and runs go vet")
	}
	tool := filepath.Join(t.TempDir(), "br2kvet")
	if out, err := exec.Command("go", "build", "-o", tool, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	vet := func(pkgs ...string) (string, error) {
		cmd := exec.Command("go", append([]string{"vet", "-vettool=" + tool}, pkgs...)...)
		cmd.Dir = "../.."
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := vet("./testdata/errors/onlyonce_writes", "./testdata/errors/near_miss")
	if err == nil {
		t.Fatalf("go vet passed on packages with problems:\n%s", out)
	}
	for _, want := range []string{
		"testdata/errors/onlyonce_writes/svc.go:30:3: BR2K150: onlyonce handler Mint writes the state: it assigns s.N[in.ID]",
		"testdata/errors/onlyonce_writes/svc.go:39:4: BR2K150: onlyonce handler Mint writes the state: it assigns acc2.Balance",
		"testdata/errors/onlyonce_writes/svc.go:44:9: BR2K150: onlyonce handler Mint calls replicated handler Deposit directly",
		"testdata/errors/near_miss/svc.go:15:1: BR2K151: \"// br2k:replicate POST /a\" is not a directive as written",
		"testdata/errors/near_miss/svc.go:41:1: BR2K151: \"//br2k :onlyonce GET /g\" is not a directive as written",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("go vet output lacks %q:\n%s", want, out)
		}
	}

	if out, err := vet("./example/...", "./internal/suggest", "./runtime/httpx"); err != nil {
		t.Errorf("go vet found problems in the examples or in packages without directives: %v\n%s", err, out)
	}
}
