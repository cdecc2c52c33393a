package annotations

import (
	"os"
	"strings"
	"testing"
)

// The README's diagnostic table is MarkdownTable's output; this keeps the
// two from drifting apart.
func TestReadmeListsEveryDiagnosticCode(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), MarkdownTable()) {
		t.Fatalf("README.md does not contain the current diagnostic table; paste annotations.MarkdownTable():\n%s", MarkdownTable())
	}
}
