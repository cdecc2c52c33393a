package runtime

import (
	"net/http"
	"net/url"

	"github.com/go-chi/chi/v5"
)

// PathParam returns the route parameter name of r, percent-decoded exactly
// once.
//
// chi matches a route against r.URL.RawPath when it is set, that is when
// the request's path has escapes that differ from the default encoding of
// the decoded path (/accounts/a%2Fb), and against the decoded r.URL.Path
// otherwise. So a parameter arrives still encoded in the first case and
// decoded in the second: PathParam unescapes it in the first case only, and
// never twice (a parameter sent as %2541 is "%41", not "A"). A malformed
// escape is a 400 BR2K_BAD_PATH_PARAM error that names the parameter.
//
// It assumes that chi routed on the request's own path, as chi's Mux does
// unless a middleware sets chi.Context.RoutePath.
func PathParam(r *http.Request, name string) (string, error) {
	raw := chi.URLParam(r, name)
	if r.URL.RawPath == "" {
		return raw, nil
	}
	v, err := url.PathUnescape(raw)
	if err != nil {
		return "", NewError(http.StatusBadRequest, CodeBadPathParam, "path parameter %q: %q is not validly percent-encoded", name, raw)
	}
	return v, nil
}

// PathIntParam is PathParam parsed as a signed integer of bitSize bits (see
// ParseIntParam). Generated code binds parameters with Bind and PathInt and
// the like; PathIntParam and its siblings remain for br2k_gen.go files
// generated before the op table, and for hand-written routes.
func PathIntParam(r *http.Request, name string, bitSize int) (int64, error) {
	v, err := PathParam(r, name)
	if err != nil {
		return 0, err
	}
	return ParseIntParam(name, v, bitSize)
}

// PathUintParam is PathParam parsed as an unsigned integer of bitSize bits
// (see ParseUintParam).
func PathUintParam(r *http.Request, name string, bitSize int) (uint64, error) {
	v, err := PathParam(r, name)
	if err != nil {
		return 0, err
	}
	return ParseUintParam(name, v, bitSize)
}

// PathBoolParam is PathParam parsed as a bool (see ParseBoolParam).
func PathBoolParam(r *http.Request, name string) (bool, error) {
	v, err := PathParam(r, name)
	if err != nil {
		return false, err
	}
	return ParseBoolParam(name, v)
}
