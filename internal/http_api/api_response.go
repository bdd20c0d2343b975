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

// APIHandler returns the data of a response, or an error (an Err for a
// specific status, anything else for 500).
type APIHandler func(http.ResponseWriter, *http.Request, httprouter.Params) (interface{}, error)

// Decorator wraps an APIHandler.
type Decorator func(APIHandler) APIHandler

// LogFunc is the daemon's leveled log function.
type LogFunc func(level lg.LogLevel, f string, args ...interface{})

// Decorate applies ds to f, the first one innermost, and returns an
// httprouter handle.
func Decorate(f APIHandler, ds ...Decorator) httprouter.Handle {
	decorated := f
	for _, d := range ds {
		decorated = d(decorated)
	}
	return func(w http.ResponseWriter, req *http.Request, ps httprouter.Params) {
		decorated(w, req, ps)
	}
}

// V1 writes the handler's result as an NSQ v1 API response.
func V1(f APIHandler) APIHandler {
	return func(w http.ResponseWriter, req *http.Request, ps httprouter.Params) (interface{}, error) {
		data, err := f(w, req, ps)
		if err != nil {
			RespondV1(w, errStatus(err), err)
			return nil, nil
		}
		RespondV1(w, http.StatusOK, data)
		return nil, nil
	}
}

// PlainText writes the handler's string result as a text body.
func PlainText(f APIHandler) APIHandler {
	return func(w http.ResponseWriter, req *http.Request, ps httprouter.Params) (interface{}, error) {
		code := http.StatusOK
		data, err := f(w, req, ps)
		if err != nil {
			code = errStatus(err)
			data = err.Error()
		}
		w.WriteHeader(code)
		switch d := data.(type) {
		case string:
			io.WriteString(w, d)
		case []byte:
			w.Write(d)
		}
		return nil, nil
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
// (string, []byte, JSON, nil for empty, or any value encoded as JSON); any
// other status gets {"message":"<data>"}. Every response carries
// X-NSQ-Content-Type, which go-nsq requires to read the body unwrapped.
func RespondV1(w http.ResponseWriter, code int, data interface{}) {
	var body []byte
	isJSON := false
	if code == http.StatusOK {
		switch d := data.(type) {
		case nil:
		case string:
			body = []byte(d)
		case JSON:
			body = d
			isJSON = true
		case []byte:
			body = d
		default:
			isJSON = true
			var err error
			body, err = json.Marshal(d)
			if err != nil {
				code = http.StatusInternalServerError
				data = err
			}
		}
	}
	if code != http.StatusOK {
		isJSON = true
		body, _ = json.Marshal(struct {
			Message string `json:"message"`
		}{fmt.Sprintf("%s", data)})
	}
	h := w.Header()
	if isJSON {
		h["Content-Type"] = jsonContentType
	}
	h["X-Nsq-Content-Type"] = nsqContentType
	w.WriteHeader(code)
	w.Write(body)
}

// Pre-built header values, shared read-only, so a response sets them without
// allocating.
var (
	jsonContentType = []string{"application/json; charset=utf-8"}
	nsqContentType  = []string{"nsq; version=1.0"}
)

// StatusRecorder remembers the status a handler wrote, for request logs and
// metrics.
type StatusRecorder struct {
	http.ResponseWriter
	code int
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
func PanicHandler(logf LogFunc) func(http.ResponseWriter, *http.Request, interface{}) {
	return func(w http.ResponseWriter, req *http.Request, p interface{}) {
		logf(lg.ERROR, "panic in HTTP handler %s %s: %v", req.Method, req.URL.RequestURI(), p)
		RespondV1(w, http.StatusInternalServerError, "INTERNAL_ERROR")
	}
}
