package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nsqlookupd/nsqlookupd/bench/internal/benchutil"
)

// benchSecret is the Bearer secret the reader-auth mode's /lookup clients
// send; the built-in auth server accepts only it.
const benchSecret = "loadgen-reader-secret"

// authAnswer grants subscribe on every topic and channel for an hour, so
// the daemon asks once per (secret, client address) and then serves from
// its cache.
const authAnswer = `{"ttl":3600,"identity":"bench","authorizations":[{"topic":".*","channels":[".*"],"permissions":["subscribe"]}]}`

// authServer is the NSQ auth server of the reader-auth mode: it answers
// GET or POST /auth, accepting benchSecret, and counts the requests.
type authServer struct {
	addr     string
	srv      *http.Server
	requests atomic.Int64
	rejected atomic.Int64
}

func startAuthServer() (*authServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("auth server: %w", err)
	}
	a := &authServer{addr: l.Addr().String()}
	mux := http.NewServeMux()
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		a.requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		// FormValue reads the query of a GET and the form body of a POST.
		if r.FormValue("secret") != benchSecret {
			a.rejected.Add(1)
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"message":"unknown secret"}`))
			return
		}
		w.Write([]byte(authAnswer))
	})
	a.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go a.srv.Serve(l)
	return a, nil
}

func (a *authServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	a.srv.Shutdown(ctx)
}

// authTwin is a second daemon of the same binary with reader auth on,
// holding the same registrations as the target's daemon.
type authTwin struct {
	d      *daemon
	ps     []*producer
	hbStop chan struct{}
	hbDone chan struct{}
}

// authFlags are the flags that turn reader auth on: every client but
// 127.0.0.2 is a non-operator and must authenticate, so the load
// generator's clients, all on 127.0.0.1, send a secret.
func authFlags(auth *authServer) []string {
	return []string{"--auth-http-address=" + auth.addr, "--http-admin-allow=127.0.0.2/32"}
}

// startAuthTwin starts t's binary with reader auth on, registers the
// workload into it and checks that /lookup without a secret is refused.
func startAuthTwin(o options, t *target, w *workload, auth *authServer) (*authTwin, error) {
	extra := append(strings.Fields(o.daemonArgs), authFlags(auth)...)
	d, err := startDaemon(t.label+"-auth", t.bin, extra, 10*time.Second)
	if err != nil {
		return nil, fmt.Errorf("reader-auth mode: %s did not start with %s: %w "+
			"(a build without reader auth refuses these flags; its own message is above, prefixed [%s-auth])",
			t.bin, strings.Join(authFlags(auth), " "), err, t.label)
	}
	tw := &authTwin{d: d}
	ps, err := connectProducers(d.tcpAddr, 0, w.spec.Producers, 30*time.Second)
	if err != nil {
		tw.stop()
		return nil, fmt.Errorf("reader-auth mode: connecting producers: %w", err)
	}
	tw.ps = ps
	if _, err := runRegister(ps, w, o.timeout); err != nil {
		tw.stop()
		return nil, fmt.Errorf("reader-auth mode: REGISTER: %w", err)
	}
	tw.hbStop, tw.hbDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(tw.hbDone)
		heartbeat(func() []*producer { return tw.ps }, o.heartbeat, tw.hbStop)
	}()

	path := w.lookupPaths[0]
	hc := newHTTPConn(d.httpAddr, o.timeout)
	defer hc.close()
	status, _, err := hc.get(path, nil)
	if err == nil && status != http.StatusUnauthorized {
		err = fmt.Errorf("GET %s without a secret: status %d, want 401: reader auth is not enforced", path, status)
	}
	if err == nil {
		hc.header = bearer(benchSecret)
		status, _, err = hc.get(path, nil)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("GET %s with the secret: status %d, want 200", path, status)
		}
	}
	if err != nil {
		tw.stop()
		return nil, fmt.Errorf("reader-auth mode: %w", err)
	}
	return tw, nil
}

func (tw *authTwin) stop() {
	if tw.hbStop != nil {
		close(tw.hbStop)
		<-tw.hbDone
		tw.hbStop = nil
	}
	for _, p := range tw.ps {
		p.close()
	}
	tw.ps = nil
	if tw.d != nil {
		tw.d.stop(30 * time.Second)
		tw.d = nil
	}
}

// authStats compares /lookup throughput with reader auth off and on.
type authStats struct {
	Off httpStats `json:"auth_off"`
	On  httpStats `json:"auth_on"`
	// Ratio is On.PerSec / Off.PerSec.
	Ratio    float64 `json:"on_vs_off"`
	OffCPUUs float64 `json:"cpu_us_per_lookup_off"`
	OnCPUUs  float64 `json:"cpu_us_per_lookup_on"`
	// AuthRequests is how many requests the auth server got during the
	// measurement (the secret is cached, so a handful at most), Rejected
	// how many of them it refused.
	AuthRequests int64 `json:"auth_server_requests"`
	Rejected     int64 `json:"auth_server_rejected"`
}

// measureAuth runs /lookup load against t's daemon (auth off) and its
// twin (auth on, every request with the secret) in alternating slices.
func measureAuth(o options, t *target, w *workload, auth *authServer) {
	tw := t.auth
	defer func() {
		tw.stop()
		t.auth = nil
	}()
	type side struct {
		addr, header string
		pid          int
		acc          loadAcc
		cpu          float64
	}
	off := &side{addr: t.d.httpAddr, pid: t.d.pid()}
	on := &side{addr: tw.d.httpAddr, pid: tw.d.pid(), header: bearer(benchSecret)}
	slice := o.duration / time.Duration(o.slices)
	before, rejectedBefore := auth.requests.Load(), auth.rejected.Load()
	for s := 0; s < o.slices; s++ {
		order := []*side{off, on}
		if s%2 == 1 {
			slices.Reverse(order)
		}
		for _, sd := range order {
			cpu := startCPU(sd.pid)
			runLoad(sd.addr, o.clients, slice, w.lookupPaths, sd.header, o.seed+uint64(s), o.timeout, &sd.acc)
			sd.cpu += cpu.elapsed()
		}
	}
	var st authStats
	st.Off, st.On = off.acc.stats(), on.acc.stats()
	if st.Off.PerSec > 0 {
		st.Ratio = st.On.PerSec / st.Off.PerSec
	}
	if st.Off.Requests > 0 {
		st.OffCPUUs = off.cpu * 1e6 / float64(st.Off.Requests)
	}
	if st.On.Requests > 0 {
		st.OnCPUUs = on.cpu * 1e6 / float64(st.On.Requests)
	}
	st.AuthRequests = auth.requests.Load() - before
	st.Rejected = auth.rejected.Load() - rejectedBefore
	t.res.Auth = &st
	benchutil.Logf("[%s %s] /lookup reader auth off: %s req/s, on: %s req/s (%.2fx); CPU %s / %s us per request; auth server: %d requests",
		w.spec.Name, t.label, num(st.Off.PerSec), num(st.On.PerSec), st.Ratio,
		num(st.OffCPUUs), num(st.OnCPUUs), st.AuthRequests)
	var problems []error
	for _, s := range []struct {
		name string
		st   httpStats
	}{{"auth off", st.Off}, {"auth on", st.On}} {
		if s.st.FirstErr != "" {
			problems = append(problems, fmt.Errorf("/lookup %s: %d errors, first: %s", s.name, s.st.Errors, s.st.FirstErr))
		}
	}
	if st.Rejected > 0 {
		problems = append(problems, fmt.Errorf("auth server rejected %d requests", st.Rejected))
	}
	if err := errors.Join(problems...); err != nil {
		t.res.problem("reader-auth mode: %v", err)
	}
}
