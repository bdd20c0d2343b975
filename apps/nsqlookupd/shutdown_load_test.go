package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// promptExit bounds how long the binary may take to exit after SIGTERM
// under load: generous for a loaded machine, yet far below the client and
// shutdown timeouts TestSIGTERMUnderLoad sets, which a shutdown waiting for
// a client would take.
const promptExit = 10 * time.Second

// TestSIGTERMUnderLoad stops the binary while hundreds of TCP clients are
// connected (identified producers, clients that never sent the magic,
// clients stalled inside an IDENTIFY) and HTTP requests are in flight. It
// must exit 0, within promptExit, and close every client.
func TestSIGTERMUnderLoad(t *testing.T) {
	// Every client's own deadline, and the HTTP drain's, lies far beyond
	// promptExit: only closing the clients can end them in time.
	p := startProc(t, answering, "--log-level=warn",
		"--magic-timeout=2m", "--client-timeout=2m", "--shutdown-timeout=2m")

	const producers, silent, stalled = 200, 50, 50
	var conns []net.Conn
	for i := 0; i < producers; i++ {
		c := test.DialV1(t, p.tcpAddr)
		c.Identify("127.0.0.1", 10000+i, 20000+i)
		var cmds strings.Builder
		for j := 0; j < 5; j++ {
			fmt.Fprintf(&cmds, "REGISTER topic-%d chan-%d\n", (i+j)%40, j)
		}
		c.Send(cmds.String())
		for j := 0; j < 5; j++ {
			c.ExpectFrame("OK")
		}
		conns = append(conns, c.Conn())
	}
	for i := 0; i < silent+stalled; i++ {
		conn, err := net.DialTimeout("tcp", p.tcpAddr, 5*time.Second)
		test.Nil(t, err, "dial")
		t.Cleanup(func() { conn.Close() })
		if i >= silent {
			// magic, then half of an IDENTIFY length prefix
			_, err = conn.Write([]byte("  V1IDENTIFY\n\x00\x00"))
			test.Nil(t, err, "write partial IDENTIFY")
		}
		conns = append(conns, conn)
	}

	// HTTP readers keep requests in flight until the daemon is gone.
	stop := make(chan struct{})
	var readers sync.WaitGroup
	var served sync.Map
	for i := 0; i < 8; i++ {
		readers.Add(1)
		go func() {
			defer readers.Done()
			transport := &http.Transport{}
			defer transport.CloseIdleConnections()
			client := &http.Client{Transport: transport, Timeout: 5 * time.Second}
			for n := 0; n < 100000; n++ {
				select {
				case <-stop:
					return
				default:
				}
				path := "/nodes"
				if n%2 == 0 {
					path = fmt.Sprintf("/lookup?topic=topic-%d", n%40)
				}
				resp, err := client.Get("http://" + p.httpAddr + path)
				if err != nil {
					return // the daemon has closed its listener
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				served.Store(i, true)
			}
		}()
	}
	test.Eventually(t, 5*time.Second, func() bool {
		n := 0
		served.Range(func(_, _ interface{}) bool { n++; return true })
		return n == 8
	}, "every HTTP reader served")

	start := time.Now()
	test.Nil(t, p.cmd.Process.Signal(syscall.SIGTERM), "SIGTERM")
	var status int
	select {
	case <-p.done:
		status = p.cmd.ProcessState.ExitCode()
	case <-time.After(promptExit):
		t.Fatalf("nsqlookupd still running %s after SIGTERM; stderr:\n%s", promptExit, p.stderr.String())
	}
	elapsed := time.Since(start)
	close(stop)
	readers.Wait()
	test.Equal(t, 0, status, "exit status")
	t.Logf("exited %s after SIGTERM with %d TCP clients and 8 HTTP readers", elapsed, len(conns))

	for i, conn := range conns {
		conn.SetReadDeadline(time.Now().Add(2 * time.Second))
		buf := make([]byte, 512)
		for {
			_, err := conn.Read(buf)
			if err == nil {
				continue // error frames or replies still in flight
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("client %d still connected after the daemon exited", i)
			}
			break
		}
	}
	test.Equal(t, 0, len(p.fatalLines()), "FATAL lines on a clean stop")
}
