package annotations

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
	"testing"
)

// parse parses one file named ledger.go and returns the package and the
// diagnostics as vet-style lines.
func parse(t *testing.T, src string) (*Package, []string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "ledger.go", src, parser.ParseComments|parser.SkipObjectResolution)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	pkg, diags := Parse(fset, []*ast.File{f})
	var lines []string
	for _, d := range diags {
		lines = append(lines, d.Error())
	}
	return pkg, lines
}

// withState is a file whose line 6 is the directive under test, on method A
// of the state type S at line 7.
func withState(directive string) string {
	return "package p\n\n//br2k:state\ntype S struct{}\n\n" + directive + "\nfunc (s *S) A() {}\n"
}

func TestDirectiveErrorsArePositionedAtTheOffendingToken(t *testing.T) {
	tests := []struct {
		name      string
		directive string // line 6; a directive at column 1
		want      string
	}{
		{"unknown directive", "//br2k:replicat POST /a",
			"ledger.go:6:1: BR2K101: unknown directive //br2k:replicat (want //br2k:state, //br2k:replicate, //br2k:onlyonce, //br2k:backup or //br2k:rollback); did you mean //br2k:replicate?"},
		{"unknown directive in wrong case", "//br2k:OnlyOnce GET /a",
			"ledger.go:6:1: BR2K101: unknown directive //br2k:OnlyOnce (want //br2k:state, //br2k:replicate, //br2k:onlyonce, //br2k:backup or //br2k:rollback); did you mean //br2k:onlyonce?"},
		{"empty directive name", "//br2k: replicate POST /a",
			"ledger.go:6:1: BR2K101: unknown directive //br2k: (want //br2k:state, //br2k:replicate, //br2k:onlyonce, //br2k:backup or //br2k:rollback)"},
		{"missing path", "//br2k:replicate POST",
			"ledger.go:6:1: BR2K102: //br2k:replicate needs an HTTP method and a path: //br2k:replicate METHOD /path [option ...]"},
		{"missing method and path", "//br2k:onlyonce",
			"ledger.go:6:1: BR2K102: //br2k:onlyonce needs an HTTP method and a path: //br2k:onlyonce METHOD /path [option ...]"},
		{"bad method", "//br2k:replicate PST /a",
			`ledger.go:6:18: BR2K103: unknown HTTP method "PST" (want GET, POST, PUT, PATCH or DELETE)`},
		{"lower-case method", "//br2k:onlyonce get /a",
			`ledger.go:6:17: BR2K103: unknown HTTP method "get" (want GET, POST, PUT, PATCH or DELETE)`},
		{"method after extra spaces", "//br2k:replicate   HEAD /a",
			`ledger.go:6:20: BR2K103: unknown HTTP method "HEAD" (want GET, POST, PUT, PATCH or DELETE)`},
		{"path without slash", "//br2k:replicate POST accounts",
			`ledger.go:6:23: BR2K104: route "accounts" must start with "/"`},
		{"trailing slash", "//br2k:replicate POST /a/",
			`ledger.go:6:25: BR2K104: route "/a/" must not end with "/"`},
		{"empty segment", "//br2k:replicate POST /a//b",
			`ledger.go:6:26: BR2K104: route "/a//b" has an empty segment`},
		{"dot segment", "//br2k:replicate POST /a/../b",
			`ledger.go:6:26: BR2K104: route "/a/../b" has a ".." segment`},
		{"regexp parameter", "//br2k:replicate POST /a/{id:[0-9]+}",
			`ledger.go:6:26: BR2K104: route parameter {id:[0-9]+}: regular expressions are not supported`},
		{"reserved runtime path", "//br2k:onlyonce GET /br2k/status",
			`ledger.go:6:21: BR2K104: route "/br2k/status": paths under /br2k/ are reserved for the br2k runtime (status, forwarding)`},
		{"wildcard", "//br2k:replicate POST /a/*",
			`ledger.go:6:26: BR2K104: route "/a/*": wildcards (*) are not supported`},
		{"parameter name not an identifier", "//br2k:replicate POST /a/{1d}",
			`ledger.go:6:26: BR2K104: route parameter {1d}: the name must be an identifier`},
		{"empty parameter name", "//br2k:replicate POST /a/{}",
			`ledger.go:6:26: BR2K104: route parameter {}: the name must be an identifier`},
		{"parameter inside a segment", "//br2k:replicate POST /a/x{id}",
			`ledger.go:6:27: BR2K104: route segment "x{id}": a parameter must be a whole segment, like {name}`},
		{"unclosed parameter", "//br2k:replicate POST /a/{id",
			`ledger.go:6:26: BR2K104: route segment "{id": a parameter must be a whole segment, like {name}`},
		{"duplicate parameter", "//br2k:replicate POST /a/{id}/b/{id}",
			`ledger.go:6:33: BR2K104: route parameter {id} appears twice`},
		{"bad character", "//br2k:replicate POST /a?b",
			`ledger.go:6:25: BR2K104: route "/a?b": character '?' is not allowed in a path`},
		{"unknown option", "//br2k:replicate POST /a timeout=3s",
			`ledger.go:6:26: BR2K105: unknown option "timeout=3s" (want maxbody=N)`},
		{"option without value", "//br2k:replicate POST /a maxbody",
			`ledger.go:6:26: BR2K105: unknown option "maxbody" (want maxbody=N)`},
		{"bad size suffix", "//br2k:replicate POST /a maxbody=4KB",
			`ledger.go:6:26: BR2K105: bad maxbody value "4KB" (want a positive number of bytes, optionally suffixed KiB or MiB, e.g. maxbody=4KiB)`},
		{"size over one log entry", "//br2k:replicate POST /a maxbody=2MiB",
			`ledger.go:6:26: BR2K105: maxbody=2MiB is over 1MiB, the most one log entry holds: a larger request could never be ordered`},
		{"zero size", "//br2k:replicate POST /a maxbody=0",
			`ledger.go:6:26: BR2K105: bad maxbody value "0" (want a positive number of bytes, optionally suffixed KiB or MiB, e.g. maxbody=4KiB)`},
		{"negative size", "//br2k:replicate POST /a maxbody=-1",
			`ledger.go:6:26: BR2K105: bad maxbody value "-1" (want a positive number of bytes, optionally suffixed KiB or MiB, e.g. maxbody=4KiB)`},
		{"fractional size", "//br2k:replicate POST /a maxbody=1.5KiB",
			`ledger.go:6:26: BR2K105: bad maxbody value "1.5KiB" (want a positive number of bytes, optionally suffixed KiB or MiB, e.g. maxbody=4KiB)`},
		{"overflowing size", "//br2k:replicate POST /a maxbody=9223372036854775807KiB",
			`ledger.go:6:26: BR2K105: bad maxbody value "9223372036854775807KiB" (want a positive number of bytes, optionally suffixed KiB or MiB, e.g. maxbody=4KiB)`},
		{"option twice", "//br2k:replicate POST /a maxbody=1 maxbody=2",
			`ledger.go:6:36: BR2K105: option maxbody given twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := parse(t, withState(tt.directive))
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("directive %q:\n got %q\nwant %q", tt.directive, got, tt.want)
			}
		})
	}
}

func TestEveryErrorOfAPackageIsReportedSortedByPosition(t *testing.T) {
	src := `package p

//br2k:state
type S struct {
	//br2k:replicate POST /field
	F int
}

//br2k:replicate POST /func
func F() {}

type T struct{}

//br2k:replicate POST /other
func (t *T) M() {}

//br2k:onlyonce GET /type
type U struct{}

//br2k:replicate POST /var
var V int

func G() {
	//br2k:replicate POST /body
}

//br2k:state
func H() {}

type W struct{} //br2k:state

//br2k:replicate POST /a/{x} maxbody=1KB
func (s *S) A() {}

//br2k:onlyonce POST /a/{y}
func (s *S) B() {}

//br2k:replicate PUT /c
func (s S) C() {}

//br2k:replicate PUT /d
//br2k:onlyonce GET /d
func (s *S) D() {}

type (
	//br2k:state
	X struct{}
)

//br2k:state
type (
	Y struct{}
)
`
	want := []string{
		"ledger.go:5:2: BR2K107: //br2k:replicate must be on a method of the state type S, not on a struct field (F)",
		"ledger.go:9:1: BR2K107: //br2k:replicate must be on a method of the state type S, not on func F",
		"ledger.go:14:1: BR2K107: //br2k:replicate must be on a method of the state type S, not on a method of T",
		"ledger.go:17:1: BR2K107: //br2k:onlyonce must be on a method of the state type S, not on type U",
		"ledger.go:20:1: BR2K107: //br2k:replicate must be on a method of the state type S, not on a var declaration",
		"ledger.go:24:2: BR2K107: //br2k:replicate is not attached to a declaration; put it in the doc comment right above the method",
		"ledger.go:27:1: BR2K107: //br2k:state must be on a struct type declaration, not on func H",
		"ledger.go:30:17: BR2K107: //br2k:state is not attached to a declaration; put it in the doc comment right above the state type",
		`ledger.go:32:30: BR2K105: bad maxbody value "1KB" (want a positive number of bytes, optionally suffixed KiB or MiB, e.g. maxbody=4KiB)`,
		"ledger.go:35:17: BR2K106: duplicate route POST /a/{y}: method A already serves POST /a/{x}",
		"ledger.go:39:9: BR2K112: method C has a value receiver; a handler needs the pointer receiver *S so that its changes reach the state",
		"ledger.go:42:1: BR2K111: method D has several route directives; a method serves one route",
		"ledger.go:46:2: BR2K109: several //br2k:state types: S and X; a package has one state type",
		"ledger.go:50:1: BR2K107: //br2k:state is on a group of type declarations; put it on the state type itself",
	}
	pkg, got := parse(t, src)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("diagnostics:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if pkg.State == nil || pkg.State.Name != "S" {
		t.Errorf("state = %+v, want S", pkg.State)
	}
}

func TestPackageLevelErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{
		{"no directives", "package p\n\n// br2k: the prose of a doc comment, not a directive.\nfunc (s *S) A() {}\n\n/*br2k:state*/\ntype S struct{}\n",
			[]string{"ledger.go:1:1: BR2K100: package p has no //br2k: directives (want //br2k:state on the state struct type and //br2k:replicate or //br2k:onlyonce on its handler methods)"}},
		{"near misses", "package p\n\n// br2k:replicate POST /a\nfunc (s *S) A() {}\n\n//BR2K:state\ntype S struct{}\n",
			[]string{
				"ledger.go:1:1: BR2K100: package p has no //br2k: directives (want //br2k:state on the state struct type and //br2k:replicate or //br2k:onlyonce on its handler methods)",
				"ledger.go:3:1: BR2K151: \"// br2k:replicate POST /a\" is not a directive as written, so it is ignored; did you mean //br2k:replicate POST /a?\n\tdirectives are written like //go: ones: two slashes, no space, lower-case br2k, no space before the colon",
				"ledger.go:6:1: BR2K151: \"//BR2K:state\" is not a directive as written, so it is ignored; did you mean //br2k:state?\n\tdirectives are written like //go: ones: two slashes, no space, lower-case br2k, no space before the colon",
			}},
		{"no state", "package p\n\ntype S struct{}\n\n//br2k:replicate POST /a\nfunc (s *S) A() {}\n\n//br2k:onlyonce GET /b\nfunc B() {}\n",
			[]string{
				"ledger.go:5:1: BR2K108: no //br2k:state type in package p; mark the state struct type with //br2k:state",
				"ledger.go:8:1: BR2K107: //br2k:onlyonce must be on a method of the //br2k:state type, not on func B",
			}},
		{"several states", "package p\n\n//br2k:state\ntype S struct{}\n\n//br2k:state\ntype T struct{}\n\n//br2k:state\ntype U struct{}\n",
			[]string{
				"ledger.go:6:1: BR2K109: several //br2k:state types: S and T; a package has one state type",
				"ledger.go:9:1: BR2K109: several //br2k:state types: S and U; a package has one state type",
			}},
		{"state twice on one type", "package p\n\n// S is the state.\n//br2k:state\n//br2k:state\ntype S struct{}\n",
			[]string{"ledger.go:5:1: BR2K109: //br2k:state appears twice on S"}},
		{"state with an argument", "package p\n\n//br2k:state S\ntype S struct{}\n",
			[]string{`ledger.go:3:14: BR2K102: //br2k:state takes no arguments, has "S"`}},
		{"only an unknown directive", "package p\n\n//br2k:stat\ntype S struct{}\n",
			[]string{"ledger.go:3:1: BR2K101: unknown directive //br2k:stat (want //br2k:state, //br2k:replicate, //br2k:onlyonce, //br2k:backup or //br2k:rollback); did you mean //br2k:state?"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, got := parse(t, tt.src)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("\n got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestDuplicateRoutesIgnoreParameterNamesButNotMethods(t *testing.T) {
	src := `package p

//br2k:state
type S struct{}

//br2k:replicate POST /a/{x}/b
func (s *S) A() {}

//br2k:replicate GET /a/{x}/b
func (s *S) B() {}

//br2k:replicate POST /a/x/b
func (s *S) C() {}

//br2k:onlyonce POST /a/{y}/b
func (s *S) D() {}
`
	_, got := parse(t, src)
	want := []string{"ledger.go:15:17: BR2K106: duplicate route POST /a/{y}/b: method A already serves POST /a/{x}/b"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("\n got %q\nwant %q", got, want)
	}
}

func TestParseReturnsRoutesSortedByHandler(t *testing.T) {
	src := `package p

// L is the state.
//
//br2k:state
type L struct{}

// Zed is documented.
//
//br2k:replicate POST /accounts/{id}/mints/{n} maxbody=4KiB
func (l *L) Zed() {}

//br2k:onlyonce	GET	/
func (l *L) Alpha() {}

//br2k:replicate DELETE /x maxbody=1MiB
func (l *L) Mid() {}

//br2k:onlyonce PATCH /y maxbody=100
func (l *L) Nop() {}
`
	pkg, diags := parse(t, src)
	if len(diags) > 0 {
		t.Fatalf("diagnostics: %q", diags)
	}
	if pkg.Name != "p" || pkg.State == nil || pkg.State.Name != "L" {
		t.Fatalf("package %q, state %+v", pkg.Name, pkg.State)
	}
	type route struct {
		Handler, Kind, Method, Path string
		MaxBody                     int64
		Params                      []string
	}
	var got []route
	for _, r := range pkg.Routes {
		var ps []string
		for _, p := range r.Params {
			ps = append(ps, p.Name+"@"+p.Pos.String())
		}
		got = append(got, route{r.Handler, r.Kind.String(), r.Method, r.Path, r.MaxBody, ps})
	}
	want := []route{
		{"Alpha", "onlyonce", "GET", "/", 0, nil},
		{"Mid", "replicate", "DELETE", "/x", 1 << 20, nil},
		{"Nop", "onlyonce", "PATCH", "/y", 100, nil},
		{"Zed", "replicate", "POST", "/accounts/{id}/mints/{n}", 4096, []string{"id@ledger.go:10:33", "n@ledger.go:10:44"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("routes:\n got %+v\nwant %+v", got, want)
	}
	if p := pkg.Routes[3].Pattern(); p != "/accounts/{}/mints/{}" {
		t.Errorf("Pattern() = %q", p)
	}
}

func TestParseDirectiveIgnoresOtherComments(t *testing.T) {
	for _, text := range []string{"// br2k:state", "//go:generate br2kgen", "/*br2k:state*/", "//br2kstate", "// Package p."} {
		if d, diags := ParseDirective(text, token.Position{Line: 1, Column: 1}); d != nil || diags != nil {
			t.Errorf("ParseDirective(%q) = %+v, %v; want nothing", text, d, diags)
		}
	}
}

func TestCodesAreUniqueAndDescribed(t *testing.T) {
	seen := map[Code]bool{}
	for _, c := range Codes {
		if seen[c.Code] {
			t.Errorf("code %s listed twice", c.Code)
		}
		seen[c.Code] = true
		if c.Summary == "" || strings.HasSuffix(c.Summary, ".") || strings.Contains(c.Summary, "\n") {
			t.Errorf("code %s: summary %q must be one line without a final period", c.Code, c.Summary)
		}
		if c.Code.Summary() != c.Summary {
			t.Errorf("%s.Summary() = %q", c.Code, c.Code.Summary())
		}
	}
	if !strings.Contains(MarkdownTable(), "| BR2K103 | HTTP method is not one of GET, POST, PUT, PATCH, DELETE |") {
		t.Errorf("MarkdownTable:\n%s", MarkdownTable())
	}
}
