package nsqlookupd_test

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/lg"
	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
	"github.com/nsqlookupd/nsqlookupd/internal/test"
	"github.com/nsqlookupd/nsqlookupd/nsqlookupd"
)

// TestShutdownUnderLoad stops a daemon holding a few hundred TCP clients in
// every state, from not yet sent the magic to registered, while HTTP
// requests are in flight: Exit must return, close every client, refuse new
// connections, drop every peer and leave no goroutine behind.
func TestShutdownUnderLoad(t *testing.T) {
	baseline := runtime.NumGoroutine()
	r := startLookupd(t, quiet, func(s *setup) {
		// Set up must not race the magic and idle deadlines: every client
		// has to be open, in its state, when Exit runs.
		s.opts.MagicTimeout = time.Minute
		s.opts.ClientTimeout = time.Minute
		s.opts.ShutdownTimeout = 2 * time.Second
	})

	// Non-ephemeral registrations stay after their peers are gone.
	topics, channels := map[string]bool{}, map[string]bool{}
	half := string(binary.BigEndian.AppendUint32(nil, 100)[:2])
	partialBody := string(binary.BigEndian.AppendUint32(nil, 100)) + `{"broadcast_address":`
	kinds := []struct {
		name  string
		count int
		// setup brings a fresh connection into its state.
		setup func(c *test.V1Conn, i int)
	}{
		{"no magic", 50, func(c *test.V1Conn, i int) {}},
		{"magic only", 30, func(c *test.V1Conn, i int) { c.Send(protocol.MagicV1) }},
		{"half command line", 20, func(c *test.V1Conn, i int) { c.Send(protocol.MagicV1 + "REGISTER shutdown.t") }},
		{"mid IDENTIFY size", 25, func(c *test.V1Conn, i int) { c.Send(protocol.MagicV1 + "IDENTIFY\n" + half) }},
		{"mid IDENTIFY body", 25, func(c *test.V1Conn, i int) { c.Send(protocol.MagicV1 + "IDENTIFY\n" + partialBody) }},
		{"identified", 150, func(c *test.V1Conn, i int) {
			c.Send(protocol.MagicV1)
			c.Identify("shutdown-"+fmt.Sprint(i), 4150, 4151)
			c.Send(fmt.Sprintf("REGISTER shutdown.t%d c%d\nREGISTER shutdown.e%d#ephemeral\nPING\n", i%10, i%3, i%5))
			topics[fmt.Sprint(i%10)] = true
			channels[fmt.Sprint(i%10, "/", i%3)] = true
			c.ExpectFrame("OK")
			c.ExpectFrame("OK")
			c.ExpectFrame("OK")
		}},
	}
	var clients []*test.V1Conn
	identified := 0
	for _, k := range kinds {
		for i := 0; i < k.count; i++ {
			c := r.dialRaw(t, "")
			k.setup(c, i)
			clients = append(clients, c)
		}
		if k.name == "identified" {
			identified += k.count
		}
	}
	test.Eventually(t, 10*time.Second, func() bool {
		return r.tcpConns() == len(clients) && r.store().Stats().Peers == identified
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
				resp, err := fetch(r, "GET", path)
				if err != nil {
					switch {
					case errors.Is(err, errBodyCut):
						// A response that started must be completed,
						// even during shutdown: the server drains, it
						// does not cut.
						t.Errorf("GET %s: response cut: %v", path, err)
					case !exiting.Load():
						// Refused or closed once Exit began; never
						// before.
						t.Errorf("GET %s before Exit: %v", path, err)
					}
					return
				}
				want := http.StatusOK
				if strings.Contains(path, "shutdown.none") {
					want = http.StatusNotFound
				}
				var v map[string]interface{}
				if resp.status != want || json.Unmarshal(resp.body, &v) != nil {
					t.Errorf("GET %s: status %d (want %d), body %q", path, resp.status, want, resp.body)
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
	r.waitExited(t, r.exitAsync(), 10*time.Second)
	t.Logf("Exit with %d TCP clients and %d HTTP loaders took %s", len(clients), loaders, time.Since(start))

	// Every client sees its connection closed: EOF or reset, not a timeout.
	deadline := time.Now().Add(5 * time.Second)
	open := 0
	for i, c := range clients {
		c.Conn().SetReadDeadline(deadline)
		_, err := io.Copy(io.Discard, c.Conn())
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			open++
			if open <= 5 {
				t.Errorf("client %d (%s) still open after Exit", i, c.LocalAddr())
			}
		}
	}
	if open > 0 {
		t.Fatalf("%d of %d TCP clients still open after Exit", open, len(clients))
	}
	expectRefused(t, "HTTP", r.RealHTTPAddr())
	expectRefused(t, "TCP", r.RealTCPAddr())
	// No peer is left, ephemeral registrations are gone, the others kept.
	stats := r.store().Stats()
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
		c.Close()
	}
	r.closeIdle()
	expectGoroutinesBack(t, baseline, 10*time.Second)
}

// TestShutdownDrainsInFlightRequest checks that Exit closes the HTTP
// listener at once, while a slow request (a CPU profile of a few seconds)
// is in flight, and lets that request finish within ShutdownTimeout instead
// of cutting it.
func TestShutdownDrainsInFlightRequest(t *testing.T) {
	baseline := runtime.NumGoroutine()
	r := startLookupd(t, quiet, func(s *setup) { s.opts.ShutdownTimeout = 20 * time.Second })

	type result struct {
		response
		err error
	}
	res := make(chan result, 1)
	go func() {
		resp, err := fetch(r, "GET", "/debug/pprof/profile?seconds=2")
		res <- result{resp, err}
	}()
	// The request is in flight once its handler runs in this process.
	test.Eventually(t, waitTimeout, func() bool {
		return strings.Contains(goroutineDump(), "net/http/pprof.Profile")
	}, "profile handler running")

	exited := r.exitAsync()
	test.Eventually(t, waitTimeout, func() bool {
		conn, err := net.DialTimeout("tcp", r.RealHTTPAddr().String(), time.Second)
		if err != nil {
			return true
		}
		conn.Close()
		return false
	}, "HTTP listener closed while draining")
	// Exit closes the listener before it waits for the request: the
	// profile, which has seconds left to run, must not have ended yet.
	select {
	case got := <-res:
		t.Fatalf("the profile request ended (status %d, %v) before the HTTP listener closed", got.status, got.err)
	default:
	}

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
	r.closeIdle()
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
				opts, _ := testOptions(t)
				opts.LogLevel = lg.WARN
				l, err := nsqlookupd.New(opts)
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
