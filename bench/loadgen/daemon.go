package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nsqlookupd/nsqlookupd/bench/internal/benchutil"
)

// daemon is a running nsqlookupd binary listening on loopback ports.
type daemon struct {
	label    string
	bin      string
	cmd      *exec.Cmd
	tcpAddr  string
	httpAddr string
	exited   chan struct{}
	exitErr  error
	logWG    sync.WaitGroup
}

// startDaemon runs bin on free loopback ports with flags every upstream
// v1.3.0-compatible binary understands, plus extra, and waits until its
// HTTP API answers /ping. The daemon's stderr is copied to ours, prefixed
// with label.
func startDaemon(label, bin string, extra []string, timeout time.Duration) (*daemon, error) {
	abs, err := filepath.Abs(bin)
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", bin, err)
	}
	if st, err := os.Stat(abs); err != nil || st.IsDir() {
		return nil, fmt.Errorf("binary %s is not a file (build it first): %v", abs, err)
	}
	tcpPort, err := benchutil.FreePort()
	if err != nil {
		return nil, err
	}
	httpPort, err := benchutil.FreePort()
	if err != nil {
		return nil, err
	}
	d := &daemon{
		label:    label,
		bin:      abs,
		tcpAddr:  "127.0.0.1:" + strconv.Itoa(tcpPort),
		httpAddr: "127.0.0.1:" + strconv.Itoa(httpPort),
		exited:   make(chan struct{}),
	}
	args := append([]string{
		"--tcp-address=" + d.tcpAddr,
		"--http-address=" + d.httpAddr,
		"--broadcast-address=127.0.0.1",
		"--log-level=warn",
	}, extra...)
	d.cmd = exec.Command(abs, args...)
	// The daemon must not outlive the load generator, even if it is killed.
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := d.cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("starting %s: %w", abs, err)
	}
	d.cmd.Stdout = os.Stdout
	if err := d.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", abs, err)
	}
	d.logWG.Add(1)
	go func() {
		defer d.logWG.Done()
		copyPrefixed(os.Stderr, stderr, "["+label+"] ")
	}()
	go func() {
		d.logWG.Wait()
		d.exitErr = d.cmd.Wait()
		close(d.exited)
	}()

	deadline := time.Now().Add(timeout)
	hc := newHTTPConn(d.httpAddr, time.Second)
	defer hc.close()
	for {
		status, _, err := hc.get("/ping", nil)
		if err == nil && status == http.StatusOK {
			return d, nil
		}
		select {
		case <-d.exited:
			return nil, fmt.Errorf("%s exited during startup: %v", abs, d.exitErr)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.stop(time.Second)
			return nil, fmt.Errorf("%s did not answer /ping within %s (last: %d %v)", abs, timeout, status, err)
		}
	}
}

func copyPrefixed(w io.Writer, r io.Reader, prefix string) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fmt.Fprintf(w, "%s%s\n", prefix, sc.Bytes())
	}
	io.Copy(io.Discard, r)
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

// stop sends SIGTERM and waits up to grace for a clean exit, then kills.
func (d *daemon) stop(grace time.Duration) error {
	select {
	case <-d.exited:
		return d.exitErr
	default:
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
		return d.exitErr
	case <-time.After(grace):
	}
	d.cmd.Process.Kill()
	<-d.exited
	return fmt.Errorf("%s did not exit within %s of SIGTERM; killed", d.label, grace)
}

// alive reports an error if the daemon has exited.
func (d *daemon) alive() error {
	select {
	case <-d.exited:
		return fmt.Errorf("%s (%s) exited: %v", d.label, d.bin, d.exitErr)
	default:
		return nil
	}
}

// memStats reads the resident set size and its peak from /proc.
func memStats(pid int) (rss, peak int64, err error) {
	if rss, err = benchutil.ProcStatus(pid, "VmRSS:"); err != nil {
		return 0, 0, err
	}
	peak, _ = benchutil.ProcStatus(pid, "VmHWM:")
	return rss, peak, nil
}

// trivialBody is what the ceiling server answers: 190 bytes shaped like a
// /lookup reply with one producer.
var trivialBody = func() []byte {
	b := []byte(`{"channels":["c0","c1"],"producers":[{"remote_address":"127.0.0.1:40000","hostname":"h","broadcast_address":"127.0.0.1","tcp_port":10000,"http_port":30000,"version":"1.3.0"}]}`)
	// Pad the hostname to reach exactly 190 bytes.
	pad := 190 - len(b)
	if pad < 0 {
		panic("trivial body longer than 190 bytes")
	}
	return bytes.Replace(b, []byte(`"h"`), []byte(`"h`+strings.Repeat("x", pad)+`"`), 1)
}()

// serveTrivial is the ceiling server's process body: a plain net/http server
// that answers every request with trivialBody. It runs until stdin closes
// (the load generator exits) or it gets SIGTERM.
func serveTrivial(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("trivial server: %w", err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			w.Write(trivialBody)
		}),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		stdinClosed := make(chan struct{})
		go func() {
			io.Copy(io.Discard, os.Stdin)
			close(stdinClosed)
		}()
		select {
		case <-sig:
		case <-stdinClosed:
		}
		srv.Close()
	}()
	if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("trivial server: %w", err)
	}
	return nil
}

// trivialServer is the ceiling server running as a child process of the
// load generator, so that like the daemon it has its own runtime and heap.
type trivialServer struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	addr   string
	exited chan struct{}
}

func startTrivial(timeout time.Duration) (*trivialServer, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("locating own executable: %w", err)
	}
	port, err := benchutil.FreePort()
	if err != nil {
		return nil, err
	}
	t := &trivialServer{addr: "127.0.0.1:" + strconv.Itoa(port), exited: make(chan struct{})}
	t.cmd = exec.Command(self, "-serve-trivial="+t.addr)
	t.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	t.cmd.Stdout = os.Stdout
	t.cmd.Stderr = os.Stderr
	if t.stdin, err = t.cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("starting trivial server: %w", err)
	}
	if err := t.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting trivial server: %w", err)
	}
	go func() {
		t.cmd.Wait()
		close(t.exited)
	}()
	deadline := time.Now().Add(timeout)
	hc := newHTTPConn(t.addr, time.Second)
	defer hc.close()
	for {
		status, n, err := hc.get("/ping", nil)
		if err == nil && status == http.StatusOK && n == int64(len(trivialBody)) {
			return t, nil
		}
		select {
		case <-t.exited:
			return nil, errors.New("trivial server exited during startup")
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.stop()
			return nil, fmt.Errorf("trivial server did not answer within %s: %v", timeout, err)
		}
	}
}

func (t *trivialServer) stop() {
	t.stdin.Close()
	select {
	case <-t.exited:
		return
	case <-time.After(5 * time.Second):
	}
	t.cmd.Process.Kill()
	<-t.exited
}

// clockTicks is the kernel's USER_HZ, the unit of CPU times in /proc; it is
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// cpuSeconds returns the user plus system CPU time pid has used so far.
// Phases report the daemon's CPU per operation alongside wall-clock figures:
// on a shared machine the wall clock includes time the daemon spent waiting
// for a core, its CPU time does not.
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("reading CPU time of pid %d: %w", pid, err)
	}
	// The command name may contain spaces; fields resume after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return float64(ut+st) / clockTicks, nil
}

// cpuMeter measures a process's CPU time over a phase; errors (the process
// has gone) read as zero.
type cpuMeter struct {
	pid   int
	start float64
}

func startCPU(pid int) cpuMeter {
	s, _ := cpuSeconds(pid)
	return cpuMeter{pid: pid, start: s}
}

func (m cpuMeter) elapsed() float64 {
	s, err := cpuSeconds(m.pid)
	if err != nil {
		return 0
	}
	return s - m.start
}
