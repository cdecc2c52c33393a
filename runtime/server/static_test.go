package server

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/br2k/br2k/example/ledger"
	"github.com/br2k/br2k/runtime"
	"github.com/br2k/br2k/runtime/httpx"
)

// publicRouter is the public router of a replica of the ledger without the
// replica: the runtime's JSON router, a stand-in for /br2k/status and the
// ledger's routes (no call reaches the nil proposer: the routes are only
// routed, never called).
func publicRouter() chi.Router {
	r := httpx.NewRouter(slog.New(slog.DiscardHandler))
	r.Get(httpx.PathStatus, func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, `{"role":"leader"}`) })
	ledger.NewService(ledger.New(nil)).Mount(r, nil)
	return r
}

type answer struct {
	status      int
	contentType string
	allow       string
	location    string
	code        string // the JSON error's code, if the body is one
	body        string
}

func ask(t *testing.T, base, method, path string) answer {
	t.Helper()
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	// See the redirects themselves, not where they lead.
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type"), allow: resp.Header.Get("Allow"),
		location: resp.Header.Get("Location"), body: string(b)}
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil {
		a.code = e.Error.Code
	}
	return a
}

func writeDist(t *testing.T) string {
	t.Helper()
	dist := t.TempDir()
	for name, body := range map[string]string{
		"index.html":      "<h1>ledger</h1>",
		"app.js":          "console.log('ledger')",
		"assets/logo.svg": "<svg/>",             // a directory without index.html
		"docs/index.html": "<h1>docs</h1>",      // a directory with one
		"br2k/nope":       "shadowed by /br2k/", // the runtime's paths are never the front end's
	} {
		p := filepath.Join(dist, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dist
}

// TestFrontEndServesFilesOnlyForGETAndHEADOfUnroutedPaths: with
// webpack-config.dist the front end's files answer GET and HEAD of the paths
// no route has, outside /br2k/; every other request gets the JSON answer
// the replica gives without a front end, or a JSON 404/405 of its own.
func TestFrontEndServesFilesOnlyForGETAndHEADOfUnroutedPaths(t *testing.T) {
	plain := httptest.NewServer(publicRouter())
	defer plain.Close()
	r := publicRouter()
	if err := serveFrontEnd(r, writeDist(t)); err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(r)
	defer front.Close()

	// The files.
	for _, c := range []struct{ path, body, contentType string }{
		{"/", "<h1>ledger</h1>", "text/html"},
		{"/app.js", "console.log('ledger')", "text/javascript"},
		{"/docs/", "<h1>docs</h1>", "text/html"},
		{"/assets/logo.svg", "<svg/>", "image/svg+xml"},
	} {
		a := ask(t, front.URL, http.MethodGet, c.path)
		if a.status != 200 || a.body != c.body || !strings.HasPrefix(a.contentType, c.contentType) {
			t.Errorf("GET %s: %d %q %q, want 200 %q %q", c.path, a.status, a.contentType, a.body, c.contentType, c.body)
		}
		if a := ask(t, front.URL, http.MethodHead, c.path); a.status != 200 || a.body != "" {
			t.Errorf("HEAD %s: %d %q, want 200 and no body", c.path, a.status, a.body)
		}
	}
	// The runtime's and the service's routes are still theirs.
	if a := ask(t, front.URL, http.MethodGet, "/br2k/status"); a.status != 200 || !strings.Contains(a.body, "leader") {
		t.Errorf("GET /br2k/status: %d %s", a.status, a.body)
	}

	// Whatever chi routes, or the front end has no file for, answers as
	// without a front end: the same status, JSON error code and Allow.
	for _, c := range []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/transfers", 405, runtime.CodeMethodNotAllowed}, // a POST-only route
		{http.MethodHead, "/transfers", 405, runtime.CodeMethodNotAllowed},
		{http.MethodDelete, "/transfers", 405, runtime.CodeMethodNotAllowed},
		{http.MethodDelete, "/nope", 404, runtime.CodeNotFound},
		{http.MethodPost, "/nope", 404, runtime.CodeNotFound},
		{http.MethodGet, "/nope", 404, runtime.CodeNotFound},
		{http.MethodGet, "/nope.js", 404, runtime.CodeNotFound},
		{http.MethodGet, "/br2k/nope", 404, runtime.CodeNotFound}, // though dist has br2k/nope
		{http.MethodGet, "/br2k", 404, runtime.CodeNotFound},
		{http.MethodGet, "/br2k/", 404, runtime.CodeNotFound},
		{http.MethodGet, "/assets/", 404, runtime.CodeNotFound}, // no listing
		{http.MethodGet, "/assets", 404, runtime.CodeNotFound},
	} {
		if c.method == http.MethodHead {
			c.code = "" // no body
		}
		want := ask(t, plain.URL, c.method, c.path)
		if want.status != c.status || want.code != c.code {
			t.Fatalf("without a front end, %s %s: %d %q, want %d %s", c.method, c.path, want.status, want.body, c.status, c.code)
		}
		got := ask(t, front.URL, c.method, c.path)
		if got.status != want.status || got.code != want.code || got.allow != want.allow || got.contentType != "application/json" {
			t.Errorf("%s %s: %d %s allow=%q %q; without a front end: %d %s allow=%q", c.method, c.path,
				got.status, got.contentType, got.allow, got.body, want.status, want.code, want.allow)
		}
		if strings.Contains(got.body, "logo.svg") {
			t.Errorf("%s %s lists a directory: %s", c.method, c.path, got.body)
		}
	}

	// Other methods on the front end's files: 405, not the file, nor
	// http.FileServer's redirect of /index.html.
	for _, c := range []struct{ method, path string }{
		{http.MethodPost, "/index.html"},
		{http.MethodPost, "/"},
		{http.MethodPut, "/app.js"},
		{http.MethodDelete, "/docs/"},
		{http.MethodOptions, "/app.js"},
	} {
		a := ask(t, front.URL, c.method, c.path)
		if a.status != 405 || a.code != runtime.CodeMethodNotAllowed || a.allow != "GET, HEAD" || a.location != "" {
			t.Errorf("%s %s: %d %s allow=%q location=%q %q, want a JSON 405 %s allowing GET, HEAD",
				c.method, c.path, a.status, a.contentType, a.allow, a.location, a.body, runtime.CodeMethodNotAllowed)
		}
	}
	// GET keeps http.FileServer's canonical paths.
	if a := ask(t, front.URL, http.MethodGet, "/index.html"); a.status != http.StatusMovedPermanently || a.location != "./" {
		t.Errorf("GET /index.html: %d location=%q, want 301 to ./", a.status, a.location)
	}
	if a := ask(t, front.URL, http.MethodGet, "/docs"); a.status != http.StatusMovedPermanently || a.location != "docs/" {
		t.Errorf("GET /docs: %d location=%q, want 301 to docs/", a.status, a.location)
	}
}

func TestFrontEndDistMustBeADirectory(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	os.WriteFile(f, nil, 0o644)
	for _, dist := range []string{filepath.Join(t.TempDir(), "missing"), f} {
		if err := serveFrontEnd(publicRouter(), dist); err == nil || !strings.Contains(err.Error(), "webpack-config.dist") {
			t.Errorf("dist %s: err = %v", dist, err)
		}
	}
}

// TestFrontEndFileServerErrorsAreJSON: the errors http.FileServer writes
// itself (as plain text) reach the client in the JSON shape, and a
// directory it is asked to list (its index.html gone since the check) is
// not listed.
func TestFrontEndFileServerErrorsAreJSON(t *testing.T) {
	dist := writeDist(t)
	r := publicRouter()
	if err := serveFrontEnd(r, dist); err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/app.js", nil)
	req.Header.Set("Range", "bytes=1000-2000")
	w := httptest.NewRecorder()
	r.ServeHTTP(w, req)
	if w.Code != http.StatusRequestedRangeNotSatisfiable || w.Header().Get("Content-Type") != "application/json" ||
		!strings.Contains(w.Body.String(), runtime.CodeBadRequest) {
		t.Errorf("GET /app.js beyond its end: %d %s %q", w.Code, w.Header().Get("Content-Type"), w.Body.String())
	}

	req = httptest.NewRequest(http.MethodGet, "/assets/", nil)
	w = httptest.NewRecorder()
	http.FileServer(noDirListing{http.Dir(dist)}).ServeHTTP(&jsonErrorWriter{ResponseWriter: w, req: req, notFound: http.NotFound}, req)
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), runtime.CodeInternal) || strings.Contains(w.Body.String(), "logo.svg") {
		t.Errorf("listing /assets/: %d %q, want a JSON 500 without the listing", w.Code, w.Body.String())
	}
}
