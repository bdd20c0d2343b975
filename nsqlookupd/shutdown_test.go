package nsqlookupd

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/lg"
	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// runningLookupd is a daemon whose Exit the test calls itself. It has an
// HTTP client of its own, so that its idle keep-alive connections can be
// closed before goroutines are counted (http.DefaultTransport's cannot be
// told apart from other tests').
type runningLookupd struct {
	*NSQLookupd
	mainErr   chan error
	transport *http.Transport
	client    *http.Client
}

// quietOptions are testOptions logging warnings and errors only: these tests
// open thousands of connections, and each is logged at info level.
func quietOptions(t *testing.T) *Options {
	t.Helper()
	opts, _ := testOptions(t)
	opts.LogLevel = lg.WARN
	return opts
}

// runLookupd starts a daemon and waits until its HTTP port answers. The test
// calls Exit; a cleanup calls it as well in case the test stopped early.
func runLookupd(t *testing.T, opts *Options) *runningLookupd {
	t.Helper()
	l, err := New(opts)
	test.Nil(t, err, "New")
	transport := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 32,
	}
	r := &runningLookupd{
		NSQLookupd: l,
		mainErr:    make(chan error, 1),
		transport:  transport,
		client:     &http.Client{Transport: transport, Timeout: 30 * time.Second},
	}
	go func() { r.mainErr <- l.Main() }()
	t.Cleanup(func() {
		// Bounded, so that a hung Exit fails the test instead of the run.
		done := make(chan struct{})
		go func() {
			l.Exit()
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Errorf("Exit did not return in cleanup")
		}
		transport.CloseIdleConnections()
	})
	test.Eventually(t, 5*time.Second, func() bool {
		status, err := r.getJSON("/ping", nil)
		return err == nil && status == http.StatusOK
	}, "lookupd /ping")
	return r
}

func (r *runningLookupd) url(path string) string {
	return "http://" + r.RealHTTPAddr().String() + path
}

// getJSON GETs path and decodes a JSON body into v (skipped when v is nil).
// It returns the status; it is safe to call from any goroutine.
func (r *runningLookupd) getJSON(path string, v interface{}) (int, error) {
	resp, err := r.client.Get(r.url(path))
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("reading body of %s (status %d): %w", path, resp.StatusCode, err)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			return resp.StatusCode, fmt.Errorf("decoding %s (status %d) %q: %w", path, resp.StatusCode, body, err)
		}
	}
	return resp.StatusCode, nil
}

// startExit calls Exit in the background; the channel closes when it returns.
func (r *runningLookupd) startExit() <-chan struct{} {
	done := make(chan struct{})
	go func() {
		r.Exit()
		close(done)
	}()
	return done
}

// waitExited fails the test, with every goroutine's stack, unless Exit
// (exited, from startExit) returns and Main then returns nil within limit.
// The limit is a liveness bound, far above what a healthy shutdown takes.
func (r *runningLookupd) waitExited(t *testing.T, exited <-chan struct{}, limit time.Duration) {
	t.Helper()
	select {
	case <-exited:
	case <-time.After(limit):
		t.Fatalf("Exit did not return within %s; goroutines:\n%s", limit, goroutineDump())
	}
	select {
	case err := <-r.mainErr:
		test.Nil(t, err, "Main after Exit")
	case <-time.After(limit):
		t.Fatalf("Main did not return within %s of Exit; goroutines:\n%s", limit, goroutineDump())
	}
}

// goroutineDump returns every goroutine's stack, identical stacks grouped.
func goroutineDump() string {
	var buf bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&buf, 1)
	return buf.String()
}

// expectGoroutinesBack polls until no more goroutines run than baseline,
// counted before the daemon started; exiting goroutines take a moment to
// be gone. On timeout it fails with the stacks of those still running.
func expectGoroutinesBack(t *testing.T, baseline int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		n := runtime.NumGoroutine()
		if n <= baseline {
			t.Logf("goroutines: %d, baseline %d", n, baseline)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines still running %s after shutdown, baseline %d:\n%s",
				n, timeout, baseline, goroutineDump())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// expectRefused fails unless nothing accepts connections at addr.
func expectRefused(t *testing.T, what string, addr net.Addr) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr.String(), 2*time.Second)
	if err == nil {
		conn.Close()
		t.Fatalf("%s listener %s still accepts connections after Exit", what, addr)
	}
}

// TestShutdownUnderLoad stops a daemon holding a few hundred TCP clients in
// every state, from not yet sent the magic to registered, while HTTP
// requests are in flight: Exit must return, close every client, refuse new
// connections, drop every peer and leave no goroutine behind.
func TestShutdownUnderLoad(t *testing.T) {
	baseline := runtime.NumGoroutine()
	opts := quietOptions(t)
	// Set up must not race the magic and idle deadlines: every client
	// has to be open, in its state, when Exit runs.
	opts.MagicTimeout = time.Minute
	opts.ClientTimeout = time.Minute
	opts.ShutdownTimeout = 2 * time.Second
	r := runLookupd(t, opts)

	// Non-ephemeral registrations stay after their peers are gone.
	topics, channels := map[string]bool{}, map[string]bool{}
	half := string(binary.BigEndian.AppendUint32(nil, 100)[:2])
	partialBody := string(binary.BigEndian.AppendUint32(nil, 100)) + `{"broadcast_address":`
	kinds := []struct {
		name  string
		count int
		// setup brings a fresh connection into its state.
		setup func(c *tcpClient, i int)
	}{
		{"no magic", 50, func(c *tcpClient, i int) {}},
		{"magic only", 30, func(c *tcpClient, i int) { c.send(protocol.MagicV1) }},
		{"half command line", 20, func(c *tcpClient, i int) { c.send(protocol.MagicV1 + "REGISTER shutdown.t") }},
		{"mid IDENTIFY size", 25, func(c *tcpClient, i int) { c.send(protocol.MagicV1 + "IDENTIFY\n" + half) }},
		{"mid IDENTIFY body", 25, func(c *tcpClient, i int) { c.send(protocol.MagicV1 + "IDENTIFY\n" + partialBody) }},
		{"identified", 150, func(c *tcpClient, i int) {
			c.send(protocol.MagicV1)
			c.identify("shutdown-"+fmt.Sprint(i), 4150, 4151)
			c.send(fmt.Sprintf("REGISTER shutdown.t%d c%d\nREGISTER shutdown.e%d#ephemeral\nPING\n", i%10, i%3, i%5))
			topics[fmt.Sprint(i%10)] = true
			channels[fmt.Sprint(i%10, "/", i%3)] = true
			c.expectFrame("OK")
			c.expectFrame("OK")
			c.expectFrame("OK")
		}},
	}
	var clients []*tcpClient
	identified := 0
	for _, k := range kinds {
		for i := 0; i < k.count; i++ {
			conn, err := net.DialTimeout("tcp", r.RealTCPAddr().String(), 5*time.Second)
			test.Nil(t, err, "dial for "+k.name)
			t.Cleanup(func() { conn.Close() })
			c := &tcpClient{t: t, conn: conn, r: bufio.NewReader(conn)}
			k.setup(c, i)
			clients = append(clients, c)
		}
		if k.name == "identified" {
			identified += k.count
		}
	}
	test.Eventually(t, 10*time.Second, func() bool {
		return r.tcpServer.connCount() == len(clients) && r.db.Stats().Peers == identified
	}, fmt.Sprintf("%d connections, %d of them identified", len(clients), identified))

	// HTTP load on keep-alive connections, running across Exit.
	paths := []string{"/lookup?topic=shutdown.t1", "/nodes", "/lookup?topic=shutdown.none", "/topics", "/channels?topic=shutdown.t2"}
	const loaders = 4
	var (
		exiting   atomic.Bool
		completed [loaders]atomic.Int64
		wg        sync.WaitGroup
	)
	stop := make(chan struct{})
	var stopOnce sync.Once
	stopLoad := func() {
		exiting.Store(true)
		stopOnce.Do(func() { close(stop) })
		wg.Wait()
	}
	// Runs before the daemon's cleanup if the test stops early.
	t.Cleanup(stopLoad)
	for g := 0; g < loaders; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 1_000_000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				path := paths[(g+i)%len(paths)]
				resp, err := r.client.Get(r.url(path))
				if err != nil {
					// Refused or closed once Exit began; never before.
					if !exiting.Load() {
						t.Errorf("GET %s before Exit: %v", path, err)
					}
					return
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if err != nil {
					// A response that started must be completed, even
					// during shutdown: the server drains, it does not cut.
					t.Errorf("GET %s: response cut: %v", path, err)
					return
				}
				want := http.StatusOK
				if strings.Contains(path, "shutdown.none") {
					want = http.StatusNotFound
				}
				var v map[string]interface{}
				if resp.StatusCode != want || json.Unmarshal(body, &v) != nil {
					t.Errorf("GET %s: status %d (want %d), body %q", path, resp.StatusCode, want, body)
					return
				}
				completed[g].Add(1)
			}
		}()
	}
	test.Eventually(t, 10*time.Second, func() bool {
		for g := range completed {
			if completed[g].Load() < 5 {
				return false
			}
		}
		return true
	}, "HTTP load running")

	exiting.Store(true)
	start := time.Now()
	r.waitExited(t, r.startExit(), 10*time.Second)
	t.Logf("Exit with %d TCP clients and %d HTTP loaders took %s", len(clients), loaders, time.Since(start))

	// Every client sees its connection closed: EOF or reset, not a timeout.
	deadline := time.Now().Add(5 * time.Second)
	open := 0
	for i, c := range clients {
		c.conn.SetReadDeadline(deadline)
		_, err := io.Copy(io.Discard, c.r)
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			open++
			if open <= 5 {
				t.Errorf("client %d (%s) still open after Exit", i, c.conn.LocalAddr())
			}
		}
	}
	if open > 0 {
		t.Fatalf("%d of %d TCP clients still open after Exit", open, len(clients))
	}
	expectRefused(t, "HTTP", r.RealHTTPAddr())
	expectRefused(t, "TCP", r.RealTCPAddr())
	// No peer is left, ephemeral registrations are gone, the others kept.
	stats := r.db.Stats()
	test.Equal(t, 0, stats.Peers, "peers after Exit")
	test.Equal(t, 0, stats.Registrations, "peer memberships after Exit")
	test.Equal(t, len(topics), stats.Topics, "topics after Exit")
	test.Equal(t, len(channels), stats.Channels, "channels after Exit")

	stopLoad()
	var total int64
	for g := range completed {
		total += completed[g].Load()
	}
	t.Logf("%d HTTP requests completed", total)
	for _, c := range clients {
		c.conn.Close()
	}
	r.transport.CloseIdleConnections()
	expectGoroutinesBack(t, baseline, 10*time.Second)
}

// TestShutdownDrainsInFlightRequest checks that Exit lets a slow request
// (a one second CPU profile) finish within ShutdownTimeout instead of
// cutting it, while the listener already refuses new connections.
func TestShutdownDrainsInFlightRequest(t *testing.T) {
	baseline := runtime.NumGoroutine()
	opts := quietOptions(t)
	opts.ShutdownTimeout = 20 * time.Second
	r := runLookupd(t, opts)

	type result struct {
		status int
		body   []byte
		err    error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := r.client.Get(r.url("/debug/pprof/profile?seconds=1"))
		if err != nil {
			res <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		res <- result{status: resp.StatusCode, body: body, err: err}
	}()
	// The request is in flight once its handler runs in this process.
	test.Eventually(t, 5*time.Second, func() bool {
		return strings.Contains(goroutineDump(), "net/http/pprof.Profile")
	}, "profile handler running")

	exited := r.startExit()
	test.Eventually(t, 5*time.Second, func() bool {
		conn, err := net.DialTimeout("tcp", r.RealHTTPAddr().String(), time.Second)
		if err != nil {
			return true
		}
		conn.Close()
		return false
	}, "HTTP listener closed while draining")

	var got result
	select {
	case got = <-res:
	case <-time.After(20 * time.Second):
		t.Fatalf("profile request did not finish; goroutines:\n%s", goroutineDump())
	}
	test.Nil(t, got.err, "profile request during Exit")
	test.Equal(t, http.StatusOK, got.status, "profile status")
	if len(got.body) < 2 || got.body[0] != 0x1f || got.body[1] != 0x8b {
		t.Fatalf("profile body is not a gzipped profile: %d bytes %q", len(got.body), got.body[:min(len(got.body), 64)])
	}
	r.waitExited(t, exited, 15*time.Second)
	r.transport.CloseIdleConnections()
	expectGoroutinesBack(t, baseline, 10*time.Second)
}

// TestExitRacingMain calls Exit while Main is still starting its servers,
// or before Main runs at all, as a SIGTERM right at start-up does: Main must
// return nil, Exit must not return before what Main started is gone, and the
// race detector must see Main's starts ordered before Exit's wait.
func TestExitRacingMain(t *testing.T) {
	for _, tc := range []struct {
		name        string
		mainFirst   bool
		repetitions int
	}{
		{"Exit right after Main starts", true, 50},
		{"Exit before Main", false, 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			baseline := runtime.NumGoroutine()
			for i := 0; i < tc.repetitions; i++ {
				l, err := New(quietOptions(t))
				test.Nil(t, err, "New")
				mainErr := make(chan error, 1)
				if tc.mainFirst {
					go func() { mainErr <- l.Main() }()
					l.Exit()
				} else {
					l.Exit()
					go func() { mainErr <- l.Main() }()
				}
				select {
				case err := <-mainErr:
					test.Nil(t, err, "Main")
				case <-time.After(10 * time.Second):
					t.Fatalf("Main did not return after Exit; goroutines:\n%s", goroutineDump())
				}
				expectRefused(t, "TCP", l.RealTCPAddr())
				expectRefused(t, "HTTP", l.RealHTTPAddr())
			}
			expectGoroutinesBack(t, baseline, 10*time.Second)
		})
	}
}
