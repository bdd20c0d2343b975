package nsqlookupd

import (
	"errors"
	"net/http"

	"github.com/julienschmidt/httprouter"

	"github.com/nsqlookupd/nsqlookupd/internal/auth"
	"github.com/nsqlookupd/nsqlookupd/internal/http_api"
)

// accessControl decides who may call which routes (SPEC §10): operators may
// call everything, readers the read routes, within what an auth server
// grants them, and everyone the open routes.
type accessControl struct {
	l *NSQLookupd
	// operators is --http-admin-allow; empty means everyone while reader
	// auth is off, loopback clients only while it is on.
	operators prefixList
	// readers checks readers' secrets; nil when reader auth is off.
	readers *auth.Authorizer
}

// The answers of the access-control table of SPEC §10.
var (
	errForbidden       = http_api.Err{Code: http.StatusForbidden, Text: "FORBIDDEN"}
	errAuthRequired    = http_api.Err{Code: http.StatusUnauthorized, Text: "AUTH_REQUIRED"}
	errAuthFailed      = http_api.Err{Code: http.StatusForbidden, Text: "AUTH_FAILED"}
	errAuthUnavailable = http_api.Err{Code: http.StatusServiceUnavailable, Text: "AUTH_UNAVAILABLE"}
)

// bearerChallenge is the WWW-Authenticate value of a 401, shared read-only.
var bearerChallenge = []string{`Bearer realm="nsqlookupd"`}

// isOperator reports whether the client of req is an operator.
func (ac *accessControl) isOperator(req *http.Request) bool {
	ip, ok := clientIPString(req.RemoteAddr)
	switch {
	case !ok:
		return false
	case len(ac.operators) > 0:
		return ac.operators.contains(ip)
	case ac.readers == nil:
		return true
	}
	return ip.IsLoopback()
}

// operatorOnly wraps the handler of an operator route: anyone else gets 403
// FORBIDDEN, and a WARNING line at most once a second.
func (ac *accessControl) operatorOnly(h http_api.APIHandler) http_api.APIHandler {
	return func(w http.ResponseWriter, req *http.Request, ps httprouter.Params) (interface{}, error) {
		if !ac.isOperator(req) {
			ac.l.warnLimited("http-not-operator", "HTTP: refusing %s %s from %s: not an operator (see --http-admin-allow)",
				req.Method, req.URL.Path, req.RemoteAddr)
			return nil, errForbidden
		}
		return h(w, req, ps)
	}
}

// readHandler is the handler of a read route. grant is what the reader may
// see; nil means everything (an operator, or reader auth off).
type readHandler func(w http.ResponseWriter, req *http.Request, ps httprouter.Params, grant *auth.Answer) (interface{}, error)

// reader wraps the handler of a read route: while reader auth is on, a
// client that is not an operator needs a Bearer secret an auth server
// accepts, and sees what that server grants it.
func (ac *accessControl) reader(h readHandler) http_api.APIHandler {
	return func(w http.ResponseWriter, req *http.Request, ps httprouter.Params) (interface{}, error) {
		if ac.readers == nil || ac.isOperator(req) {
			return h(w, req, ps, nil)
		}
		grant, err := ac.authorize(w, req)
		if err != nil {
			return nil, err
		}
		return h(w, req, ps, grant)
	}
}

// authorize asks the auth servers about the secret of req, and names the
// identity they answered for in the request's log line.
func (ac *accessControl) authorize(w http.ResponseWriter, req *http.Request) (*auth.Answer, error) {
	secret, ok := auth.ParseBearer(req.Header.Get("Authorization"))
	if !ok {
		w.Header()["Www-Authenticate"] = bearerChallenge
		return nil, errAuthRequired
	}
	q := auth.Query{Secret: secret, TLS: req.TLS != nil}
	if ip, ok := clientIPString(req.RemoteAddr); ok {
		q.RemoteIP = ip.String()
	}
	if req.TLS != nil && len(req.TLS.VerifiedChains) > 0 && len(req.TLS.VerifiedChains[0]) > 0 {
		q.CommonName = req.TLS.VerifiedChains[0][0].Subject.CommonName
	}
	grant, err := ac.readers.Authorize(req.Context(), q)
	switch {
	case errors.Is(err, auth.ErrFailed):
		return nil, errAuthFailed
	case err != nil:
		return nil, errAuthUnavailable
	}
	if rec, ok := w.(*http_api.StatusRecorder); ok {
		rec.Identity = grant.Identity
	}
	return grant, nil
}
