package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/br2k/br2k/runtime"
)

// net/http answers a request it cannot parse (a malformed request line or
// header, headers over the limit, an unknown Transfer-Encoding) itself,
// before any handler, in plain text: "400 Bad Request: invalid header
// name". Every other error of br2k's ports is a JSON body with a code, so
// the raw connection rewrites these answers into that shape on their way
// out (limitedConn.Write). net/http writes each in one Write of a fixed
// form that no handler's response has (no Date, no Content-Length, the body
// repeating the status line), so nothing else is ever taken for one.
//
// On a TLS listener the answers are encrypted above the raw connection and
// stay plain text; the one net/http writes below TLS, to a client that
// speaks plain HTTP to it, is rewritten.

// cannedErrorHeaders is what net/http writes between the status line and
// the body of its own error answers.
const cannedErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// plainHTTPToTLS is net/http's whole answer to plain HTTP on a TLS port.
const plainHTTPToTLS = "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"

// jsonCannedError returns the JSON form of p if p is one of net/http's own
// error answers.
func jsonCannedError(p []byte) ([]byte, bool) {
	if string(p) == plainHTTPToTLS {
		return cannedJSON(http.StatusBadRequest, "this port speaks HTTPS: the client sent plain HTTP"), true
	}
	rest, ok := bytes.CutPrefix(p, []byte("HTTP/1.1 "))
	if !ok {
		if rest, ok = bytes.CutPrefix(p, []byte("HTTP/1.0 ")); !ok {
			return nil, false
		}
	}
	status, body, ok := bytes.Cut(rest, []byte(cannedErrorHeaders))
	if !ok || len(status) < 4 || status[3] != ' ' {
		return nil, false
	}
	code, err := strconv.Atoi(string(status[:3]))
	if err != nil || code < 400 || code > 599 {
		return nil, false
	}
	// The forms net/http writes (Go 1.26, net/http/server.go, conn.serve):
	// the body repeats the status line, which may end in a detail ("400
	// Bad Request: missing required Host header"); or, for 501, names the
	// unsupported transfer encoding.
	var message string
	switch {
	case code == http.StatusNotImplemented && string(body) == "Unsupported transfer encoding":
		message = "the request's Transfer-Encoding is not supported (only chunked is)"
	case !bytes.Equal(status, body):
		return nil, false
	case code == http.StatusRequestHeaderFieldsTooLarge:
		message = "the request's headers are over 64 KiB"
	default:
		message = "malformed request line or headers"
		if _, d, ok := bytes.Cut(status, []byte(": ")); ok {
			message = string(d)
		}
	}
	return cannedJSON(code, "the HTTP request could not be read: "+message), true
}

// cannedJSON is a whole HTTP/1.1 answer with br2k's error body, closing
// the connection as net/http's answer did.
func cannedJSON(status int, message string) []byte {
	code := runtime.CodeBadRequest
	if status == http.StatusRequestHeaderFieldsTooLarge {
		code = runtime.CodeHeadersTooLarge
	}
	body, _ := json.Marshal(map[string]map[string]string{"error": {"code": code, "message": message}})
	body = append(body, '\n')
	var b bytes.Buffer
	b.WriteString("HTTP/1.1 " + strconv.Itoa(status) + " " + http.StatusText(status) + "\r\n")
	b.WriteString("Content-Type: application/json\r\nConnection: close\r\n")
	b.WriteString("Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n")
	b.Write(body)
	return b.Bytes()
}
