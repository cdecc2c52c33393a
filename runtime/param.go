package runtime

import (
	"net/http"
	"net/url"
	"unicode/utf8"

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
// escape, an empty parameter and one that is not UTF-8 are 400
// BR2K_BAD_PATH_PARAM errors that name the parameter.
//
// It assumes that chi routed on the request's own path, as chi's Mux does
// unless a middleware sets chi.Context.RoutePath.
func PathParam(r *http.Request, name string) (string, error) {
	raw := chi.URLParam(r, name)
	v := raw
	if r.URL.RawPath != "" {
		var err error
		if v, err = url.PathUnescape(raw); err != nil {
			return "", NewError(http.StatusBadRequest, CodeBadPathParam, "path parameter %q: %q is not validly percent-encoded", name, raw)
		}
	}
	// An empty segment (/events//bookings) names nothing; bytes that are
	// not UTF-8 (%FF) could be stored but never shown or sent back as
	// they are (JSON replaces them).
	switch {
	case v == "":
		return "", NewError(http.StatusBadRequest, CodeBadPathParam, "path parameter %q is empty", name)
	case !utf8.ValidString(v):
		return "", NewError(http.StatusBadRequest, CodeBadPathParam, "path parameter %q: %q is not UTF-8", name, url.PathEscape(v))
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
