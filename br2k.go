// Package br2k is what a service's code imports: the context of a handler
// (Ctx), read sections for onlyonce handlers (Read, Ctx.Read) and the errors
// a handler returns (Invalid, NotFound, Conflict, NewError).
//
//	import "github.com/br2k/br2k"
//
//	//br2k:replicate POST /transfers
//	func (l *Ledger) Transfer(ctx *br2k.Ctx, in TransferIn) (Receipt, error) {
//		if in.Amount == 0 {
//			return Receipt{}, br2k.Invalid("amount must be positive")
//		}
//		...
//	}
//
// The names here are the runtime's own (type aliases and thin wrappers), so
// a *br2k.Ctx is a *runtime.Ctx: package runtime and the packages under it
// are the engine (the apply loop, the log, the HTTP servers) that
// generated code and a service's main use; a handler needs only this one.
package br2k

import "github.com/br2k/br2k/runtime"

type (
	// Ctx is the first argument of every handler: the entry's time
	// (Ctx.Now) and random source (Ctx.Rand), the same on every replica,
	// whether this replica leads (Ctx.IsLeader), the entry (Ctx.Entry) and,
	// in onlyonce handlers, read sections (Ctx.Read).
	Ctx = runtime.Ctx
	// EntryInfo describes the log entry a call runs for.
	EntryInfo = runtime.EntryInfo
	// Subject identifies a call: the replica that ordered it and its
	// sequence number there.
	Subject = runtime.Subject
	// Error is an error with an HTTP status and a stable code; a handler
	// returns it (directly or wrapped) to choose what the client sees.
	Error = runtime.Error
	// Service is what br2kgen's NewService returns, for a service's main.
	Service = runtime.Service
)

// Read runs f as a read section of an onlyonce handler and returns its
// result: while f runs no entry is applied, so f sees one consistent state.
// Copy out what the handler needs; do no I/O inside. See Ctx.Read.
func Read[T any](ctx *Ctx, f func() (T, error)) (T, error) { return runtime.Read(ctx, f) }

// Invalid is a 400 error (BR2K_BAD_REQUEST) for input a handler rejects.
func Invalid(format string, args ...any) *Error { return runtime.Invalid(format, args...) }

// NotFound is a 404 error with a code of the caller's choosing, for a
// missing resource.
func NotFound(code, format string, args ...any) *Error {
	return runtime.NotFound(code, format, args...)
}

// Conflict is a 409 error with a code of the caller's choosing, for a call
// that conflicts with the state (insufficient funds, a duplicate id).
func Conflict(code, format string, args ...any) *Error {
	return runtime.Conflict(code, format, args...)
}

// AsError converts any error to an *Error: an *Error in err's chain as
// is; anything else becomes 422 BR2K_HANDLER_FAILED with err's text.
func AsError(err error) *Error { return runtime.AsError(err) }

// NewError is an error with any status and code.
func NewError(status int, code, format string, args ...any) *Error {
	return runtime.NewError(status, code, format, args...)
}
