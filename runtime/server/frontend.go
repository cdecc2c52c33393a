package server

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/br2k/br2k/runtime"
)

// serveFrontEnd serves the files of dist (webpack-config.dist) on r for the
// paths no route of the service has. It is r's NotFound handler, not a "/*"
// route: a catch-all route would win over chi's 405 for a path routed for
// other methods only. The files answer GET and HEAD of paths outside
// /br2k/; another method on a file gets a JSON 405, and whatever is not a
// file (a missing file, /br2k/..., a directory without index.html: no
// listings) gets r's own JSON 404. There is no single-page-app fallback to
// index.html: a path without a file is a 404.
func serveFrontEnd(r chi.Router, dist string) error {
	if st, err := os.Stat(dist); err != nil || !st.IsDir() {
		return fmt.Errorf("webpack-config.dist: %s is not a directory", dist)
	}
	notFound := func(w http.ResponseWriter, req *http.Request) {
		runtime.WriteError(w, runtime.NewError(http.StatusNotFound, runtime.CodeNotFound, "no route for %s %s", req.Method, req.URL.Path))
	}
	if m, ok := r.(interface{ NotFoundHandler() http.HandlerFunc }); ok {
		notFound = m.NotFoundHandler()
	}
	fsys := noDirListing{http.Dir(dist)}
	files := http.FileServer(fsys)
	r.NotFound(func(w http.ResponseWriter, req *http.Request) {
		name := path.Clean("/" + req.URL.Path)
		if runtimePath(req.URL.Path) || runtimePath(name) || !isFrontEndFile(fsys, name) {
			notFound(w, req)
			return
		}
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			runtime.WriteError(w, runtime.NewError(http.StatusMethodNotAllowed, runtime.CodeMethodNotAllowed, "method %s is not allowed on %s", req.Method, req.URL.Path))
			return
		}
		files.ServeHTTP(&jsonErrorWriter{ResponseWriter: w, req: req, notFound: notFound}, req)
	})
	return nil
}

// runtimePath says whether p is the runtime's (/br2k/...), never the front
// end's.
func runtimePath(p string) bool {
	return p == "/br2k" || strings.HasPrefix(p, "/br2k/")
}

// isFrontEndFile says whether the cleaned path name is a file of fsys or a
// directory with an index.html.
func isFrontEndFile(fsys http.FileSystem, name string) bool {
	stat := func(name string) (os.FileInfo, error) {
		f, err := fsys.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		return f.Stat()
	}
	st, err := stat(name)
	if err != nil {
		return false
	}
	if !st.IsDir() {
		return true
	}
	st, err = stat(path.Join(name, "index.html"))
	return err == nil && !st.IsDir()
}

// noDirListing is a file system whose directories cannot be listed, so
// that http.FileServer never lists one (it fails instead: a JSON error by
// jsonErrorWriter), even if its index.html goes away after isFrontEndFile.
type noDirListing struct{ http.FileSystem }

func (fsys noDirListing) Open(name string) (http.File, error) {
	f, err := fsys.FileSystem.Open(name)
	if err != nil {
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return unlistable{f}, nil
	}
	return f, nil // unwrapped: a *os.File keeps sendfile
}

type unlistable struct{ http.File }

func (unlistable) Readdir(int) ([]os.FileInfo, error) { return nil, os.ErrPermission }

// jsonErrorWriter turns the plain-text errors of http.FileServer (a file
// gone or unreadable, a bad range, a failed precondition) into br2k's JSON
// error shape.
type jsonErrorWriter struct {
	http.ResponseWriter
	req      *http.Request
	notFound http.HandlerFunc
	failed   bool
}

func (w *jsonErrorWriter) WriteHeader(status int) {
	if w.failed {
		return
	}
	if status < 400 {
		w.ResponseWriter.WriteHeader(status)
		return
	}
	w.failed = true
	switch {
	case status == http.StatusNotFound || status == http.StatusForbidden:
		// A file the server may not read is not one it serves.
		w.notFound(w.ResponseWriter, w.req)
	case status < 500:
		runtime.WriteError(w.ResponseWriter, runtime.NewError(status, runtime.CodeBadRequest, "%s", http.StatusText(status)))
	default:
		runtime.WriteError(w.ResponseWriter, runtime.NewError(http.StatusInternalServerError, runtime.CodeInternal, "the front end's file %s could not be read", w.req.URL.Path))
	}
}

func (w *jsonErrorWriter) Write(b []byte) (int, error) {
	if w.failed {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

// ReadFrom keeps the response's sendfile for http.FileServer's copy.
func (w *jsonErrorWriter) ReadFrom(r io.Reader) (int64, error) {
	if w.failed {
		return io.Copy(io.Discard, r)
	}
	return io.Copy(w.ResponseWriter, r)
}

func (w *jsonErrorWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
