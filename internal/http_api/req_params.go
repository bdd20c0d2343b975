package http_api

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// ReqParams are the query parameters of a request, in order of appearance.
// The first few are held inline, so a typical request's parameters need no
// allocation.
type ReqParams struct {
	inline [4]param
	n      int
	extra  []param
}

type param struct {
	key, value string
}

// NewReqParams parses the URL query string of req with url.ParseQuery's
// rules; a malformed query (bad escape, ';' separator) gives
// 400 INVALID_REQUEST. Parameters are read from the URL for every method, as
// NSQ clients send them there even on POST. Unlike url.ParseQuery it builds
// no map: requests carry a couple of parameters.
func NewReqParams(req *http.Request) (ReqParams, error) {
	var r ReqParams
	if err := r.parse(req.URL.RawQuery); err != nil {
		return ReqParams{}, Err{Code: http.StatusBadRequest, Text: "INVALID_REQUEST"}
	}
	return r, nil
}

func (r *ReqParams) add(p param) {
	if r.n < len(r.inline) {
		r.inline[r.n] = p
		r.n++
		return
	}
	r.extra = append(r.extra, p)
}

// parse collects the parameters; the first malformed one fails the whole
// query, as it does for url.ParseQuery.
func (r *ReqParams) parse(query string) error {
	for query != "" {
		var pair string
		pair, query, _ = strings.Cut(query, "&")
		if strings.Contains(pair, ";") {
			return errSemicolon
		}
		if pair == "" {
			continue
		}
		key, value, _ := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(key)
		if err != nil {
			return err
		}
		if value, err = url.QueryUnescape(value); err != nil {
			return err
		}
		r.add(param{key, value})
	}
	return nil
}

var errSemicolon = errors.New("invalid semicolon separator in query")

// Get returns the first value of key and whether key was present at all
// (possibly with an empty value).
func (r *ReqParams) Get(key string) (string, bool) {
	for _, p := range r.inline[:r.n] {
		if p.key == key {
			return p.value, true
		}
	}
	for _, p := range r.extra {
		if p.key == key {
			return p.value, true
		}
	}
	return "", false
}

// all returns every parameter in order.
func (r *ReqParams) all() []param {
	return append(r.inline[:r.n:r.n], r.extra...)
}
