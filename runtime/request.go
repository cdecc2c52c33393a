package runtime

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// DefaultMaxBody is a route's request body limit when its directive sets no
// maxbody option: 1 MiB.
const DefaultMaxBody int64 = 1 << 20

// BodyReadError is the answer to a request whose body could not be read:
// 408 when it did not arrive in time (a slow or stalled client, cut off by
// replica.read-timeout), else 400. The message says which, without the
// connection's addresses that the network error names.
func BodyReadError(err error) *Error {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return NewError(http.StatusRequestTimeout, CodeRequestTimeout, "the request body did not arrive in time (replica.read-timeout)")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return NewError(http.StatusBadRequest, CodeBadRequest, "the request body ended before its Content-Length")
	}
	return NewError(http.StatusBadRequest, CodeBadRequest, "the request body could not be read: the connection failed")
}

// DecodeJSON reads r's body, at most maxBody bytes, into v. An empty body
// leaves v as it is (inputs may come from path parameters alone). Unknown
// fields, trailing data and type mismatches are rejected with a 4xx *Error
// that names the problem.
func DecodeJSON(r *http.Request, maxBody int64, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return BodyReadError(err)
	}
	if int64(len(body)) > maxBody {
		return NewError(http.StatusRequestEntityTooLarge, CodeBodyTooLarge, "request body exceeds the limit of %d bytes", maxBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, body)
	}
	// Anything but white space after the value is refused (dec.More alone
	// would let "]" or "}" and what follows them through).
	if end := dec.InputOffset(); len(bytes.TrimSpace(body[end:])) > 0 {
		return NewError(http.StatusBadRequest, CodeBadJSON, "unexpected data after the JSON value at byte offset %d", end)
	}
	return nil
}

// jsonError turns an encoding/json error into a client error naming the
// field or byte offset at fault.
func jsonError(err error, body []byte) *Error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		// Offset counts the bytes read, the bad one included.
		return NewError(http.StatusBadRequest, CodeBadJSON, "malformed JSON at byte offset %d: %v", max(syn.Offset-1, 0), syn)
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "(body)"
		}
		return NewError(http.StatusBadRequest, CodeBadJSON, "field %q: expected %s, got JSON %s", field, typ.Type, typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return NewError(http.StatusBadRequest, CodeBadJSON, "malformed JSON: unexpected end of body after %d bytes", len(body))
	}
	// encoding/json reports unknown fields only as text: `json: unknown field "x"`.
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return NewError(http.StatusBadRequest, CodeUnknownField, "unknown field %s", name)
	}
	return NewError(http.StatusBadRequest, CodeBadJSON, "%v", err)
}

// ParseIntParam parses path parameter name as a signed integer of bitSize bits.
func ParseIntParam(name, raw string, bitSize int) (int64, error) {
	v, err := strconv.ParseInt(raw, 10, bitSize)
	if err != nil {
		return 0, badParam(name, raw, fmt.Sprintf("an integer of %d bits", bitSize))
	}
	return v, nil
}

// ParseUintParam parses path parameter name as an unsigned integer of
// bitSize bits.
func ParseUintParam(name, raw string, bitSize int) (uint64, error) {
	v, err := strconv.ParseUint(raw, 10, bitSize)
	if err != nil {
		return 0, badParam(name, raw, fmt.Sprintf("an unsigned integer of %d bits", bitSize))
	}
	return v, nil
}

// ParseBoolParam parses path parameter name as a bool.
func ParseBoolParam(name, raw string) (bool, error) {
	v, err := strconv.ParseBool(raw)
	if err != nil {
		return false, badParam(name, raw, "true or false")
	}
	return v, nil
}

func badParam(name, raw, want string) *Error {
	return badValue("path", CodeBadPathParam, name, raw, want)
}
