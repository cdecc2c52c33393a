package annotations

import (
	"go/token"
	"strings"
)

// ReservedPrefix starts the paths of the runtime's own endpoints
// (/br2k/status, /br2k/internal/...); services cannot route under it.
const ReservedPrefix = "/br2k/"

// parseRoute checks a chi route pattern and returns its parameters. It
// reports the first problem only, at the offending character: a path is
// short, and later problems are often consequences of the first.
func parseRoute(path string, pos token.Position) ([]Param, *Diagnostic) {
	bad := func(off int, format string, args ...any) ([]Param, *Diagnostic) {
		var l List
		l.Add(at(pos, off), CodeBadRoute, format, args...)
		return nil, l[0]
	}
	if !strings.HasPrefix(path, "/") {
		return bad(0, "route %q must start with \"/\"", path)
	}
	if path == "/" {
		return nil, nil
	}
	if path == ReservedPrefix[:len(ReservedPrefix)-1] || strings.HasPrefix(path, ReservedPrefix) {
		return bad(0, "route %q: paths under %s are reserved for the br2k runtime (status, forwarding)", path, ReservedPrefix)
	}
	if strings.HasSuffix(path, "/") {
		return bad(len(path)-1, "route %q must not end with \"/\"", path)
	}
	var params []Param
	seen := map[string]bool{}
	off := 1
	for _, seg := range strings.Split(path[1:], "/") {
		switch {
		case seg == "":
			return bad(off, "route %q has an empty segment", path)
		case seg == "." || seg == "..":
			return bad(off, "route %q has a %q segment", path, seg)
		case strings.ContainsAny(seg, "{}"):
			if seg[0] != '{' || seg[len(seg)-1] != '}' || strings.Count(seg, "{") != 1 || strings.Count(seg, "}") != 1 {
				return bad(off+strings.IndexAny(seg, "{}"), "route segment %q: a parameter must be a whole segment, like {name}", seg)
			}
			name := seg[1 : len(seg)-1]
			if strings.Contains(name, ":") {
				return bad(off, "route parameter %s: regular expressions are not supported", seg)
			}
			if !isIdent(name) {
				return bad(off, "route parameter %s: the name must be an identifier", seg)
			}
			if seen[name] {
				return bad(off, "route parameter %s appears twice", seg)
			}
			seen[name] = true
			params = append(params, Param{Name: name, Pos: at(pos, off)})
		default:
			for i := 0; i < len(seg); i++ {
				c := seg[i]
				if c == '*' {
					return bad(off+i, "route %q: wildcards (*) are not supported", path)
				}
				if !pathChar(c) {
					return bad(off+i, "route %q: character %q is not allowed in a path", path, c)
				}
			}
		}
		off += len(seg) + 1
	}
	return params, nil
}

// pathChar reports whether c may appear literally in a static segment:
// RFC 3986 unreserved characters, sub-delimiters, ':' and '@'.
func pathChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()+,;=:@", c) >= 0
}

// isIdent reports whether s is an ASCII Go-style identifier. Keywords are
// fine: {type} is a good parameter name.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9' {
			continue
		}
		return false
	}
	return true
}
