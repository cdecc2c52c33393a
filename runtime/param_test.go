package runtime

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/go-chi/chi/v5"
)

// routeParam sends req through a chi router with the route pattern and
// returns what get returned in the handler.
func routeParam[T any](t *testing.T, pattern string, req *http.Request, get func(*http.Request) (T, error)) (T, error) {
	t.Helper()
	var v T
	var err error
	routed := false
	r := chi.NewRouter()
	r.Get(pattern, func(w http.ResponseWriter, req *http.Request) {
		routed = true
		v, err = get(req)
	})
	r.ServeHTTP(httptest.NewRecorder(), req)
	if !routed {
		t.Fatalf("%s did not match %s", req.URL, pattern)
	}
	return v, err
}

func TestPathParamDecodesOnce(t *testing.T) {
	tests := []struct {
		path string
		want string
	}{
		{"/accounts/alice", "alice"},
		{"/accounts/a%2Fb", "a/b"},         // chi routes on RawPath: the parameter arrives encoded
		{"/accounts/%2541", "%41"},         // chi routes on Path: decoded already, not again
		{"/accounts/a%2Fb%2541", "a/b%41"}, // both at once: decoded once
		{"/accounts/a%20b", "a b"},
		{"/accounts/%E2%82%AC", "€"},
		{"/accounts/a+b", "a+b"}, // a path has no + for space
	}
	for _, tt := range tests {
		got, err := routeParam(t, "/accounts/{id}", httptest.NewRequest("GET", tt.path, nil), func(r *http.Request) (string, error) {
			return PathParam(r, "id")
		})
		if err != nil || got != tt.want {
			t.Errorf("%s: PathParam = %q, %v; want %q", tt.path, got, err, tt.want)
		}
	}
}

func TestPathParamRejectsAMalformedEscape(t *testing.T) {
	// net/http refuses such a request line; a proxy or middleware might
	// still hand one on.
	req := httptest.NewRequest("GET", "/accounts/a", nil)
	req.URL.RawPath = "/accounts/a%zz"
	_, err := routeParam(t, "/accounts/{id}", req, func(r *http.Request) (string, error) {
		return PathParam(r, "id")
	})
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != CodeBadPathParam || e.Message != `path parameter "id": "a%zz" is not validly percent-encoded` {
		t.Errorf("error %#v", err)
	}
}

func TestPathParamRefusesEmptyAndNonUTF8Values(t *testing.T) {
	for path, want := range map[string]string{
		"/events//bookings":     `path parameter "id" is empty`,
		"/events/%FF/bookings":  `path parameter "id": "%FF" is not UTF-8`,
		"/events/a%C3/bookings": `path parameter "id": "a%C3" is not UTF-8`,
	} {
		_, err := routeParam(t, "/events/{id}/bookings", httptest.NewRequest("GET", path, nil), func(r *http.Request) (string, error) {
			return PathParam(r, "id")
		})
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != CodeBadPathParam || e.Message != want {
			t.Errorf("%s: error %#v, want 400 %s %q", path, err, CodeBadPathParam, want)
		}
	}
}

func TestPathParamsOfOtherTypesAreDecodedThenParsed(t *testing.T) {
	n, err := routeParam(t, "/mints/{mint}", httptest.NewRequest("GET", "/mints/%31%32", nil), func(r *http.Request) (uint64, error) {
		return PathUintParam(r, "mint", 64)
	})
	if err != nil || n != 12 {
		t.Errorf("PathUintParam = %d, %v; want 12", n, err)
	}
	i, err := routeParam(t, "/shards/{shard}", httptest.NewRequest("GET", "/shards/%2D3", nil), func(r *http.Request) (int64, error) {
		return PathIntParam(r, "shard", 8)
	})
	if err != nil || i != -3 {
		t.Errorf("PathIntParam = %d, %v; want -3", i, err)
	}
	b, err := routeParam(t, "/flags/{on}", httptest.NewRequest("GET", "/flags/tru%65", nil), func(r *http.Request) (bool, error) {
		return PathBoolParam(r, "on")
	})
	if err != nil || !b {
		t.Errorf("PathBoolParam = %v, %v; want true", b, err)
	}

	for _, tt := range []struct {
		path, raw string
		get       func(*http.Request) (int64, error)
		msg       string
	}{
		{"/n/%3400", "", func(r *http.Request) (int64, error) { return PathIntParam(r, "n", 8) }, `path parameter "n": "400" is not an integer of 8 bits`},
		{"/n/1", "/n/%zz", func(r *http.Request) (int64, error) { return PathIntParam(r, "n", 64) }, `path parameter "n": "%zz" is not validly percent-encoded`},
		{"/n/1", "/n/%zz", func(r *http.Request) (int64, error) {
			v, err := PathUintParam(r, "n", 64)
			return int64(v), err
		}, `path parameter "n": "%zz" is not validly percent-encoded`},
		{"/n/1", "/n/%zz", func(r *http.Request) (int64, error) {
			_, err := PathBoolParam(r, "n")
			return 0, err
		}, `path parameter "n": "%zz" is not validly percent-encoded`},
		{"/n/%2531", "", func(r *http.Request) (int64, error) { return PathIntParam(r, "n", 64) }, `path parameter "n": "%31" is not an integer of 64 bits`},
	} {
		req := httptest.NewRequest("GET", tt.path, nil)
		if tt.raw != "" {
			req.URL.RawPath = tt.raw
		}
		_, err := routeParam(t, "/n/{n}", req, tt.get)
		var e *Error
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != CodeBadPathParam || e.Message != tt.msg {
			t.Errorf("%s (raw %q): error %v, want 400 %s %s", tt.path, tt.raw, err, CodeBadPathParam, tt.msg)
		}
	}
}
