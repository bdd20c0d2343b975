// Package http_api holds the HTTP response conventions of NSQ's v1 API:
// bare JSON bodies, {"message":"CODE"} errors and the X-NSQ-Content-Type
// header.
package http_api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/nsqlookupd/nsqlookupd/internal/lg"
)

// Err is an API error: an HTTP status and the code sent as the message.
type Err struct {
	Code int
	Text string
}

// Error returns the code text, e.g. "MISSING_ARG_TOPIC".
func (e Err) Error() string { return e.Text }

// JSON is a response body that is already encoded JSON; it is written as is.
type JSON []byte

// Body is an already encoded JSON body handed over by pointer, so returning
// it from a handler allocates nothing. After writing it the response writer
// calls Release; a pooled buffer goes back to its pool there.
type Body interface {
	// JSON returns the encoded body; it stays valid until Release.
	JSON() []byte
	// Release tells the owner the body has been written.
	Release()
}

// PlainText is a text body written without the API's headers, for the
// endpoints that are not part of the v1 API (/ping).
type PlainText string

// Written is returned by a handler that wrote the whole response itself
// (pprof, the Prometheus handler); nothing more is written for it.
type Written struct{}

// APIHandler returns the data of a response, or an error (an Err for a
// specific status, anything else for 500). The data is a PlainText, Written,
// or anything RespondV1 accepts.
type APIHandler func(http.ResponseWriter, *http.Request, httprouter.Params) (interface{}, error)

// V1 returns the httprouter handle that runs f and writes its result: an
// error as an API error, a PlainText as text, nothing for Written, anything
// else as an NSQ v1 API response (RespondV1).
func V1(f APIHandler) httprouter.Handle {
	return func(w http.ResponseWriter, req *http.Request, ps httprouter.Params) {
		data, err := f(w, req, ps)
		if err != nil {
			RespondError(w, err)
			return
		}
		switch d := data.(type) {
		case Written:
		case PlainText:
			w.WriteHeader(http.StatusOK)
			io.WriteString(w, string(d))
		default:
			RespondV1(w, http.StatusOK, data)
		}
	}
}

// RespondError writes err as an API error: its status and code for an Err,
// 500 for anything else.
func RespondError(w http.ResponseWriter, err error) {
	RespondV1(w, errStatus(err), err)
}

func errStatus(err error) int {
	if e, ok := err.(Err); ok {
		return e.Code
	}
	return http.StatusInternalServerError
}

// RespondV1 writes data with status code. A 200 body is the data itself
// (string, []byte, JSON, a Body, nil for empty, or any value encoded as
// JSON); any other status gets {"message":"<data>"}. Every response carries
// X-NSQ-Content-Type, which go-nsq requires to read the body unwrapped.
func RespondV1(w http.ResponseWriter, code int, data interface{}) {
	if code != http.StatusOK {
		writeV1(w, code, errorBody(data), true)
		return
	}
	switch d := data.(type) {
	case nil:
		writeV1(w, code, nil, false)
	case string:
		writeV1(w, code, []byte(d), false)
	case []byte:
		writeV1(w, code, d, false)
	case JSON:
		writeV1(w, code, d, true)
	case Body:
		writeV1(w, code, d.JSON(), true)
		d.Release()
	default:
		body, err := json.Marshal(d)
		if err != nil {
			writeV1(w, http.StatusInternalServerError, errorBody(err), true)
			return
		}
		writeV1(w, code, body, true)
	}
}

// errorBody encodes {"message":"<data>"}, byte for byte what encoding/json
// makes of it.
func errorBody(data interface{}) []byte {
	var message string
	switch d := data.(type) {
	case string:
		message = d
	case error:
		message = d.Error()
	default:
		message = fmt.Sprint(d)
	}
	body := make([]byte, 0, len(`{"message":""}`)+len(message))
	body = append(body, `{"message":`...)
	body = AppendJSONString(body, message)
	return append(body, '}')
}

// writeV1 writes the headers of an API response, then the body.
func writeV1(w http.ResponseWriter, code int, body []byte, isJSON bool) {
	writeV1Header(w, code, isJSON)
	w.Write(body)
}

// StartV1JSON writes the headers of a 200 JSON API response, for a handler
// that then streams the body itself and returns Written.
func StartV1JSON(w http.ResponseWriter) {
	writeV1Header(w, http.StatusOK, true)
}

func writeV1Header(w http.ResponseWriter, code int, isJSON bool) {
	h := w.Header()
	if isJSON {
		h["Content-Type"] = jsonContentType
	}
	h["X-Nsq-Content-Type"] = nsqContentType
	w.WriteHeader(code)
}

// Pre-built header values, shared read-only, so a response sets them without
// allocating.
var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	nsqContentType  = []string{"nsq; version=1.0"}
)

// StatusRecorder remembers the status a handler wrote, and the route that
// served the request, for request logs and metrics.
type StatusRecorder struct {
	http.ResponseWriter
	code int
	// Route is the metric label of the route that served the request, set
	// by the route's handler; empty when no route matched.
	Route string
	// Identity is who an auth server said the client is, for the request
	// log line; empty without reader auth.
	Identity string
}

// WriteHeader records the first status written.
func (r *StatusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200 when no status was written first.
func (r *StatusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Status returns the status sent, 200 if the handler wrote nothing.
func (r *StatusRecorder) Status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}

// Flush forwards to the underlying writer so streaming handlers keep working.
func (r *StatusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *StatusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// PanicHandler answers 500 INTERNAL_ERROR after a handler panicked, logging
// the panic value; the daemon keeps running.
func PanicHandler(logf lg.LogFunc) func(http.ResponseWriter, *http.Request, interface{}) {
	return func(w http.ResponseWriter, req *http.Request, p interface{}) {
		logf(lg.ERROR, "panic in HTTP handler %s %s: %v", req.Method, req.URL.RequestURI(), p)
		RespondV1(w, http.StatusInternalServerError, "INTERNAL_ERROR")
	}
}
