package runtime

import (
	"errors"
	"fmt"
	"net/http"
)

// Stable error codes. Clients see them as {"error": {"code": ..., "message": ...}};
// the README's error table documents each.
const (
	CodeBadJSON             = "BR2K_BAD_JSON"             // 400: body is not valid JSON for the input type
	CodeUnknownField        = "BR2K_UNKNOWN_FIELD"        // 400: body has a field the input type lacks
	CodeBadPathParam        = "BR2K_BAD_PATH_PARAM"       // 400: a path parameter does not parse as its field's type
	CodeBadQueryParam       = "BR2K_BAD_QUERY_PARAM"      // 400: a query parameter is malformed, repeated, missing though required, or does not parse as its field's type
	CodeUnknownQueryParam   = "BR2K_UNKNOWN_QUERY_PARAM"  // 400: the query string has a parameter the input type does not bind
	CodeBadRequest          = "BR2K_BAD_REQUEST"          // 400: other malformed request
	CodeHeadersTooLarge     = "BR2K_HEADERS_TOO_LARGE"    // 431: the request's headers are over 64 KiB
	CodeRequestTimeout      = "BR2K_REQUEST_TIMEOUT"      // 408: the request's body did not arrive within replica.read-timeout
	CodeBodyTooLarge        = "BR2K_BODY_TOO_LARGE"       // 413: body over the route's limit
	CodeNotFound            = "BR2K_NOT_FOUND"            // 404: no route for the path
	CodeMethodNotAllowed    = "BR2K_METHOD_NOT_ALLOWED"   // 405: the path exists for other methods
	CodeIdempotencyMismatch = "BR2K_IDEMPOTENCY_MISMATCH" // 422: Idempotency-Key reused for a different request
	CodeOnlyOnceInterrupted = "BR2K_ONLYONCE_INTERRUPTED" // 409: an onlyonce call with this key started on a lost leader; it is not run again
	CodeHandlerFailed       = "BR2K_HANDLER_FAILED"       // 422: the handler returned a plain error
	CodeNotLeader           = "BR2K_NOT_LEADER"           // 503: this replica lost leadership before ordering the call; safe to retry
	CodeNoLeader            = "BR2K_NO_LEADER"            // 503: no leader is known (election in progress); safe to retry
	CodeOutcomeUnknown      = "BR2K_OUTCOME_UNKNOWN"      // 503: the call may or may not have been applied; retry with the same Idempotency-Key
	CodeUnavailable         = "BR2K_UNAVAILABLE"          // 503: the replica is starting or stopping
	CodeTimeout             = "BR2K_TIMEOUT"              // 504: a wait ran out of time
	CodeInternal            = "BR2K_INTERNAL"             // 500: a bug or an I/O failure
	CodeHandlerPanic        = "BR2K_HANDLER_PANIC"        // 500: the handler panicked; a replicated call was undone on every replica
	CodeOutcomeNotRecorded  = "BR2K_OUTCOME_NOT_RECORDED" // 500: the call ran, but its outcome is too large to record; a retry gets this answer again
	CodeStorageFull         = "BR2K_STORAGE_FULL"         // 507: etcd refused the append: its space quota is exhausted; nothing was ordered
	CodeDiverged            = "BR2K_DIVERGED"             // 503: this replica's state differs from the majority's; it stopped serving; another replica answers
	CodeCatchingUp          = "BR2K_CATCHING_UP"          // 503: this replica is still loading its state or replaying the log; another replica answers
	CodeTooManyRequests     = "BR2K_TOO_MANY_REQUESTS"    // 429: a bounded runtime resource (waiters) is full; retry later
	CodeBadIdempotencyKey   = "BR2K_BAD_IDEMPOTENCY_KEY"  // 400: Idempotency-Key over 256 bytes or not printable ASCII without spaces
	CodeUnauthorized        = "BR2K_UNAUTHORIZED"         // 401: a peer request without valid credentials
	CodePeerRefused         = "BR2K_PEER_REFUSED"         // 503: the leader refused this replica's forwarded call: their peer secrets differ; nothing was ordered; another replica may answer
)

// retryCodes are the codes that tell a client "safe to retry": only the
// runtime may answer them. A handler error that carries one would make a
// client retry a call that ran, so ErrorOutcome turns it into a 500.
var retryCodes = map[string]bool{
	CodeNotLeader: true, CodeNoLeader: true, CodeUnavailable: true, CodeOutcomeUnknown: true,
	CodeTimeout: true, CodeTooManyRequests: true, CodeDiverged: true, CodePeerRefused: true,
}

// Error is an error with an HTTP status and a stable code. Handlers return it
// (directly or wrapped) to choose what the client sees; any other error from a
// handler becomes 422 BR2K_HANDLER_FAILED with the error's text.
type Error struct {
	Status  int
	Code    string
	Message string
	Err     error // optional cause, for errors.Is/As
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is lets errors.Is(err, ErrNotLeader) match any *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// NewError returns an *Error with the given status, code and formatted message.
func NewError(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// Sentinels for errors.Is.
var (
	ErrNotLeader      = &Error{Status: http.StatusServiceUnavailable, Code: CodeNotLeader, Message: "this replica is not the leader"}
	ErrNoLeader       = &Error{Status: http.StatusServiceUnavailable, Code: CodeNoLeader, Message: "no leader is known yet"}
	ErrOutcomeUnknown = &Error{Status: http.StatusServiceUnavailable, Code: CodeOutcomeUnknown, Message: "the call may or may not have been applied; retry with the same Idempotency-Key"}
	ErrUnavailable    = &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: "replica is not serving"}
	ErrStorageFull    = &Error{Status: http.StatusInsufficientStorage, Code: CodeStorageFull, Message: "the log's etcd storage is full (space quota exhausted); nothing was ordered"}
)

// Invalid is a 400 error for input a handler rejects.
func Invalid(format string, args ...any) *Error {
	return NewError(http.StatusBadRequest, CodeBadRequest, format, args...)
}

// NotFound is a 404 error with a caller-chosen code, for a missing resource.
func NotFound(code, format string, args ...any) *Error {
	return NewError(http.StatusNotFound, code, format, args...)
}

// Conflict is a 409 error with a caller-chosen code, for a request that
// conflicts with the current state (insufficient funds, duplicate id, ...).
func Conflict(code, format string, args ...any) *Error {
	return NewError(http.StatusConflict, code, format, args...)
}

// AsError converts any error to an *Error: an *Error in err's chain is used
// as is; anything else becomes 422 BR2K_HANDLER_FAILED.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Status: http.StatusUnprocessableEntity, Code: CodeHandlerFailed, Message: err.Error(), Err: err}
}
