package annotations

import (
	"go/token"
	"math"
	"strconv"
	"strings"

	"github.com/br2k/br2k/internal/suggest"
)

// Prefix starts every directive. Like //go: directives it has no space after
// the slashes, so prose that mentions br2k is never taken for a directive.
const Prefix = "//br2k:"

// Kind is the kind of a directive.
type Kind int

// The directive kinds.
const (
	KindState     Kind = iota + 1 // //br2k:state
	KindReplicate                 // //br2k:replicate
	KindOnlyOnce                  // //br2k:onlyonce
	KindBackup                    // //br2k:backup Handler
	KindRollback                  // //br2k:rollback Handler
)

var kindNames = map[string]Kind{"state": KindState, "replicate": KindReplicate, "onlyonce": KindOnlyOnce,
	"backup": KindBackup, "rollback": KindRollback}

// String returns the directive's name without the prefix: "state",
// "replicate" or "onlyonce".
func (k Kind) String() string {
	switch k {
	case KindState:
		return "state"
	case KindReplicate:
		return "replicate"
	case KindOnlyOnce:
		return "onlyonce"
	case KindBackup:
		return "backup"
	case KindRollback:
		return "rollback"
	}
	return "unknown"
}

// Directive returns the directive as written: "//br2k:replicate".
func (k Kind) Directive() string { return Prefix + k.String() }

// Methods are the HTTP methods a route may use.
var Methods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// Directive is one parsed directive comment.
type Directive struct {
	Kind Kind
	Pos  token.Position // of the comment's "//"

	// Route directives only.
	Method    string // HTTP method, e.g. "POST"
	MethodPos token.Position
	Path      string // chi pattern, e.g. "/accounts/{id}"
	PathPos   token.Position
	Params    []Param // path parameters, in path order
	MaxBody   int64   // maxbody option in bytes; 0 when not given

	// Hook directives only: the handler the hook is for.
	Target    string
	TargetPos token.Position
}

// IsHook reports whether k is //br2k:backup or //br2k:rollback.
func (k Kind) IsHook() bool { return k == KindBackup || k == KindRollback }

// Param is a path parameter {Name} of a route.
type Param struct {
	Name string
	Pos  token.Position // of the "{"
}

// Pattern is the route's path with parameter names erased ("/a/{}"): two
// routes with the same method and pattern are the same route to chi.
func (d *Directive) Pattern() string {
	segs := strings.Split(d.Path, "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") {
			segs[i] = "{}"
		}
	}
	return strings.Join(segs, "/")
}

// word is a whitespace-separated token of a directive and its byte offset in
// the comment text.
type word struct {
	text string
	off  int
}

func splitWords(s string, base int) []word {
	var ws []word
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' || s[i] == '\t' || s[i] == '\r' {
			if start >= 0 {
				ws = append(ws, word{s[start:i], base + start})
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	return ws
}

// at returns the position off bytes into a one-line comment at pos.
func at(pos token.Position, off int) token.Position {
	pos.Offset += off
	pos.Column += off
	return pos
}

// IsDirective reports whether comment text (as in ast.Comment.Text) is a br2k
// directive, known or not.
func IsDirective(text string) bool { return strings.HasPrefix(text, Prefix) }

// ParseDirective parses the text of one comment (with its leading "//")
// found at pos. It returns nil and no diagnostics when text is not a
// directive. A directive with a bad option is still returned, with the
// option's diagnostic, so that the rest of the package can be checked; a
// directive whose kind, method or path is bad is not.
func ParseDirective(text string, pos token.Position) (*Directive, List) {
	if !IsDirective(text) {
		return nil, nil
	}
	var diags List
	ws := splitWords(text[len(Prefix):], len(Prefix))
	name := ""
	if len(ws) > 0 && ws[0].off == len(Prefix) {
		name = ws[0].text
		ws = ws[1:]
	}
	kind, ok := kindNames[name]
	if !ok {
		msg := "unknown directive " + Prefix + name + " (want //br2k:state, //br2k:replicate, //br2k:onlyonce, //br2k:backup or //br2k:rollback)"
		if s := suggestDirective(name); s != "" {
			msg += "; did you mean " + Prefix + s + "?"
		}
		diags.Add(pos, CodeUnknownDirective, "%s", msg)
		return nil, diags
	}
	d := &Directive{Kind: kind, Pos: pos}
	if kind == KindState {
		if len(ws) > 0 {
			diags.Add(at(pos, ws[0].off), CodeMalformedDirective, "//br2k:state takes no arguments, has %q", ws[0].text)
		}
		return d, diags
	}
	if kind.IsHook() {
		if len(ws) != 1 || !isIdent(ws[0].text) {
			diags.Add(pos, CodeMalformedDirective, "%s needs the name of the replicated handler it is for: %s Transfer", kind.Directive(), kind.Directive())
			return nil, diags
		}
		d.Target, d.TargetPos = ws[0].text, at(pos, ws[0].off)
		return d, diags
	}
	if len(ws) < 2 {
		diags.Add(pos, CodeMalformedDirective, "%s needs an HTTP method and a path: %s METHOD /path [option ...]", kind.Directive(), kind.Directive())
		return nil, diags
	}
	d.Method, d.MethodPos = ws[0].text, at(pos, ws[0].off)
	d.Path, d.PathPos = ws[1].text, at(pos, ws[1].off)
	usable := true
	if !validMethod(d.Method) {
		diags.Add(d.MethodPos, CodeBadMethod, "unknown HTTP method %q (want GET, POST, PUT, PATCH or DELETE)", d.Method)
		usable = false
	}
	params, bad := parseRoute(d.Path, d.PathPos)
	if bad != nil {
		diags = append(diags, bad)
		usable = false
	}
	d.Params = params
	seen := map[string]bool{}
	for _, w := range ws[2:] {
		opos := at(pos, w.off)
		key, val, hasVal := strings.Cut(w.text, "=")
		if !hasVal || key != "maxbody" {
			diags.Add(opos, CodeBadOption, "unknown option %q (want maxbody=N)", w.text)
			continue
		}
		if seen[key] {
			diags.Add(opos, CodeBadOption, "option %s given twice", key)
			continue
		}
		seen[key] = true
		n, ok := parseSize(val)
		if !ok {
			diags.Add(opos, CodeBadOption, "bad maxbody value %q (want a positive number of bytes, optionally suffixed KiB or MiB, e.g. maxbody=4KiB)", val)
			continue
		}
		if n > MaxBodyLimit {
			diags.Add(opos, CodeBadOption, "maxbody=%s is over 1MiB, the most one log entry holds: a larger request could never be ordered", val)
			continue
		}
		d.MaxBody = n
	}
	if !usable {
		return nil, diags
	}
	return d, diags
}

func validMethod(m string) bool {
	for _, v := range Methods {
		if m == v {
			return true
		}
	}
	return false
}

// parseSize parses a positive byte count with an optional KiB or MiB suffix.
// MaxBodyLimit is the largest maxbody: a call travels in one log entry,
// which holds at most 1 MiB (runtime/log.MaxAppendBytes; a generator test
// checks that the two agree).
const MaxBodyLimit = 1 << 20

func parseSize(s string) (int64, bool) {
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "KiB"):
		s, mult = strings.TrimSuffix(s, "KiB"), 1<<10
	case strings.HasSuffix(s, "MiB"):
		s, mult = strings.TrimSuffix(s, "MiB"), 1<<20
	}
	// Digits only: ParseInt alone would accept a sign.
	if s == "" || strings.Trim(s, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, false
	}
	return n * mult, true
}

// suggestDirective returns the known directive name closest to a misspelt one, or "".
func suggestDirective(name string) string {
	known := []string{MarkAnyOrder, "backup", "onlyonce", "replicate", "rollback", "state", MarkTrust}
	for _, k := range known {
		if strings.EqualFold(name, k) {
			return k
		}
	}
	return suggest.Closest(name, known, 2)
}
