// Command loadgen benchmarks nsqlookupd binaries the way a growing NSQ
// cluster loads them: it starts each binary on loopback ports, connects
// simulated nsqd producers over TCP (IDENTIFY, pipelined REGISTERs, PINGs)
// with a seeded workload, drives the HTTP API with keep-alive clients and
// prints a table of the figures plus JSON. With -compare it runs a second
// binary through the same workload in the same run, interleaving the noisy
// throughput phases, and prints ratios. See bench/README.md.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nsqlookupd/nsqlookupd/bench/internal/benchutil"
)

type options struct {
	bin, compare string
	workload     string
	producers    int
	topics       int
	channels     int
	seed         uint64
	duration     time.Duration
	slices       int
	clients      int
	jsonPath     string
	pprofDir     string
	pingConns    int
	pingBatch    int
	daemonArgs   string
	timeout      time.Duration
	heartbeat    time.Duration
	// skipDebug skips the /debug memory phase; debugConcurrent is how
	// many /debug requests its second measurement sends at once.
	skipDebug       bool
	debugConcurrent int
	// authCompare measures /lookup with reader auth on against off.
	authCompare bool
}

func main() {
	var o options
	var serve string
	flag.StringVar(&o.bin, "bin", "build/nsqlookupd", "nsqlookupd binary to benchmark (A)")
	flag.StringVar(&o.compare, "compare", "", "second binary (B) run through the same workloads in the same run; ratios are A/B")
	flag.StringVar(&o.workload, "workload", "all", "small, medium, large, all, or a comma-separated list")
	flag.IntVar(&o.producers, "producers", 0, "custom workload: number of producers (overrides -workload)")
	flag.IntVar(&o.topics, "topics", 0, "custom workload: topics per producer")
	flag.IntVar(&o.channels, "channels", 0, "custom workload: channels per topic")
	flag.Uint64Var(&o.seed, "seed", 1, "workload seed")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of each throughput measurement (/lookup, trivial ceiling, PING) per binary")
	flag.IntVar(&o.slices, "slices", 4, "throughput phases are split into this many slices, alternating between binaries and the ceiling server")
	flag.IntVar(&o.clients, "clients", 32, "keep-alive HTTP clients for /lookup throughput")
	flag.StringVar(&o.jsonPath, "json", "", "write results as JSON to this file")
	flag.StringVar(&o.pprofDir, "pprof-dir", "", "save daemon CPU profiles (during /lookup load, /nodes polling and disconnect) and a heap profile to this directory")
	flag.IntVar(&o.pingConns, "ping-conns", 10, "producer connections used for the PING phase (at most the workload's producers)")
	flag.IntVar(&o.pingBatch, "ping-batch", 1, "PINGs pipelined per round trip in the PING phase (1: each waits for its reply)")
	flag.StringVar(&o.daemonArgs, "daemon-args", "", "extra space-separated flags passed to both binaries")
	flag.DurationVar(&o.timeout, "timeout", 10*time.Minute, "give up on a single operation (a REGISTER batch, an HTTP request, cleanup) after this long")
	flag.DurationVar(&o.heartbeat, "heartbeat", 15*time.Second, "interval of each producer's PING heartbeat, as nsqd's")
	flag.BoolVar(&o.skipDebug, "skip-debug", false, "skip the /debug phase (RSS during /debug, REGISTER round trips while /debug and /nodes are polled)")
	flag.IntVar(&o.debugConcurrent, "debug-concurrent", 4, "concurrent GET /debug requests in the /debug phase's second measurement")
	flag.BoolVar(&o.authCompare, "auth-compare", false, "also measure /lookup with reader auth on (a second daemon with --auth-http-address pointing at a built-in auth server) against off")
	flag.StringVar(&serve, "serve-trivial", "", "internal: run the trivial ceiling server on this address")
	flag.Parse()

	if serve != "" {
		if err := serveTrivial(serve); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

func specs(o options) ([]workloadSpec, error) {
	if o.producers > 0 || o.topics > 0 || o.channels > 0 {
		if o.producers <= 0 || o.topics <= 0 || o.channels < 0 {
			return nil, errors.New("-producers and -topics must be positive (and -channels not negative) for a custom workload")
		}
		return []workloadSpec{{Name: "custom", Producers: o.producers, Topics: o.topics, Channels: o.channels}}, nil
	}
	if o.workload == "all" {
		return presets, nil
	}
	var out []workloadSpec
	for _, name := range strings.Split(o.workload, ",") {
		i := slices.IndexFunc(presets, func(s workloadSpec) bool { return s.Name == strings.TrimSpace(name) })
		if i < 0 {
			return nil, fmt.Errorf("unknown workload %q (want small, medium, large or all)", name)
		}
		out = append(out, presets[i])
	}
	return out, nil
}

// report is the JSON output.
type report struct {
	Started  time.Time `json:"started"`
	GoOS     string    `json:"goos"`
	CPUs     int       `json:"cpus"`
	Binaries []string  `json:"binaries"`
	Options  struct {
		Seed       uint64  `json:"seed"`
		Duration   float64 `json:"duration_seconds"`
		Slices     int     `json:"slices"`
		Clients    int     `json:"clients"`
		PingConns  int     `json:"ping_conns"`
		PingBatch  int     `json:"ping_batch"`
		DaemonArgs string  `json:"daemon_args,omitempty"`
	} `json:"options"`
	Results []*result `json:"results"`
	Checks  []check   `json:"checks"`
}

func run(o options) error {
	ws, err := specs(o)
	if err != nil {
		return err
	}
	if o.slices < 1 || o.clients < 1 || o.pingConns < 1 || o.pingBatch < 1 || o.duration <= 0 || o.debugConcurrent < 1 {
		return errors.New("-slices, -clients, -ping-conns, -ping-batch, -duration and -debug-concurrent must be positive")
	}
	if o.pprofDir != "" {
		if err := os.MkdirAll(o.pprofDir, 0o755); err != nil {
			return fmt.Errorf("creating -pprof-dir: %w", err)
		}
	}
	// The load generator's own heap (pre-built commands, latency samples)
	// is large but short-lived; collecting it less often leaves more CPU to
	// the daemon under test.
	debug.SetGCPercent(400)

	bins := []string{o.bin}
	if o.compare != "" {
		bins = append(bins, o.compare)
	}
	rep := report{Started: time.Now().UTC(), GoOS: runtime.GOOS, CPUs: runtime.NumCPU(), Binaries: bins}
	rep.Options.Seed = o.seed
	rep.Options.Duration = o.duration.Seconds()
	rep.Options.Slices = o.slices
	rep.Options.Clients = o.clients
	rep.Options.PingConns = o.pingConns
	rep.Options.PingBatch = o.pingBatch
	rep.Options.DaemonArgs = o.daemonArgs

	trivial, err := startTrivial(10 * time.Second)
	if err != nil {
		return err
	}
	defer trivial.stop()
	var auth *authServer
	if o.authCompare {
		if auth, err = startAuthServer(); err != nil {
			return err
		}
		defer auth.close()
	}

	var cols []column
	byLabel := map[string][]*result{}
	for _, spec := range ws {
		rs := runWorkload(o, spec, bins, trivial, auth)
		rep.Results = append(rep.Results, rs...)
		a := rs[0]
		byLabel[a.Label] = append(byLabel[a.Label], a)
		if len(rs) == 1 {
			cols = append(cols, column{head: spec.Name, r: a})
		} else {
			b := rs[1]
			byLabel[b.Label] = append(byLabel[b.Label], b)
			cols = append(cols,
				column{head: spec.Name + " A", r: a},
				column{head: spec.Name + " B", r: b},
				column{head: spec.Name + " A/B", r: a, base: b})
		}
		for _, r := range rs {
			rep.Checks = append(rep.Checks, evaluate(r)...)
		}
	}
	for _, label := range []string{"A", "B"} {
		if c, ok := flatness(byLabel[label]); ok {
			rep.Checks = append(rep.Checks, c)
		}
	}

	out := os.Stdout
	fmt.Fprintln(out)
	fmt.Fprintf(out, "A = %s\n", o.bin)
	if o.compare != "" {
		fmt.Fprintf(out, "B = %s   (ratio columns are A/B)\n", o.compare)
	}
	fmt.Fprintf(out, "seed %d, %d /lookup clients, throughput phases %s per binary in %d slices, %d CPUs\n\n",
		o.seed, o.clients, o.duration, o.slices, runtime.NumCPU())
	printTable(out, cols)
	fmt.Fprintln(out)
	fmt.Fprintln(out, "targets:")
	printChecks(out, rep.Checks)

	if o.jsonPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding JSON: %w", err)
		}
		if err := os.WriteFile(o.jsonPath, append(b, '\n'), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", o.jsonPath, err)
		}
		fmt.Fprintf(out, "\nJSON written to %s\n", o.jsonPath)
	}
	for _, r := range rep.Results {
		if len(r.Problems) > 0 {
			return errors.New("some phases failed or returned wrong data; see problems above and in the JSON")
		}
	}
	return nil
}

// target is one binary being benchmarked at one workload.
type target struct {
	label string
	bin   string
	d     *daemon
	res   *result

	mu     sync.Mutex
	ps     []*producer
	hbStop chan struct{}
	hbDone chan struct{}
	failed bool

	// probe is the producer of the REGISTER round-trip probes.
	probe *producer
	// auth is the reader-auth twin daemon, in -auth-compare mode.
	auth *authTwin
}

func (t *target) producers() []*producer {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.ps)
}

func (t *target) addProducer(p *producer) {
	t.mu.Lock()
	t.ps = append(t.ps, p)
	t.mu.Unlock()
}

// fail records err for phase and tears the target down; later phases skip it.
func (t *target) fail(phase string, err error) {
	t.res.problem("%s: %v", phase, err)
	if derr := t.d.alive(); derr != nil {
		t.res.problem("%v", derr)
	}
	t.failed = true
	t.res.Failed = true
	t.shutdown()
}

// shutdown stops the heartbeat, drops the producers and stops the daemon
// (and its reader-auth twin).
func (t *target) shutdown() {
	if t.auth != nil {
		t.auth.stop()
		t.auth = nil
	}
	if t.hbStop != nil {
		close(t.hbStop)
		<-t.hbDone
		t.hbStop = nil
	}
	for _, p := range t.producers() {
		p.close()
	}
	if t.d != nil {
		if err := t.d.stop(30 * time.Second); err != nil {
			t.res.problem("stopping daemon: %v", err)
		}
		t.d = nil
	}
}

// runWorkload measures every binary at one workload. Stable figures
// (registration, memory, endpoint latencies, cleanup) are measured one
// binary at a time; throughput phases alternate between the binaries and the
// trivial ceiling server in slices, so a change in machine load hits all of
// them alike.
func runWorkload(o options, spec workloadSpec, bins []string, trivial *trivialServer, auth *authServer) []*result {
	t0 := time.Now()
	w := generate(spec, o.seed)
	benchutil.Logf("workload %s: %d distinct topics, %d REGISTER commands (generated in %s)",
		spec, len(w.topics), w.total, time.Since(t0).Round(time.Millisecond))

	var targets []*target
	var results []*result
	loadStart := benchutil.LoadAverage()
	for i, bin := range bins {
		label := string(rune('A' + i))
		t := &target{label: label, bin: bin, res: &result{
			Binary: bin, Label: label, Workload: spec, Seed: o.seed,
			DistinctTopics: len(w.topics), Registers: w.total,
			LoadAvgStart: loadStart,
		}}
		targets = append(targets, t)
		results = append(results, t.res)
	}
	live := func(order []*target) []*target {
		return slices.DeleteFunc(slices.Clone(order), func(t *target) bool { return t.failed })
	}
	prof := func(t *target, phase string) string {
		if o.pprofDir == "" {
			return ""
		}
		return filepath.Join(o.pprofDir, fmt.Sprintf("%s-%s-%s.pb.gz", spec.Name, t.label, phase))
	}
	var profWG sync.WaitGroup
	profileCPU := func(t *target, phase string, d time.Duration) {
		path := prof(t, phase)
		if path == "" {
			return
		}
		secs := max(int(d/time.Second), 1)
		addr := t.d.httpAddr
		profWG.Add(1)
		go func() {
			defer profWG.Done()
			if err := fetchProfile(addr, fmt.Sprintf("profile?seconds=%d", secs), path); err != nil {
				benchutil.Logf("pprof: %v", err)
			}
		}()
	}

	// Start, connect and register, one binary at a time.
	for _, t := range targets {
		setupAndRegister(o, t, w)
		if path := prof(t, "heap"); path != "" && !t.failed {
			if err := fetchProfile(t.d.httpAddr, "heap?gc=1", path); err != nil {
				benchutil.Logf("pprof: %v", err)
			}
		}
		if auth != nil && !t.failed {
			var err error
			// A build without reader auth fails here; the other phases
			// go on.
			if t.auth, err = startAuthTwin(o, t, w, auth); err != nil {
				t.res.problem("%v", err)
			}
		}
	}
	// The pre-built commands are no longer needed.
	w.commands = nil

	// /lookup throughput against the same load on the trivial server.
	slice := o.duration / time.Duration(o.slices)
	lookAcc := make([]loadAcc, len(targets))
	lookCPU := make([]float64, len(targets))
	var trivAcc loadAcc
	var trivCPU float64
	for s := 0; s < o.slices; s++ {
		order := slices.Clone(targets)
		if s%2 == 1 {
			slices.Reverse(order)
		}
		for _, t := range live(order) {
			if s == 0 {
				profileCPU(t, "lookup", slice)
			}
			i := slices.Index(targets, t)
			cpu := startCPU(t.d.pid())
			runLoad(t.d.httpAddr, o.clients, slice, w.lookupPaths, "", o.seed+uint64(s), o.timeout, &lookAcc[i])
			lookCPU[i] += cpu.elapsed()
			if err := t.d.alive(); err != nil {
				t.fail("/lookup load", err)
			}
		}
		cpu := startCPU(trivial.cmd.Process.Pid)
		runLoad(trivial.addr, o.clients, slice, w.lookupPaths, "", o.seed+uint64(s), o.timeout, &trivAcc)
		trivCPU += cpu.elapsed()
	}
	profWG.Wait()
	triv := trivAcc.stats()
	benchutil.Logf("trivial server: %s req/s, p99 %s", num(triv.PerSec), dur(triv.P99Ms))
	for i, t := range targets {
		t.res.Trivial = triv
		if triv.Requests > 0 {
			t.res.TrivialCPUUs = trivCPU * 1e6 / float64(triv.Requests)
		}
		if t.failed {
			continue
		}
		t.res.Lookup = lookAcc[i].stats()
		if t.res.Lookup.Requests > 0 {
			t.res.LookupCPUUs = lookCPU[i] * 1e6 / float64(t.res.Lookup.Requests)
		}
		if triv.PerSec > 0 {
			t.res.LookupVsTrivial = t.res.Lookup.PerSec / triv.PerSec
		}
		benchutil.Logf("[%s %s] /lookup: %s req/s (%.2fx trivial), p50 %s, p99 %s, %d errors; CPU %s us per request (trivial %s us)",
			spec.Name, t.label, num(t.res.Lookup.PerSec), t.res.LookupVsTrivial,
			dur(t.res.Lookup.P50Ms), dur(t.res.Lookup.P99Ms), t.res.Lookup.Errors,
			num(t.res.LookupCPUUs), num(t.res.TrivialCPUUs))
		if t.res.Lookup.FirstErr != "" {
			t.res.problem("/lookup: %d errors, first: %s", t.res.Lookup.Errors, t.res.Lookup.FirstErr)
		}
	}

	// /lookup with reader auth on against off.
	for _, t := range live(targets) {
		if t.auth != nil {
			measureAuth(o, t, w, auth)
		}
	}

	// Single-request latencies of the other read endpoints, and checks that
	// the daemon holds what was registered.
	for _, t := range live(targets) {
		measureEndpoints(o, t, w)
	}

	// PING round trips, alternating like /lookup.
	pingTotal := make([]int64, len(targets))
	pingTime := make([]time.Duration, len(targets))
	for s := 0; s < o.slices; s++ {
		order := slices.Clone(targets)
		if s%2 == 1 {
			slices.Reverse(order)
		}
		for _, t := range live(order) {
			ps := t.producers()
			ps = ps[:min(o.pingConns, len(ps))]
			n, d, err := runPing(ps, o.pingBatch, slice, o.timeout)
			if err != nil {
				t.fail("PING", err)
				continue
			}
			i := slices.Index(targets, t)
			pingTotal[i] += n
			pingTime[i] += d
		}
	}
	for _, t := range live(targets) {
		j := slices.Index(targets, t)
		if pingTime[j] > 0 {
			t.res.PingsPerSec = float64(pingTotal[j]) / pingTime[j].Seconds()
		}
		benchutil.Logf("[%s %s] PING: %s round trips/s", spec.Name, t.label, num(t.res.PingsPerSec))
	}

	// REGISTER round trips of one more producer, alone and while /nodes is
	// polled.
	for _, t := range live(targets) {
		probe, err := dialProducer(t.d.tcpAddr, spec.Producers, o.timeout)
		if err != nil {
			t.fail("probe connect", err)
			continue
		}
		t.addProducer(probe)
		t.probe = probe
		if t.res.ProbeIdle, err = runProbe(probe, o.duration/2, "", nil, o.timeout); err != nil {
			t.fail("REGISTER probe", err)
			continue
		}
		profileCPU(t, "nodes-polled", o.duration)
		if t.res.ProbePolled, err = runProbe(probe, o.duration, t.d.httpAddr, []string{"/nodes"}, o.timeout); err != nil {
			t.fail("REGISTER probe with /nodes polled", err)
			continue
		}
		profWG.Wait()
		benchutil.Logf("[%s %s] REGISTER rtt idle: p50 %s p99 %s max %s; /nodes polled: p50 %s p99 %s max %s (%d REGISTERs, %d /nodes, /nodes median %s)",
			spec.Name, t.label, dur(t.res.ProbeIdle.P50Ms), dur(t.res.ProbeIdle.P99Ms), dur(t.res.ProbeIdle.MaxMs),
			dur(t.res.ProbePolled.P50Ms), dur(t.res.ProbePolled.P99Ms), dur(t.res.ProbePolled.MaxMs),
			t.res.ProbePolled.N, t.res.ProbePolled.Polls, dur(t.res.ProbePolled.PollMedian))
	}

	// Memory while /debug is answered, and REGISTER round trips while
	// /debug and /nodes are polled.
	if !o.skipDebug {
		for _, t := range live(targets) {
			measureDebug(o, t, spec, func() { profileCPU(t, "debug-polled", o.duration) })
			profWG.Wait()
		}
	}

	// Every producer disconnects at once.
	for _, t := range live(targets) {
		close(t.hbStop)
		<-t.hbDone
		t.hbStop = nil
		sample := sampleTopics(w, 100)
		sample = append(sample, "probe-0")
		profileCPU(t, "disconnect", 5*time.Second)
		cpu := startCPU(t.d.pid())
		d, err := waitClean(t.producers(), t.d.httpAddr, sample, o.timeout)
		t.res.CleanCPUSeconds = cpu.elapsed()
		profWG.Wait()
		if err != nil {
			t.fail("disconnect", err)
			continue
		}
		t.res.CleanSeconds = d.Seconds()
		benchutil.Logf("[%s %s] all producers disconnected: store clean after %s (daemon CPU %.2fs)",
			spec.Name, t.label, d.Round(time.Microsecond), t.res.CleanCPUSeconds)
		if _, peak, err := memStats(t.d.pid()); err == nil {
			t.res.RSSPeak = peak
		}
	}
	for _, t := range targets {
		if !t.failed {
			t.shutdown()
		}
	}
	loadEnd := benchutil.LoadAverage()
	for _, r := range results {
		r.LoadAvgEnd = loadEnd
	}
	return results
}

// registerRounds is how many times a workload's registration is timed: a
// burst of a few thousand commands lasts milliseconds, so small workloads
// are registered on several fresh daemons (at least minRegisterCommands
// commands in all, at most 20 rounds) and the median rate is reported.
func registerRounds(total int) int {
	const minRegisterCommands = 100_000
	return min(max((minRegisterCommands+total-1)/total, 1), 20)
}

// setupAndRegister starts t's daemon, connects the producers and sends all
// REGISTERs, measuring throughput and memory. Earlier rounds (see
// registerRounds) use a daemon of their own that is stopped afterwards; the
// last round's daemon stays up for the remaining phases.
func setupAndRegister(o options, t *target, w *workload) {
	var extra []string
	if o.daemonArgs != "" {
		extra = strings.Fields(o.daemonArgs)
	}
	rounds := registerRounds(w.total)
	var elapsed []time.Duration
	var cpuTotal float64
	for round := 0; round < rounds; round++ {
		last := round == rounds-1
		d, err := startDaemon(t.label, t.bin, extra, 10*time.Second)
		if err != nil {
			t.res.problem("start: %v", err)
			t.failed = true
			t.res.Failed = true
			return
		}
		// A failure in an earlier round tears this daemon down too.
		t.d = d
		if last {
			if t.res.RSSBaseline, _, err = memStats(d.pid()); err != nil {
				t.fail("memory", err)
				return
			}
		}
		ps, err := connectProducers(d.tcpAddr, 0, w.spec.Producers, 30*time.Second)
		if err != nil {
			t.fail("connect", err)
			return
		}
		t.ps = ps
		if last {
			if t.res.RSSConnected, _, err = memStats(d.pid()); err != nil {
				t.fail("memory", err)
				return
			}
			t.hbStop, t.hbDone = make(chan struct{}), make(chan struct{})
			go func(stop <-chan struct{}, done chan<- struct{}) {
				defer close(done)
				heartbeat(t.producers, o.heartbeat, stop)
			}(t.hbStop, t.hbDone)
		}
		cpu := startCPU(d.pid())
		e, err := runRegister(ps, w, o.timeout)
		if err != nil {
			t.fail("REGISTER", err)
			return
		}
		cpuTotal += cpu.elapsed()
		elapsed = append(elapsed, e)
		if !last {
			for _, p := range ps {
				p.close()
			}
			t.ps = nil
			if err := d.stop(30 * time.Second); err != nil {
				t.res.problem("stopping daemon: %v", err)
			}
			t.d = nil
		}
	}
	d := t.d
	slices.Sort(elapsed)
	median := elapsed[len(elapsed)/2]
	t.res.RegisterRounds = rounds
	t.res.RegisterCPUUs = cpuTotal * 1e6 / float64(w.total*rounds)
	t.res.RegisterSeconds = median.Seconds()
	t.res.RegistersPerSec = float64(w.total) / median.Seconds()
	// Let the daemon finish whatever follows its last reply before reading
	// its memory.
	time.Sleep(time.Second)
	var err error
	if t.res.RSSAfter, _, err = memStats(d.pid()); err != nil {
		t.fail("memory", err)
		return
	}
	t.res.RSSPerRegister = float64(t.res.RSSAfter-t.res.RSSBaseline) / float64(w.total)
	roundsNote := ""
	if rounds > 1 {
		roundsNote = fmt.Sprintf(" (median of %d rounds)", rounds)
	}
	benchutil.Logf("[%s %s] REGISTER: %s commands in %s = %s/s%s, %s us CPU each; RSS %s -> %s (%s B per REGISTER)",
		w.spec.Name, t.label, benchutil.Commas(int64(w.total)), median.Round(time.Microsecond), num(t.res.RegistersPerSec),
		roundsNote, num(t.res.RegisterCPUUs), mb(t.res.RSSBaseline), mb(t.res.RSSAfter), num(t.res.RSSPerRegister))
}

// sampleTopics picks n registered topics spread over the whole list.
func sampleTopics(w *workload, n int) []string {
	n = min(n, len(w.topics))
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, w.topics[i*len(w.topics)/n])
	}
	return out
}

// measureEndpoints times /channels, /topics and /nodes and checks their
// contents and a sample of /lookup replies against the workload.
func measureEndpoints(o options, t *target, w *workload) {
	r := t.res
	addr := t.d.httpAddr
	nt := len(w.channelPaths)

	var first []byte
	r.Channels, first = measureLatency(addr, func(i int) string { return w.channelPaths[(i*7919)%nt] }, 20, 1000, 2*time.Second, o.timeout)
	var cb channelsBody
	if err := json.Unmarshal(first, &cb); err != nil {
		r.problem("/channels: decoding: %v", err)
	} else {
		if cb.Data != nil {
			cb = *cb.Data
		}
		if len(cb.Channels) != w.spec.Channels {
			r.problem("/channels?topic=%s: %d channels, want %d", w.topics[0], len(cb.Channels), w.spec.Channels)
		}
	}

	r.Topics, first = measureLatency(addr, func(int) string { return "/topics" }, 5, 50, 5*time.Second, o.timeout)
	var tb topicsBody
	if err := json.Unmarshal(first, &tb); err != nil {
		r.problem("/topics: decoding: %v", err)
	} else {
		if tb.Data != nil {
			tb = *tb.Data
		}
		if len(tb.Topics) != len(w.topics) {
			r.problem("/topics: %d topics, want %d", len(tb.Topics), len(w.topics))
		}
	}

	cpu := startCPU(t.d.pid())
	r.Nodes, first = measureLatency(addr, func(int) string { return "/nodes" }, 3, 20, 10*time.Second, o.timeout)
	if r.Nodes.N > 0 {
		r.NodesCPUMs = cpu.elapsed() * 1000 / float64(r.Nodes.N)
	}
	var nb nodesBody
	if err := json.Unmarshal(first, &nb); err != nil {
		r.problem("/nodes: decoding: %v", err)
	} else {
		if nb.Data != nil {
			nb = *nb.Data
		}
		total := 0
		for _, p := range nb.Producers {
			total += len(p.Topics)
		}
		if len(nb.Producers) != w.spec.Producers || total != w.spec.Producers*w.spec.Topics {
			r.problem("/nodes: %d producers with %d topics in all, want %d with %d",
				len(nb.Producers), total, w.spec.Producers, w.spec.Producers*w.spec.Topics)
		}
	}
	for _, lat := range []struct {
		name string
		st   latencyStats
	}{{"/channels", r.Channels}, {"/topics", r.Topics}, {"/nodes", r.Nodes}} {
		if lat.st.Errors > 0 {
			r.problem("%s: %d errors, first: %s", lat.name, lat.st.Errors, lat.st.FirstErr)
		}
	}

	hc := newHTTPConn(addr, o.timeout)
	defer hc.close()
	var body []byte
	for i := 0; i < 20 && i < nt; i++ {
		k := (i * 104729) % nt
		status, _, err := hc.get(w.lookupPaths[k], &body)
		if err != nil || status != 200 {
			r.problem("GET %s: status %d, %v", w.lookupPaths[k], status, err)
			break
		}
		var lb lookupBody
		if err := json.Unmarshal(body, &lb); err != nil {
			r.problem("GET %s: decoding: %v", w.lookupPaths[k], err)
			break
		}
		if lb.Data != nil {
			lb = *lb.Data
		}
		if len(lb.Producers) != w.producersOf[k] {
			r.problem("GET %s: %d producers, want %d", w.lookupPaths[k], len(lb.Producers), w.producersOf[k])
			break
		}
	}
	benchutil.Logf("[%s %s] /channels median %s, /topics median %s (%d), /nodes median %s (%d, %s, %s CPU each)",
		w.spec.Name, t.label, dur(r.Channels.MedianMs), dur(r.Topics.MedianMs), r.Topics.N,
		dur(r.Nodes.MedianMs), r.Nodes.N, mb(r.Nodes.BodyBytes), dur(r.NodesCPUMs))
}

// writeFileFrom copies r into a new file at path.
func writeFileFrom(path string, r io.Reader) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("creating %s: %w", path, err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// measureDebug measures the daemon's RSS growth during one GET /debug and
// during several at once, then the probe's REGISTER round trips while
// /debug and /nodes are each polled back to back. profile starts the CPU
// profile of the polled part, if profiles are kept.
func measureDebug(o options, t *target, spec workloadSpec, profile func()) {
	r := t.res
	t0 := time.Now()
	kill := func() {
		benchutil.Logf("[%s %s] available memory low during /debug: killing the daemon", spec.Name, t.label)
		t.d.cmd.Process.Kill()
	}
	var err error
	if r.DebugOne, err = runDebugMemory(t.d.pid(), t.d.httpAddr, 1, o.timeout, kill); err != nil {
		t.fail("/debug memory", err)
		return
	}
	// Several at once may need that many times the memory one needed;
	// skip them rather than push the machine out of memory.
	need := r.DebugOne.RSSGrowth * int64(o.debugConcurrent)
	if avail, err := benchutil.Meminfo("MemAvailable:"); err == nil && need > avail-benchutil.MemoryFloor() {
		r.DebugConcurrent = debugStats{Concurrent: o.debugConcurrent,
			Skipped: fmt.Sprintf("would need about %s, %s available", mb(need), mb(avail))}
		benchutil.Logf("[%s %s] %d /debug at once skipped: %s", spec.Name, t.label, o.debugConcurrent, r.DebugConcurrent.Skipped)
	} else if r.DebugConcurrent, err = runDebugMemory(t.d.pid(), t.d.httpAddr, o.debugConcurrent, o.timeout, kill); err != nil {
		t.fail("/debug memory, concurrent", err)
		return
	}
	profile()
	if r.ProbeDebugPolled, err = runProbe(t.probe, o.duration, t.d.httpAddr, []string{"/debug", "/nodes"}, o.timeout); err != nil {
		t.fail("REGISTER probe with /debug and /nodes polled", err)
		return
	}
	r.DebugPhaseSeconds = time.Since(t0).Seconds()
	benchutil.Logf("[%s %s] /debug: %s in %s; RSS +%s (%.1f%% of the answer) for one, %s for %d at once; "+
		"REGISTER rtt with /debug and /nodes polled: p99 %s max %s (%d REGISTERs, %d /debug, %d /nodes); phase took %s",
		spec.Name, t.label, mb(r.DebugOne.BodyBytes), dur(r.DebugOne.Seconds*1000), mb(r.DebugOne.RSSGrowth), r.DebugOne.GrowthPct,
		r.DebugConcurrent.text(fmt.Sprintf("+%s (%.1f%%)", mb(r.DebugConcurrent.RSSGrowth), r.DebugConcurrent.GrowthPct)),
		r.DebugConcurrent.Concurrent,
		dur(r.ProbeDebugPolled.P99Ms), dur(r.ProbeDebugPolled.MaxMs), r.ProbeDebugPolled.N,
		r.ProbeDebugPolled.polls("/debug"), r.ProbeDebugPolled.polls("/nodes"),
		time.Since(t0).Round(time.Millisecond))
}
