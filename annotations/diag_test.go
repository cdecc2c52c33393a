package annotations

import (
	"go/token"
	"testing"
)

func TestAHintIsALineOfItsOwn(t *testing.T) {
	var l List
	l.Add(token.Position{Filename: "b.go", Line: 3, Column: 9}, CodeStateOutsideRead, "uses %s", "l.x").Hint = "wrap it"
	l.Add(token.Position{Filename: "a.go", Line: 7, Column: 2}, CodeBadMethod, "no hint")
	want := "a.go:7:2: BR2K103: no hint\nb.go:3:9: BR2K116: uses l.x\n\twrap it"
	if got := l.Err().Error(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
