package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// notifyTimeout bounds every wait for a systemd notification.
const notifyTimeout = 10 * time.Second

// notifySocket is a unixgram socket standing in for systemd's
// NOTIFY_SOCKET; it records every datagram received.
type notifySocket struct {
	path string
	conn *net.UnixConn

	// mu guards msgs.
	mu   sync.Mutex
	msgs []string

	done chan struct{}
}

// newNotifySocket listens in a fresh temporary directory and closes the
// socket when the test ends.
func newNotifySocket(t *testing.T) *notifySocket {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	// sun_path holds 108 bytes on Linux, terminator included.
	if len(path) >= 108 {
		dir, err := os.MkdirTemp("", "sd")
		test.Nil(t, err, "short temporary directory")
		t.Cleanup(func() { os.RemoveAll(dir) })
		path = filepath.Join(dir, "notify.sock")
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	test.Nil(t, err, "listen on "+path)
	s := &notifySocket{path: path, conn: conn, done: make(chan struct{})}
	go s.read()
	t.Cleanup(func() {
		conn.Close()
		<-s.done
	})
	return s
}

func (s *notifySocket) read() {
	defer close(s.done)
	buf := make([]byte, 4096)
	for {
		n, _, err := s.conn.ReadFromUnix(buf)
		if err != nil {
			return
		}
		s.mu.Lock()
		s.msgs = append(s.msgs, string(buf[:n]))
		s.mu.Unlock()
	}
}

// messages returns every datagram received so far.
func (s *notifySocket) messages() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.msgs...)
}

// count returns how many datagrams equal to msg were received.
func (s *notifySocket) count(msg string) int {
	n := 0
	for _, m := range s.messages() {
		if m == msg {
			n++
		}
	}
	return n
}

// waitFor waits until n datagrams equal to msg have arrived, failing early
// if p exits first.
func (s *notifySocket) waitFor(t *testing.T, p *proc, msg string, n int) {
	t.Helper()
	test.Eventually(t, notifyTimeout, func() bool {
		if s.count(msg) >= n {
			return true
		}
		if p.exited() && s.count(msg) < n {
			// A datagram sent just before exiting may still be queued.
			s.sync(t)
			if s.count(msg) < n {
				t.Fatalf("nsqlookupd exited after sending %q; want %d × %q; stderr:\n%s",
					s.messages(), n, msg, p.stderr.String())
			}
		}
		return false
	}, fmt.Sprintf("%d × %q on NOTIFY_SOCKET", n, msg))
}

// sync sends a marker datagram and waits for it: datagrams on a unix socket
// arrive in order, so everything sent before is then recorded.
func (s *notifySocket) sync(t *testing.T) {
	t.Helper()
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: s.path, Net: "unixgram"})
	test.Nil(t, err, "dial NOTIFY_SOCKET")
	defer conn.Close()
	marker := fmt.Sprintf("TEST_MARKER=%d", time.Now().UnixNano())
	_, err = conn.Write([]byte(marker))
	test.Nil(t, err, "write marker")
	test.Eventually(t, notifyTimeout, func() bool {
		return s.count(marker) == 1
	}, "marker datagram")
}

// setNotifyEnv points the next child processes at s (nil: no socket) and
// sets the watchdog variables ("" leaves one unset).
func setNotifyEnv(t *testing.T, s *notifySocket, watchdogUsec, watchdogPID string) {
	t.Helper()
	path := ""
	if s != nil {
		path = s.path
	}
	for name, value := range map[string]string{
		"NOTIFY_SOCKET": path,
		"WATCHDOG_USEC": watchdogUsec,
		"WATCHDOG_PID":  watchdogPID,
	} {
		// Setenv restores the previous value when the test ends.
		t.Setenv(name, value)
		if value == "" {
			os.Unsetenv(name)
		}
	}
}

// TestSystemdNotifyReadyStopping checks READY=1 once both ports accept
// connections and STOPPING=1 on SIGTERM, followed by exit status 0.
func TestSystemdNotifyReadyStopping(t *testing.T) {
	sock := newNotifySocket(t)
	setNotifyEnv(t, sock, "", "")
	tcpAddr, httpAddr := freeAddr(t), freeAddr(t)
	p := runProc(t, "--tcp-address="+tcpAddr, "--http-address="+httpAddr)

	sock.waitFor(t, p, "READY=1", 1)
	// Both listeners are bound by the time systemd hears READY=1: these
	// connections do not depend on any wait.
	for _, addr := range []string{tcpAddr, httpAddr} {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		test.Nil(t, err, "connect to "+addr+" right after READY=1")
		conn.Close()
	}
	c := test.DialV1(t, tcpAddr)
	test.Equal(t, "OK", c.Command("PING"), "PING reply after READY=1")
	code, body := httpDo(t, "GET", "http://"+httpAddr+"/ping")
	test.Equal(t, http.StatusOK, code, "/ping status after READY=1")
	test.Equal(t, "OK", string(body), "/ping body")
	test.Equal(t, 0, sock.count("STOPPING=1"), "STOPPING=1 before the signal")

	test.Nil(t, p.cmd.Process.Signal(syscall.SIGTERM), "send SIGTERM")
	sock.waitFor(t, p, "STOPPING=1", 1)
	test.Equal(t, 0, p.wait(), "exit status after SIGTERM")
	test.Equal(t, 0, len(p.fatalLines()), "FATAL lines")

	sock.sync(t)
	var states []string
	for _, m := range sock.messages() {
		if !strings.HasPrefix(m, "TEST_MARKER=") {
			states = append(states, m)
		}
	}
	test.Equal(t, []string{"READY=1", "STOPPING=1"}, states, "notifications in order, no watchdog without WATCHDOG_USEC")
}

// TestSystemdWatchdog checks that WATCHDOG=1 pings arrive repeatedly when
// the watchdog is enabled for this process, and never when WATCHDOG_PID
// names another process.
func TestSystemdWatchdog(t *testing.T) {
	watchedSock := newNotifySocket(t)
	setNotifyEnv(t, watchedSock, "200000", "")
	watched := runProc(t, localAddrs...)

	otherSock := newNotifySocket(t)
	// PID 1 is never the daemon: the watchdog is someone else's.
	setNotifyEnv(t, otherSock, "200000", "1")
	other := runProc(t, localAddrs...)

	watchedSock.waitFor(t, watched, "READY=1", 1)
	otherSock.waitFor(t, other, "READY=1", 1)

	// Pings come every 100ms (half of WATCHDOG_USEC): several arrive while
	// the other daemon, started at the same time, is running too.
	pings := watchedSock.count("WATCHDOG=1")
	watchedSock.waitFor(t, watched, "WATCHDOG=1", pings+3)
	test.Equal(t, 0, otherSock.count("WATCHDOG=1"), "WATCHDOG=1 with WATCHDOG_PID of another process")

	for _, p := range []*proc{watched, other} {
		test.Nil(t, p.cmd.Process.Signal(syscall.SIGTERM), "send SIGTERM")
		test.Equal(t, 0, p.wait(), "exit status after SIGTERM")
	}
	otherSock.sync(t)
	test.Equal(t, 0, otherSock.count("WATCHDOG=1"), "WATCHDOG=1 with WATCHDOG_PID of another process")
	test.Equal(t, 1, otherSock.count("STOPPING=1"), "STOPPING=1 of the unwatched daemon")
}

// TestSystemdWatchdogInvalidInterval checks that an unusable WATCHDOG_USEC
// is reported and does not stop the daemon from starting.
func TestSystemdWatchdogInvalidInterval(t *testing.T) {
	sock := newNotifySocket(t)
	setNotifyEnv(t, sock, "soon", "")
	p := runProc(t, localAddrs...)
	sock.waitFor(t, p, "READY=1", 1)
	test.Eventually(t, notifyTimeout, func() bool {
		return p.hasLine(" WARNING: ", "WATCHDOG_USEC")
	}, "WARNING line about WATCHDOG_USEC")
	test.Nil(t, p.cmd.Process.Signal(syscall.SIGTERM), "send SIGTERM")
	test.Equal(t, 0, p.wait(), "exit status after SIGTERM")
	sock.sync(t)
	test.Equal(t, 0, sock.count("WATCHDOG=1"), "WATCHDOG=1 pings")
}

// TestSystemdUnreachableNotifySocket checks that a NOTIFY_SOCKET nobody
// listens on is reported and does not stop the daemon.
func TestSystemdUnreachableNotifySocket(t *testing.T) {
	sock := &notifySocket{path: filepath.Join(t.TempDir(), "nobody.sock")}
	setNotifyEnv(t, sock, "", "")
	p := startProc(t, answering)
	test.Eventually(t, notifyTimeout, func() bool {
		return p.hasLine(" WARNING: ", "READY=1")
	}, "WARNING line about the failed READY=1")
	test.Equal(t, "OK", test.DialV1(t, p.tcpAddr).Command("PING"), "PING reply")
	test.Nil(t, p.cmd.Process.Signal(syscall.SIGTERM), "send SIGTERM")
	test.Equal(t, 0, p.wait(), "exit status after SIGTERM")
}

// TestBadTLSFilesAreFatal checks that unusable HTTPS certificate files stop
// the daemon at start with one FATAL line naming the problem, exit status 1
// and no READY=1.
func TestBadTLSFilesAreFatal(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.pem")
	test.Nil(t, os.WriteFile(garbage, []byte("not PEM\n"), 0o600), "write garbage file")
	missing := filepath.Join(dir, "missing.pem")

	tests := []struct {
		name string
		args []string
		want string // substring of the FATAL line
	}{
		{"missing files", []string{"--tls-cert=" + missing, "--tls-key=" + missing}, "missing.pem"},
		{"garbage PEM", []string{"--tls-cert=" + garbage, "--tls-key=" + garbage}, "garbage.pem"},
		{"certificate without key", []string{"--tls-cert=" + garbage}, "tls-key"},
		{"require-verify without root CA file", []string{"--tls-cert=" + garbage, "--tls-key=" + garbage,
			"--tls-client-auth-policy=require-verify"}, "tls-root-ca-file"},
		{"unknown minimum version", []string{"--tls-cert=" + garbage, "--tls-key=" + garbage,
			"--tls-min-version=ssl3"}, "ssl3"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sock := newNotifySocket(t)
			setNotifyEnv(t, sock, "", "")
			args := append([]string{"--https-address=127.0.0.1:0"}, localAddrs...)
			runProc(t, append(args, tc.args...)...).expectFatalExit(tc.want)
			sock.sync(t)
			test.Equal(t, 0, sock.count("READY=1"), "READY=1 from a daemon that failed to start")
		})
	}
}
