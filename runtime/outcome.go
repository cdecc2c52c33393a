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

// ErrorOutcome turns err into an outcome with err's status and the JSON error
// body.
func ErrorOutcome(err error) Outcome {
	e := AsError(err)
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
