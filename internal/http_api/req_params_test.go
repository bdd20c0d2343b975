package http_api

import (
	"net/http"
	"net/url"
	"testing"
)

// checkAgainstParseQuery compares ReqParams with url.ParseQuery on query:
// the same failure, and the same first value for every key.
func checkAgainstParseQuery(t *testing.T, query string) {
	t.Helper()
	want, wantErr := url.ParseQuery(query)
	rp, err := NewReqParams(&http.Request{URL: &url.URL{RawQuery: query}})
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("query %q: error %v, url.ParseQuery error %v", query, err, wantErr)
	}
	if err != nil {
		if e, ok := err.(Err); !ok || e.Code != http.StatusBadRequest || e.Text != "INVALID_REQUEST" {
			t.Fatalf("query %q: error %#v, want 400 INVALID_REQUEST", query, err)
		}
		return
	}
	for key, values := range want {
		got, ok := rp.Get(key)
		if !ok || got != values[0] {
			t.Fatalf("query %q: Get(%q) = %q, %v; want %q", query, key, got, ok, values[0])
		}
	}
	for _, p := range rp.all() {
		if _, ok := want[p.key]; !ok {
			t.Fatalf("query %q: key %q not in url.ParseQuery's answer", query, p.key)
		}
	}
}

func TestReqParamsMatchesParseQuery(t *testing.T) {
	for _, q := range []string{
		"", "topic=a", "topic=a&topic=b", "topic=", "topic", "&&topic=a&", "a=1&b=2&c=3&d=4&e=5&f=6",
		"topic=a%23ephemeral", "topic=a+b", "topic=%zz", "top%zzic=a", "topic=a;b", "a=1;b=2",
		"=value", "topic==x", "%74opic=a", "topic=%",
	} {
		checkAgainstParseQuery(t, q)
	}
	rp, err := NewReqParams(&http.Request{URL: &url.URL{RawQuery: "topic=a"}})
	if err != nil {
		t.Fatal(err)
	}
	if v, ok := rp.Get("channel"); ok || v != "" {
		t.Fatalf("absent key: got %q, %v", v, ok)
	}
}

func FuzzReqParams(f *testing.F) {
	for _, q := range []string{"topic=a&channel=b", "topic=%zz", "a;b", "topic=&topic=x", "+%20="} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, query string) {
		checkAgainstParseQuery(t, query)
	})
}
