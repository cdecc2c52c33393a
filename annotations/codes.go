package annotations

import (
	"fmt"
	"strings"
)

// Code is the stable identifier of a kind of diagnostic, e.g. BR2K103. Codes
// never change meaning once released, so users and CI scripts may match on
// them; new problems get new codes.
type Code string

// The diagnostic codes. BR2K0xx are about loading, BR2K10x about directives,
// BR2K11x about handlers, BR2K12x about the state type, BR2K13x about the
// generated names, BR2K14x about nondeterminism in replicated code, BR2K15x
// about onlyonce state writes and misspelt directives, BR2K16x about undo
// hooks. The table Codes describes each.
const (
	CodeLoad               Code = "BR2K001"
	CodeNoDirectives       Code = "BR2K100"
	CodeUnknownDirective   Code = "BR2K101"
	CodeMalformedDirective Code = "BR2K102"
	CodeBadMethod          Code = "BR2K103"
	CodeBadRoute           Code = "BR2K104"
	CodeBadOption          Code = "BR2K105"
	CodeDuplicateRoute     Code = "BR2K106"
	CodeMisplaced          Code = "BR2K107"
	CodeNoState            Code = "BR2K108"
	CodeSeveralStates      Code = "BR2K109"
	CodeSignature          Code = "BR2K110"
	CodeSeveralRoutes      Code = "BR2K111"
	CodeValueReceiver      Code = "BR2K112"
	CodeBadInput           Code = "BR2K113"
	CodePathParam          Code = "BR2K114"
	CodeNotJSON            Code = "BR2K115"
	CodeStateOutsideRead   Code = "BR2K116"
	CodeIOInsideRead       Code = "BR2K117"
	CodeQueryField         Code = "BR2K118"
	CodeQueryConflict      Code = "BR2K119"
	CodeNotReplicable      Code = "BR2K120"
	CodeHiddenField        Code = "BR2K121"
	CodeStateNotStruct     Code = "BR2K122"
	CodeBadTag             Code = "BR2K123"
	CodeNameClash          Code = "BR2K130"
	CodeWallClock          Code = "BR2K140"
	CodeRandomness         Code = "BR2K141"
	CodeIO                 Code = "BR2K142"
	CodeConcurrency        Code = "BR2K143"
	CodeGlobalWrite        Code = "BR2K144"
	CodeUnsafe             Code = "BR2K145"
	CodeUntrustedCall      Code = "BR2K146"
	CodeMapOrder           Code = "BR2K147"
	CodeOnlyOnceWrite      Code = "BR2K150"
	CodeNearMiss           Code = "BR2K151"
	CodeHookTarget         Code = "BR2K160"
	CodeHookTwice          Code = "BR2K161"
	CodeHookUnpaired       Code = "BR2K162"
	CodeHookSignature      Code = "BR2K163"
)

// CodeInfo is one row of the code table.
type CodeInfo struct {
	Code    Code
	Summary string // one line, no trailing period
}

// Codes is the table of every diagnostic code, in code order. The README's
// table is generated from it (see MarkdownTable), so this is the one place
// where a code is described.
var Codes = []CodeInfo{
	{CodeLoad, "the package cannot be loaded or does not type-check"},
	{CodeNoDirectives, "the package has no //br2k: directive"},
	{CodeUnknownDirective, "unknown directive (want //br2k:state, //br2k:replicate, //br2k:onlyonce, //br2k:backup or //br2k:rollback)"},
	{CodeMalformedDirective, "directive lacks its METHOD and /path, or has arguments it does not take"},
	{CodeBadMethod, "HTTP method is not one of GET, POST, PUT, PATCH, DELETE"},
	{CodeBadRoute, "malformed route path (must start with /, no empty segments, no trailing /, {param} identifiers only)"},
	{CodeBadOption, "unknown directive option, bad option value, or option given twice"},
	{CodeDuplicateRoute, "two handlers have the same METHOD and path pattern"},
	{CodeMisplaced, "directive is not on what it applies to (//br2k:state on a struct type, a route on a method of the state type)"},
	{CodeNoState, "the package has route directives but no //br2k:state type"},
	{CodeSeveralStates, "the package has more than one //br2k:state type"},
	{CodeSignature, "handler is not func(*br2k.Ctx, In) (Out, error)"},
	{CodeSeveralRoutes, "a method has more than one route directive"},
	{CodeValueReceiver, "handler has a value receiver; it needs a pointer to the state type"},
	{CodeBadInput, "handler input type is not a named struct type"},
	{CodePathParam, "a {param} of the route has no single string, bool or integer field of the input type to bind to"},
	{CodeNotJSON, "handler input or output type cannot be encoded as JSON"},
	{CodeStateOutsideRead, "an onlyonce handler uses the state outside a read section (ctx.Read or br2k.Read)"},
	{CodeIOInsideRead, "an onlyonce handler calls a dependency (a br2k:\"-\" field) inside a read section"},
	{CodeQueryField, "a query-tagged input field is not an exported, JSON-visible string, bool or integer field (or slice of those), or its tag has an unknown option"},
	{CodeQueryConflict, "a query parameter is bound twice: by two fields, or by a field that a path parameter binds already"},
	{CodeNotReplicable, "a replicated state field has a type that cannot be deep-copied and snapshotted"},
	{CodeHiddenField, "a replicated field is unexported or tagged json:\"-\", so snapshots would lose it"},
	{CodeStateNotStruct, "the //br2k:state type is not a non-generic struct type"},
	{CodeBadTag, "a br2k struct tag has a value other than \"-\""},
	{CodeNameClash, "the package already declares a name that br2kgen generates"},
	{CodeWallClock, "replicated code reads the wall clock (time.Now, Since, Until, timers); use ctx.Now()"},
	{CodeRandomness, "replicated code draws random numbers (math/rand, math/rand/v2, crypto/rand); use ctx.Rand()"},
	{CodeIO, "replicated code does I/O or reads the environment (os, net, net/http, syscall, log, printing, a dependency); do it in an onlyonce handler"},
	{CodeConcurrency, "replicated code starts a goroutine, uses a channel or select, or synchronises (sync, context)"},
	{CodeGlobalWrite, "replicated code writes a package-level variable; keep it in the state"},
	{CodeUnsafe, "replicated code uses package unsafe"},
	{CodeUntrustedCall, "replicated code calls a package that is not on the list of deterministic packages; mark it //br2k:trust if it is deterministic"},
	{CodeMapOrder, "map iteration order can reach the state or the answer; range over sorted keys, or mark the loop //br2k:any-order"},
	{CodeOnlyOnceWrite, "an onlyonce handler writes the state (it runs on the leader alone; state changes go through replicated handlers)"},
	{CodeNearMiss, "a comment looks like a misspelt //br2k: directive (a space, capitals); it is ignored as written"},
	{CodeHookTarget, "a //br2k:backup or //br2k:rollback hook names no replicated handler of the state type"},
	{CodeHookTwice, "a replicated handler has two backup hooks or two rollback hooks"},
	{CodeHookUnpaired, "a replicated handler has a backup hook without a rollback hook, or a rollback hook without a backup hook"},
	{CodeHookSignature, "a hook does not fit its handler: the backup is func(In) B, the rollback func(B), with In the handler's input"},
}

// Summary returns the one-line description of c, or "" for an unknown code.
func (c Code) Summary() string {
	for _, info := range Codes {
		if info.Code == c {
			return info.Summary
		}
	}
	return ""
}

// MarkdownTable renders Codes as a Markdown table for the README.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| code | meaning |\n|---|---|\n")
	for _, info := range Codes {
		fmt.Fprintf(&b, "| %s | %s |\n", info.Code, strings.ReplaceAll(info.Summary, "|", `\|`))
	}
	return b.String()
}
