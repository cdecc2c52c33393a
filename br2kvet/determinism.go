package br2kvet

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"strings"

	"golang.org/x/tools/go/types/typeutil"

	"github.com/br2k/br2k/annotations"
)

// Deterministic lists the standard-library packages replicated code may
// call: their results depend only on their arguments. Some of their
// functions are still refused: the wall clock in time, printing and
// scanning in fmt, the file system in path/filepath (see refusal).
var Deterministic = []string{
	"bufio", "bytes", "cmp", "container/heap", "container/list", "container/ring",
	"crypto/ed25519", "crypto/hmac", "crypto/md5", "crypto/sha1", "crypto/sha256", "crypto/sha3", "crypto/sha512", "crypto/subtle",
	"encoding", "encoding/ascii85", "encoding/base32", "encoding/base64", "encoding/binary", "encoding/csv", "encoding/hex",
	"encoding/json", "encoding/pem", "encoding/xml",
	"errors", "fmt", "hash", "hash/adler32", "hash/crc32", "hash/crc64", "hash/fnv", "html", "image", "image/color", "io", "iter", "maps",
	"math", "math/big", "math/bits", "math/cmplx", "net/netip", "net/url", "path", "path/filepath",
	"regexp", "regexp/syntax", "slices", "sort", "strconv", "strings", "time", "unicode", "unicode/utf16", "unicode/utf8", "unique",
}

var deterministic = func() map[string]bool {
	m := map[string]bool{}
	for _, p := range Deterministic {
		m[p] = true
	}
	return m
}()

// ioPackages are the packages whose functions reach the outside world.
var ioPackages = []string{"os", "net/http", "net/rpc", "net/smtp", "syscall", "io/ioutil", "log", "database/sql", "plugin", "runtime"}

func isIOPackage(path string) bool {
	if path == "net" {
		return true
	}
	for _, p := range ioPackages {
		if hasPathPrefix(path, p) {
			return true
		}
	}
	return false
}

const (
	hintNow     = "use ctx.Now(): the time the leader stamped on the entry, the same on every replica"
	hintRand    = "use ctx.Rand(): a source the leader seeded for the entry, the same on every replica"
	hintIO      = "do this in an //br2k:onlyonce handler, which runs on the leader alone, and pass what it found to a replicated call"
	hintConc    = "a replicated handler runs alone, in log order, on every replica: compute the result directly"
	hintGlobal  = "keep the value in a field of the state, so that every replica has it and snapshots carry it"
	hintUntrust = "if the package's results depend only on the arguments, mark it trusted in the package: //br2k:trust %s"
)

// checkDeterminism reports what makes fd's results differ between replicas.
func (a *vetter) checkDeterminism(fd *ast.FuncDecl, where string) {
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.GoStmt:
			a.report(n.Pos(), annotations.CodeConcurrency, hintConc, "%s starts a goroutine", where)
		case *ast.SelectStmt:
			a.report(n.Pos(), annotations.CodeConcurrency, hintConc, "%s uses select", where)
		case *ast.SendStmt:
			a.report(n.Pos(), annotations.CodeConcurrency, hintConc, "%s sends on a channel", where)
		case *ast.UnaryExpr:
			if n.Op == token.ARROW {
				a.report(n.Pos(), annotations.CodeConcurrency, hintConc, "%s receives from a channel", where)
			}
		case *ast.RangeStmt:
			if t := a.Info.TypeOf(n.X); t != nil {
				if _, ok := t.Underlying().(*types.Chan); ok {
					a.report(n.Pos(), annotations.CodeConcurrency, hintConc, "%s ranges over a channel", where)
				}
			}
		case *ast.AssignStmt:
			if n.Tok != token.DEFINE {
				for _, l := range n.Lhs {
					a.checkGlobalWrite(l, where)
				}
			}
		case *ast.IncDecStmt:
			a.checkGlobalWrite(n.X, where)
		case *ast.SelectorExpr:
			a.checkQualified(n, where)
		case *ast.CallExpr:
			a.checkCall(n, where)
		}
		return true
	})
}

// checkGlobalWrite reports an assignment to a package-level variable (or
// into what it refers to).
func (a *vetter) checkGlobalWrite(lhs ast.Expr, where string) {
	v, _ := a.root(lhs)
	if v == nil || v.IsField() || v.Pkg() == nil || v.Parent() != v.Pkg().Scope() {
		return
	}
	a.report(lhs.Pos(), annotations.CodeGlobalWrite, hintGlobal, "%s writes package-level variable %s", where, qualifiedName(v))
}

// checkQualified reports uses of package unsafe and of the variables of
// I/O packages (os.Args, os.Stdout, http.DefaultClient).
func (a *vetter) checkQualified(sel *ast.SelectorExpr, where string) {
	id, ok := sel.X.(*ast.Ident)
	if !ok {
		return
	}
	pn, ok := a.Info.Uses[id].(*types.PkgName)
	if !ok {
		return
	}
	path := pn.Imported().Path()
	switch {
	case path == "unsafe":
		a.report(sel.Pos(), annotations.CodeUnsafe, "", "%s uses unsafe.%s", where, sel.Sel.Name)
	case isIOPackage(path):
		if v, ok := a.Info.Uses[sel.Sel].(*types.Var); ok {
			a.report(sel.Pos(), annotations.CodeIO, hintIO, "%s uses %s.%s, which is the process's environment", where, pn.Name(), v.Name())
		}
	}
}

// checkCall reports a call whose result or effect is not the same on every
// replica.
func (a *vetter) checkCall(call *ast.CallExpr, where string) {
	if dep := a.dependencyOf(call); dep != "" {
		a.report(call.Pos(), annotations.CodeIO, hintIO, "%s calls %s through dependency %s (a field tagged br2k:\"-\")", where, types.ExprString(call.Fun), dep)
		return
	}
	switch fn := typeutil.Callee(a.Info, call).(type) {
	case *types.Builtin:
		if fn.Name() == "print" || fn.Name() == "println" {
			a.report(call.Pos(), annotations.CodeIO, hintIO, "%s calls %s, which writes to standard error", where, fn.Name())
		}
	case *types.Func:
		a.checkFunc(call, fn, where)
	}
}

// dependencyOf names the dependency field a method call goes through
// (s.Notary in s.Notary.Sign(x)), or "".
func (a *vetter) dependencyOf(call *ast.CallExpr) string {
	sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr)
	if !ok {
		return ""
	}
	if f := a.embeddedDependency(a.Info.Selections[sel]); f != nil {
		return types.ExprString(sel.X) + "." + f.Name()
	}
	for e := ast.Unparen(sel.X); ; {
		s, ok := e.(*ast.SelectorExpr)
		if !ok {
			return ""
		}
		if x := a.Info.Selections[s]; x != nil {
			if f, ok := x.Obj().(*types.Var); ok && a.deps[f] {
				return types.ExprString(s)
			}
		}
		e = ast.Unparen(s.X)
	}
}

func (a *vetter) checkFunc(call *ast.CallExpr, fn *types.Func, where string) {
	path := pkgPath(fn)
	name := fn.Name()
	sig, _ := fn.Type().(*types.Signature)
	method := sig != nil && sig.Recv() != nil
	display := types.ExprString(call.Fun)
	switch {
	case path == "" || path == a.Types.Path() || path == APIPath || hasPathPrefix(path, RuntimePath):
		return
	case path == "time":
		if !method && oneOf(name, "Now", "Since", "Until", "After", "AfterFunc", "NewTimer", "NewTicker", "Tick", "Sleep") ||
			method && recvNamed(sig, "Timer", "Ticker") {
			a.report(call.Pos(), annotations.CodeWallClock, hintNow, "%s calls %s, which depends on the wall clock: every replica gets a different time", where, display)
		}
		return
	case path == "math/rand" || path == "math/rand/v2":
		if !method && !oneOf(name, "New", "NewSource", "NewPCG", "NewChaCha8", "NewZipf") {
			a.report(call.Pos(), annotations.CodeRandomness, hintRand, "%s calls %s, which draws from the process's random source: every replica gets different numbers", where, display)
		}
		return
	case path == "crypto/rand":
		a.report(call.Pos(), annotations.CodeRandomness, hintRand, "%s calls %s, which reads the operating system's randomness: every replica gets different bytes", where, display)
		return
	case path == "unsafe":
		a.report(call.Pos(), annotations.CodeUnsafe, "", "%s calls %s", where, display)
		return
	case isIOPackage(path):
		a.report(call.Pos(), annotations.CodeIO, hintIO, "%s calls %s: I/O and the environment differ between replicas, and a replica that replays the log would repeat it", where, display)
		return
	case path == "fmt" && oneOf(name, "Print", "Printf", "Println", "Scan", "Scanf", "Scanln"):
		a.report(call.Pos(), annotations.CodeIO, hintIO, "%s calls %s, which uses standard input or output", where, display)
		return
	case path == "path/filepath" && oneOf(name, "Abs", "EvalSymlinks", "Glob", "Walk", "WalkDir"):
		a.report(call.Pos(), annotations.CodeIO, hintIO, "%s calls %s, which reads the file system", where, display)
		return
	case oneOf(path, "sync", "sync/atomic", "context") || hasPathPrefix(path, "golang.org/x/sync"):
		a.report(call.Pos(), annotations.CodeConcurrency, hintConc, "%s calls %s", where, display)
		return
	case deterministic[path] || a.isTrusted(path):
		return
	}
	a.report(call.Pos(), annotations.CodeUntrustedCall, fmt.Sprintf(hintUntrust, path),
		"%s calls %s of package %s, which br2k does not know to be deterministic", where, display, path)
}

func (a *vetter) isTrusted(path string) bool {
	for _, t := range a.trusted {
		if p, ok := strings.CutSuffix(t, "/..."); ok {
			if hasPathPrefix(path, p) {
				return true
			}
		} else if path == t {
			return true
		}
	}
	return false
}

func oneOf(s string, set ...string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

// recvNamed reports whether a method's receiver is (a pointer to) one of the
// named types.
func recvNamed(sig *types.Signature, names ...string) bool {
	t := sig.Recv().Type()
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	n, ok := t.(*types.Named)
	return ok && oneOf(n.Obj().Name(), names...)
}

func qualifiedName(v *types.Var) string {
	return v.Pkg().Name() + "." + v.Name()
}

// embeddedDependency returns the dependency field a promoted method or
// field is reached through (l.Print with an embedded dependency Printer),
// or nil.
func (a *vetter) embeddedDependency(sel *types.Selection) *types.Var {
	if sel == nil || len(sel.Index()) < 2 {
		return nil
	}
	t := sel.Recv()
	for _, i := range sel.Index()[:len(sel.Index())-1] {
		if p, ok := t.Underlying().(*types.Pointer); ok {
			t = p.Elem()
		}
		st, ok := t.Underlying().(*types.Struct)
		if !ok {
			return nil
		}
		f := st.Field(i)
		if a.deps[f] {
			return f
		}
		t = f.Type()
	}
	return nil
}
