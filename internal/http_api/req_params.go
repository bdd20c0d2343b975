package http_api

import (
	"net/http"
	"net/url"
)

// ReqParams are the query parameters of a request.
type ReqParams struct {
	url.Values
}

// NewReqParams parses the URL query string of req. A malformed query gives
// 400 INVALID_REQUEST. Parameters are read from the URL for every method, as
// NSQ clients send them there even on POST.
func NewReqParams(req *http.Request) (*ReqParams, error) {
	values, err := url.ParseQuery(req.URL.RawQuery)
	if err != nil {
		return nil, Err{Code: http.StatusBadRequest, Text: "INVALID_REQUEST"}
	}
	return &ReqParams{values}, nil
}

// Get returns the first value of key and whether key was present at all
// (possibly with an empty value).
func (r *ReqParams) Get(key string) (string, bool) {
	v, ok := r.Values[key]
	if !ok || len(v) == 0 {
		return "", false
	}
	return v[0], true
}
