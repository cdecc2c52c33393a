package runtime

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unsafe"
)

// Param binds one path or query parameter of a request to a field of a
// handler's input. Generated code makes one per parameter with PathString,
// QueryInt, QueryStrings and the like, which take a pointer to the field and
// are generic over its type, so a named type (type Level int16) needs no
// conversion; Bind applies them to a request.
type Param struct {
	name     string
	query    bool
	required bool
	repeated bool // a slice field: one element per occurrence of the key
	// set parses vals (exactly one unless repeated) and stores them in the
	// field. On failure it returns the value at fault and what it should
	// have been, and leaves the field alone.
	set func(vals []string) (bad, want string)
}

// Required returns p with its query parameter required: a request without
// it is refused. Path parameters are always present.
func (p Param) Required() Param {
	p.required = true
	return p
}

// Bind binds params to the request: path parameters in order, then query
// parameters. The query string must hold only the params' keys, each once
// unless its field is a slice; a key it lacks leaves its field as it is
// unless the param is Required. The first problem is returned as a 400
// *Error that names the parameter: BR2K_BAD_PATH_PARAM,
// BR2K_BAD_QUERY_PARAM or BR2K_UNKNOWN_QUERY_PARAM.
func Bind(r *http.Request, params ...Param) error {
	for _, p := range params {
		if p.query {
			continue
		}
		raw, err := PathParam(r, p.name)
		if err != nil {
			return err
		}
		if bad, want := p.set([]string{raw}); want != "" {
			return badValue("path", CodeBadPathParam, p.name, bad, want)
		}
	}
	keys, query, err := parseQuery(r.URL.RawQuery)
	if err != nil {
		return err
	}
	for _, key := range keys {
		if !hasQueryParam(params, key) {
			return NewError(http.StatusBadRequest, CodeUnknownQueryParam, "unknown query parameter %q", key)
		}
	}
	for _, p := range params {
		if !p.query {
			continue
		}
		vals := query[p.name]
		switch {
		case len(vals) == 0 && p.required:
			return NewError(http.StatusBadRequest, CodeBadQueryParam, "query parameter %q is required", p.name)
		case len(vals) == 0:
			continue
		case len(vals) > 1 && !p.repeated:
			return NewError(http.StatusBadRequest, CodeBadQueryParam, "query parameter %q is given %d times; it takes one value", p.name, len(vals))
		}
		if bad, want := p.set(vals); want != "" {
			return badValue("query", CodeBadQueryParam, p.name, bad, want)
		}
	}
	return nil
}

func hasQueryParam(params []Param, key string) bool {
	for _, p := range params {
		if p.query && p.name == key {
			return true
		}
	}
	return false
}

// parseQuery splits a raw query string into its keys, in order of first
// appearance, and their values. Unlike url.ParseQuery it names the
// parameter whose escape is malformed, and it stops there.
func parseQuery(raw string) (keys []string, vals map[string][]string, err error) {
	vals = map[string][]string{}
	for rest := raw; rest != ""; {
		var pair string
		pair, rest, _ = strings.Cut(rest, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(k)
		if err != nil {
			return nil, nil, NewError(http.StatusBadRequest, CodeBadQueryParam, "query parameter name %q is not validly percent-encoded", k)
		}
		if strings.Contains(pair, ";") {
			// As net/url: a ";" separator is ambiguous between servers.
			return nil, nil, NewError(http.StatusBadRequest, CodeBadQueryParam, "query parameter %q: the query string has a \";\"; separate parameters with \"&\" and escape \";\" in values as %%3B", key)
		}
		val, err := url.QueryUnescape(v)
		if err != nil {
			return nil, nil, NewError(http.StatusBadRequest, CodeBadQueryParam, "query parameter %q: %q is not validly percent-encoded", key, v)
		}
		if _, ok := vals[key]; !ok {
			keys = append(keys, key)
		}
		vals[key] = append(vals[key], val)
	}
	return keys, vals, nil
}

func badValue(where, code, name, raw, want string) *Error {
	return NewError(http.StatusBadRequest, code, "%s parameter %q: %q is not %s", where, name, raw, want)
}

type signed interface {
	~int | ~int8 | ~int16 | ~int32 | ~int64
}

type unsigned interface {
	~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64
}

// parser parses one parameter value into a T; want says what a value must
// be, for the error that names a bad one.
type parser[T any] struct {
	parse func(string) (T, bool)
	want  string
}

func stringParser[T ~string]() parser[T] {
	return parser[T]{parse: func(s string) (T, bool) { return T(s), true }}
}

func boolParser[T ~bool]() parser[T] {
	return parser[T]{want: "true or false", parse: func(s string) (T, bool) {
		v, err := strconv.ParseBool(s)
		return T(v), err == nil
	}}
}

func intParser[T signed]() parser[T] {
	var zero T
	bits := 8 * int(unsafe.Sizeof(zero))
	return parser[T]{want: fmt.Sprintf("an integer of %d bits", bits), parse: func(s string) (T, bool) {
		v, err := strconv.ParseInt(s, 10, bits)
		return T(v), err == nil
	}}
}

func uintParser[T unsigned]() parser[T] {
	var zero T
	bits := 8 * int(unsafe.Sizeof(zero))
	return parser[T]{want: fmt.Sprintf("an unsigned integer of %d bits", bits), parse: func(s string) (T, bool) {
		v, err := strconv.ParseUint(s, 10, bits)
		return T(v), err == nil
	}}
}

// one binds a single value to *field.
func one[T any](name string, query bool, ps parser[T], field *T) Param {
	return Param{name: name, query: query, set: func(vals []string) (string, string) {
		v, ok := ps.parse(vals[0])
		if !ok {
			return vals[0], ps.want
		}
		*field = v
		return "", ""
	}}
}

// many binds every value of a repeated query key to *field, replacing what
// the body set.
func many[S ~[]T, T any](name string, ps parser[T], field *S) Param {
	return Param{name: name, query: true, repeated: true, set: func(vals []string) (string, string) {
		out := make(S, len(vals))
		for i, raw := range vals {
			v, ok := ps.parse(raw)
			if !ok {
				return raw, ps.want
			}
			out[i] = v
		}
		*field = out
		return "", ""
	}}
}

// PathString binds path parameter name (see PathParam) to *field.
func PathString[T ~string](name string, field *T) Param {
	return one(name, false, stringParser[T](), field)
}

// PathBool binds path parameter name to *field, parsed by strconv.ParseBool.
func PathBool[T ~bool](name string, field *T) Param {
	return one(name, false, boolParser[T](), field)
}

// PathInt binds path parameter name to *field, a decimal integer in the
// field type's range.
func PathInt[T signed](name string, field *T) Param {
	return one(name, false, intParser[T](), field)
}

// PathUint binds path parameter name to *field, a decimal unsigned integer
// in the field type's range.
func PathUint[T unsigned](name string, field *T) Param {
	return one(name, false, uintParser[T](), field)
}

// QueryString binds query parameter name (given at most once) to *field.
func QueryString[T ~string](name string, field *T) Param {
	return one(name, true, stringParser[T](), field)
}

// QueryBool binds query parameter name to *field, parsed by
// strconv.ParseBool.
func QueryBool[T ~bool](name string, field *T) Param {
	return one(name, true, boolParser[T](), field)
}

// QueryInt binds query parameter name to *field, a decimal integer in the
// field type's range.
func QueryInt[T signed](name string, field *T) Param {
	return one(name, true, intParser[T](), field)
}

// QueryUint binds query parameter name to *field, a decimal unsigned
// integer in the field type's range.
func QueryUint[T unsigned](name string, field *T) Param {
	return one(name, true, uintParser[T](), field)
}

// QueryStrings binds every value of the repeated query key name to *field,
// in order, replacing what the body set. A request without the key leaves
// *field as it is.
func QueryStrings[S ~[]T, T ~string](name string, field *S) Param {
	return many(name, stringParser[T](), field)
}

// QueryBools is QueryStrings for a slice of bools.
func QueryBools[S ~[]T, T ~bool](name string, field *S) Param {
	return many(name, boolParser[T](), field)
}

// QueryInts is QueryStrings for a slice of integers.
func QueryInts[S ~[]T, T signed](name string, field *S) Param {
	return many(name, intParser[T](), field)
}

// QueryUints is QueryStrings for a slice of unsigned integers.
func QueryUints[S ~[]T, T unsigned](name string, field *S) Param {
	return many(name, uintParser[T](), field)
}
