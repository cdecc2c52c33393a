package runtime

import (
	"encoding/json"
	"net/http"
)

// Outcome is what a call produced: the HTTP status and JSON body the client
// gets. Outcomes of onlyonce calls and of calls with an Idempotency-Key are
// kept so that a retry gets the same answer.
type Outcome struct {
	Status int             `json:"status"`
	Body   json.RawMessage `json:"body"`
}

// OK reports whether the outcome is a success (2xx).
func (o Outcome) OK() bool { return o.Status >= 200 && o.Status < 300 }

// errorBody is the one JSON shape of every error a client sees.
type errorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// ErrorOutcome turns a handler's error into an outcome with err's status and
// the JSON error body. Two things a handler cannot say are corrected, the
// same way on every replica: a status that is not 4xx or 5xx becomes 500, and
// a code of the runtime's "safe to retry" answers (BR2K_NOT_LEADER and the
// like) becomes 500 BR2K_INTERNAL, since a client would retry a call that
// ran.
func ErrorOutcome(err error) Outcome {
	e := AsError(err)
	switch {
	case retryCodes[e.Code]:
		e = NewError(http.StatusInternalServerError, CodeInternal,
			"the handler returned the runtime's own answer %s (%s), which only the runtime may give", e.Code, e.Message)
	case e.Status < 400 || e.Status > 599:
		e = &Error{Status: http.StatusInternalServerError, Code: e.Code, Message: e.Message}
	}
	return errorOutcome(e)
}

// RuntimeErrorOutcome renders an error of the runtime itself, retry codes
// included, faithfully. Handler errors go through ErrorOutcome.
func RuntimeErrorOutcome(e *Error) Outcome { return errorOutcome(e) }

func errorOutcome(e *Error) Outcome {
	var b errorBody
	b.Error.Code = e.Code
	b.Error.Message = e.Message
	body, _ := json.Marshal(b) // two strings: cannot fail
	return Outcome{Status: e.Status, Body: body}
}

// ResultOutcome encodes a handler's result as a 200 outcome. A result that
// cannot be encoded becomes a 500 outcome: every replica fails to encode it
// in the same way, so the outcome stays deterministic.
func ResultOutcome(v any) Outcome {
	body, err := json.Marshal(v)
	if err != nil {
		return ErrorOutcome(NewError(http.StatusInternalServerError, CodeInternal, "encode result: %v", err))
	}
	return Outcome{Status: http.StatusOK, Body: body}
}

// DecodeError reads the code and message of an error outcome's body. ok is
// false when the body is not the br2k error shape.
func (o Outcome) DecodeError() (code, message string, ok bool) {
	var b errorBody
	if json.Unmarshal(o.Body, &b) != nil || b.Error.Code == "" {
		return "", "", false
	}
	return b.Error.Code, b.Error.Message, true
}
