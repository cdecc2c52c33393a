package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/br2k/br2k/internal/suggest"
)

var (
	durationType = reflect.TypeFor[Duration]()
	secretType   = reflect.TypeFor[Secret]()
)

// decoder decodes JSON into a Config strictly, walking the token stream so
// that every error carries the key path and the line:col of the offending
// token. It keeps going after unknown keys and type errors so that one run
// reports all of them; a syntax error stops it.
type decoder struct {
	data    []byte
	dec     *json.Decoder
	errs    []FieldError
	present map[string]bool // key paths given a non-null value
}

// errSyntax stops decoding; the syntax error itself is already in d.errs.
var errSyntax = errors.New("syntax error")

// decode fills c from data and returns the key paths present and the errors.
func decode(data []byte, c *Config) (map[string]bool, []FieldError) {
	d := &decoder{data: data, dec: json.NewDecoder(bytes.NewReader(data)), present: map[string]bool{}}
	d.dec.UseNumber()
	line, col := d.pos()
	tok, err := d.dec.Token()
	switch {
	case err == io.EOF:
		d.errorAt(line, col, "", "empty file, want a JSON object")
		return nil, d.errs
	case err != nil:
		d.syntax(err)
		return nil, d.errs
	case tok != json.Delim('{'):
		d.errorAt(line, col, "", "want a JSON object at top level, got "+describe(tok))
		return nil, d.errs
	}
	if err := d.object(reflect.ValueOf(c).Elem(), ""); err != nil {
		return nil, d.errs
	}
	line, col = d.pos()
	if _, err := d.dec.Token(); err != io.EOF {
		if err != nil {
			d.syntax(err)
		} else {
			d.errorAt(line, col, "", "unexpected data after the top-level object")
		}
	}
	return d.present, d.errs
}

// object decodes the members of an object whose '{' has been read into the
// struct v; prefix is v's key path.
func (d *decoder) object(v reflect.Value, prefix string) error {
	fields := map[string]int{}
	t := v.Type()
	for i := range t.NumField() {
		if name := jsonName(t.Field(i)); name != "" {
			fields[name] = i
		}
	}
	seen := map[string]bool{}
	for d.dec.More() {
		line, col := d.pos()
		tok, err := d.dec.Token()
		if err != nil {
			return d.syntax(err)
		}
		name := tok.(string) // json.Decoder guarantees a string key here
		key := join(prefix, name)
		i, known := fields[name]
		switch {
		case !known:
			msg := "unknown key"
			if s := suggestKey(name, fields); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			} else if elsewhere := keysNamed(name); len(elsewhere) > 0 {
				if len(elsewhere) > 3 {
					elsewhere = append(elsewhere[:3], "...")
				}
				msg += fmt.Sprintf(" here (it is %s)", strings.Join(elsewhere, " or "))
			}
			d.errorAt(line, col, key, msg)
		case seen[name]:
			d.errorAt(line, col, key, "duplicate key")
			known = false
		}
		seen[name] = true
		if !known {
			if err := d.skip(); err != nil {
				return err
			}
			continue
		}
		if err := d.value(v.Field(i), key); err != nil {
			return err
		}
	}
	if _, err := d.dec.Token(); err != nil { // '}'
		return d.syntax(err)
	}
	return nil
}

// value decodes the next value into v, whose key path is key.
func (d *decoder) value(v reflect.Value, key string) error {
	line, col := d.pos()
	tok, err := d.dec.Token()
	if err != nil {
		return d.syntax(err)
	}
	if tok == nil { // null: leave the field unset, so it gets its default
		return nil
	}
	d.present[key] = true
	mismatch := func(want string) error {
		d.errorAt(line, col, key, "want "+want+", got "+describe(tok))
		return d.skipRest(tok)
	}
	switch v.Type() {
	case durationType:
		s, ok := tok.(string)
		if !ok {
			return mismatch(`a duration string like "2s"`)
		}
		dv, err := parseDuration(s)
		if err != nil {
			return mismatch(`a duration string like "2s"`)
		}
		v.Set(reflect.ValueOf(dv))
		return nil
	case secretType:
		s, ok := tok.(string)
		if !ok {
			return mismatch("a string")
		}
		v.Set(reflect.ValueOf(NewSecret(s)))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		s, ok := tok.(string)
		if !ok {
			return mismatch("a string")
		}
		v.SetString(s)
	case reflect.Int, reflect.Int64:
		n, ok := tok.(json.Number)
		if !ok {
			return mismatch("an integer")
		}
		i, err := strconv.ParseInt(string(n), 10, v.Type().Bits())
		if err != nil {
			return mismatch("an integer")
		}
		v.SetInt(i)
	case reflect.Bool:
		b, ok := tok.(bool)
		if !ok {
			return mismatch("true or false")
		}
		v.SetBool(b)
	case reflect.Slice: // []string
		if tok != json.Delim('[') {
			return mismatch("an array of strings")
		}
		s := reflect.MakeSlice(v.Type(), 0, 0)
		for i := 0; d.dec.More(); i++ {
			elem := reflect.New(v.Type().Elem()).Elem()
			if err := d.value(elem, fmt.Sprintf("%s[%d]", key, i)); err != nil {
				return err
			}
			s = reflect.Append(s, elem)
		}
		if _, err := d.dec.Token(); err != nil { // ']'
			return d.syntax(err)
		}
		v.Set(s)
	case reflect.Pointer: // *struct
		if tok != json.Delim('{') {
			return mismatch("an object")
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return d.object(v.Elem(), key)
	case reflect.Struct:
		if tok != json.Delim('{') {
			return mismatch("an object")
		}
		return d.object(v, key)
	default:
		panic("config: no decoder for " + v.Type().String())
	}
	return nil
}

// skip consumes the next value.
func (d *decoder) skip() error {
	tok, err := d.dec.Token()
	if err != nil {
		return d.syntax(err)
	}
	return d.skipRest(tok)
}

// skipRest consumes the rest of a value whose first token was tok.
func (d *decoder) skipRest(tok json.Token) error {
	if tok != json.Delim('{') && tok != json.Delim('[') {
		return nil
	}
	for depth := 1; depth > 0; {
		tok, err := d.dec.Token()
		if err != nil {
			return d.syntax(err)
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// syntax records a syntax error at its position and returns errSyntax.
// json.Decoder.Token's SyntaxError offsets are not reliable positions, so the
// error is recomputed by checking the whole input with json.Unmarshal, whose
// offsets are.
func (d *decoder) syntax(err error) error {
	var x any
	if uerr := json.Unmarshal(d.data, &x); uerr != nil {
		err = uerr
	}
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se) && se.Error() == "unexpected end of JSON input" || errors.Is(err, io.ErrUnexpectedEOF):
		line, col := lineCol(d.data, len(d.data))
		d.errorAt(line, col, "", "unexpected end of JSON input")
	case errors.As(err, &se):
		line, col := lineCol(d.data, max(int(se.Offset)-1, 0)) // Offset counts the offending byte
		d.errorAt(line, col, "", strings.TrimPrefix(se.Error(), "json: "))
	default:
		d.errorAt(0, 0, "", err.Error())
	}
	return errSyntax
}

func (d *decoder) errorAt(line, col int, key, msg string) {
	d.errs = append(d.errs, FieldError{Key: key, Message: msg, Line: line, Col: col})
}

// pos returns the line and column of the next token.
func (d *decoder) pos() (line, col int) {
	off := int(d.dec.InputOffset())
	for off < len(d.data) {
		switch d.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
			continue
		}
		break
	}
	return lineCol(d.data, off)
}

// lineCol converts a byte offset to a 1-based line and byte column.
func lineCol(data []byte, off int) (line, col int) {
	off = min(off, len(data))
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	return line, off - bytes.LastIndexByte(data[:off], '\n')
}

// describe renders a token for "got ..." in messages.
func describe(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		if t == '{' {
			return "an object"
		}
		return "an array"
	case string:
		if len(t) > 40 {
			t = t[:37] + "..."
		}
		return strconv.Quote(t)
	case nil:
		return "null"
	default:
		return fmt.Sprint(t)
	}
}

func jsonName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
	if name == "-" || !f.IsExported() {
		return ""
	}
	return name
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// keysNamed returns the key paths of Config whose last part is name: a
// key put in the wrong section is named where it belongs.
func keysNamed(name string) []string {
	var paths []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct {
			return
		}
		for i := range t.NumField() {
			f := t.Field(i)
			n := jsonName(f)
			if n == "" {
				continue
			}
			if n == name {
				paths = append(paths, join(prefix, n))
			}
			walk(f.Type, join(prefix, n))
		}
	}
	walk(reflect.TypeFor[Config](), "")
	sort.Strings(paths)
	return paths
}

// suggestKey returns the known key closest to name if it is a likely typo:
// at most two edits, and fewer than half its length.
func suggestKey(name string, fields map[string]int) string {
	keys := make([]string, 0, len(fields))
	for f := range fields {
		keys = append(keys, f)
	}
	best := suggest.Closest(name, keys, 2)
	if best != "" && suggest.Distance(name, best) > len(name)/2 {
		return ""
	}
	return best
}
