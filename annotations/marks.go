package annotations

import (
	"go/token"
	"strings"
)

// Marks annotate code rather than declare the service: the analysis of
// replicated handlers reads them (package br2kvet).
//
//	//br2k:any-order          on the line of a range over a map, or the line above:
//	                         the loop's effect does not depend on the iteration order
//	//br2k:trust IMPORTPATH  anywhere in the package: replicated code may call the
//	                         package (or, with a trailing /..., the packages under it)
const (
	MarkAnyOrder = "any-order"
	MarkTrust    = "trust"
)

// Mark is one //br2k:any-order or //br2k:trust comment.
type Mark struct {
	Name string         // MarkAnyOrder or MarkTrust
	Pos  token.Position // of the comment's "//"
	Path string         // the import path of a trust mark
}

// parseMark parses a mark directive. It reports false when text is not a
// mark (then it is a declaration directive or unknown).
func parseMark(text string, pos token.Position) (*Mark, List, bool) {
	ws := splitWords(text[len(Prefix):], len(Prefix))
	if len(ws) == 0 || ws[0].off != len(Prefix) {
		return nil, nil, false
	}
	var diags List
	switch ws[0].text {
	case MarkAnyOrder:
		if len(ws) > 1 {
			diags.Add(at(pos, ws[1].off), CodeMalformedDirective, "//br2k:any-order takes no arguments, has %q", ws[1].text)
		}
		return &Mark{Name: MarkAnyOrder, Pos: pos}, diags, true
	case MarkTrust:
		if len(ws) != 2 {
			diags.Add(pos, CodeMalformedDirective, "//br2k:trust needs one import path: //br2k:trust example.com/decimal (or example.com/lib/... for the packages under it)")
			return nil, diags, true
		}
		return &Mark{Name: MarkTrust, Pos: pos, Path: ws[1].text}, nil, true
	}
	return nil, nil, false
}

// nearMiss reports a line comment that looks like a directive but is not
// one as written (a space after the slashes or before the colon, capitals):
// the Go toolchain and br2kgen both ignore it, so the route it means would
// silently not exist. Prose that merely mentions br2k is not reported: the
// word after the colon must be (close to) a directive name.
func nearMiss(text string, pos token.Position) *Diagnostic {
	if !strings.HasPrefix(text, "//") || IsDirective(text) {
		return nil
	}
	rest := strings.TrimLeft(text[2:], " \t")
	if len(rest) < 5 || !strings.EqualFold(rest[:4], "br2k") {
		return nil
	}
	after := strings.TrimLeft(rest[4:], " \t")
	if !strings.HasPrefix(after, ":") {
		return nil
	}
	after = strings.TrimLeft(after[1:], " \t")
	name, args, _ := strings.Cut(after, " ")
	want := suggestDirective(strings.ToLower(name))
	if want == "" {
		return nil
	}
	fixed := Prefix + want
	if args = strings.TrimSpace(args); args != "" {
		fixed += " " + args
	}
	var l List
	d := l.Add(pos, CodeNearMiss, "%q is not a directive as written, so it is ignored; did you mean %s?", text, fixed)
	d.Hint = "directives are written like //go: ones: two slashes, no space, lower-case br2k, no space before the colon"
	return d
}
