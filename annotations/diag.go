package annotations

import (
	"fmt"
	"go/token"
	"sort"
	"strings"
)

// Diagnostic is one problem found in a package, positioned at the offending
// token. Its text is vet-style: "file:line:col: CODE: message", followed,
// when it has a hint, by the hint on a line of its own indented by a tab.
type Diagnostic struct {
	Pos  token.Position
	Code Code
	Msg  string
	// Hint says how to fix the problem when the message alone does not;
	// optional.
	Hint string
}

func (d *Diagnostic) Error() string {
	s := fmt.Sprintf("%s: %s: %s", d.Pos, d.Code, d.Msg)
	if d.Hint != "" {
		s += "\n\t" + d.Hint
	}
	return s
}

// List collects the diagnostics of a package. Code reports them all at once,
// sorted by position, so a user fixes every problem in one round.
type List []*Diagnostic

// Add appends a diagnostic and returns it, so that a caller can set its
// Hint.
func (l *List) Add(pos token.Position, code Code, format string, args ...any) *Diagnostic {
	d := &Diagnostic{Pos: pos, Code: code, Msg: fmt.Sprintf(format, args...)}
	*l = append(*l, d)
	return d
}

// Sort orders l by file, line and column, then by code and message, so the
// output is deterministic even for several problems at one position.
func (l List) Sort() {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.Pos.Filename != b.Pos.Filename {
			return a.Pos.Filename < b.Pos.Filename
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		if a.Pos.Column != b.Pos.Column {
			return a.Pos.Column < b.Pos.Column
		}
		if a.Code != b.Code {
			return a.Code < b.Code
		}
		return a.Msg < b.Msg
	})
}

// Err returns l sorted as an error, or nil if l is empty.
func (l List) Err() error {
	if len(l) == 0 {
		return nil
	}
	l.Sort()
	return l
}

// Error joins the diagnostics, one per line (and one more for a hint).
func (l List) Error() string {
	lines := make([]string, len(l))
	for i, d := range l {
		lines[i] = d.Error()
	}
	return strings.Join(lines, "\n")
}
