package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestAuthServer(t *testing.T) {
	a, err := startAuthServer()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.close)
	base := "http://" + a.addr + "/auth"
	query := url.Values{"remote_ip": {"127.0.0.1"}, "tls": {"false"}, "common_name": {""}}
	withSecret := func(secret string) url.Values {
		q := url.Values{}
		for k, v := range query {
			q[k] = v
		}
		q.Set("secret", secret)
		return q
	}
	for _, tc := range []struct {
		name   string
		do     func() (*http.Response, error)
		status int
		body   string
	}{
		{"GET with the secret", func() (*http.Response, error) {
			return http.Get(base + "?" + withSecret(benchSecret).Encode())
		}, 200, authAnswer},
		{"POST with the secret", func() (*http.Response, error) {
			return http.PostForm(base, withSecret(benchSecret))
		}, 200, authAnswer},
		{"GET with another secret", func() (*http.Response, error) {
			return http.Get(base + "?" + withSecret("other").Encode())
		}, 403, `{"message":"unknown secret"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tc.do()
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || string(b) != tc.body {
				t.Fatalf("got %d %s, want %d %s", resp.StatusCode, b, tc.status, tc.body)
			}
		})
	}
	if got := a.requests.Load(); got != 3 {
		t.Errorf("auth server counted %d requests, want 3", got)
	}
	if got := a.rejected.Load(); got != 1 {
		t.Errorf("auth server counted %d rejected, want 1", got)
	}
}

// TestHTTPConnHeader checks that a connection's header reaches the server
// on every request, keep-alive included, and that its absence does too.
func TestHTTPConnHeader(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+benchSecret {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")

	plain := newHTTPConn(addr, 5*time.Second)
	defer plain.close()
	if status, _, err := plain.get("/lookup?topic=t", nil); err != nil || status != http.StatusUnauthorized {
		t.Fatalf("without header: %d %v, want 401", status, err)
	}
	hc := newHTTPConn(addr, 5*time.Second)
	hc.header = bearer(benchSecret)
	defer hc.close()
	for i := 0; i < 3; i++ {
		var body []byte
		status, _, err := hc.get("/lookup?topic=t", &body)
		if err != nil || status != http.StatusOK || string(body) != "ok" {
			t.Fatalf("request %d with header: %d %q %v", i, status, body, err)
		}
	}
}
