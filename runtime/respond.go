package runtime

import "net/http"

// WriteOutcome writes o to w as a JSON response.
func WriteOutcome(w http.ResponseWriter, o Outcome) {
	w.Header().Set("Content-Type", "application/json")
	if o.Status == http.StatusTooManyRequests && w.Header().Get("Retry-After") == "" {
		// A bounded resource is full (waiters, onlyonce calls): say when
		// to come back, as HTTP clients and proxies look for.
		w.Header().Set("Retry-After", "1")
	}
	w.WriteHeader(o.Status)
	w.Write(o.Body)
	w.Write([]byte{'\n'})
}

// WriteError writes err to w in the JSON error shape with err's status. It is
// for errors found at the HTTP edge (decoding, binding, the runtime's own
// answers); a handler's error becomes an outcome through ErrorOutcome.
func WriteError(w http.ResponseWriter, err error) {
	e := AsError(err)
	if e.Status < 400 || e.Status > 599 {
		e = &Error{Status: http.StatusInternalServerError, Code: e.Code, Message: e.Message}
	}
	WriteOutcome(w, errorOutcome(e))
}
