package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nsqlookupd/nsqlookupd/bench/internal/benchutil"
)

// httpStats summarizes a closed-loop HTTP load: keep-alive clients each
// sending the next request as soon as the previous response is read.
type httpStats struct {
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Seconds  float64 `json:"seconds"`
	PerSec   float64 `json:"per_sec"`
	P50Ms    float64 `json:"p50_ms"`
	P99Ms    float64 `json:"p99_ms"`
	MaxMs    float64 `json:"max_ms"`
	FirstErr string  `json:"first_error,omitempty"`
}

// loadAcc accumulates several load slices into one httpStats.
type loadAcc struct {
	reqs, errs int64
	elapsed    time.Duration
	lats       []int64
	firstErr   error
}

func (a *loadAcc) stats() httpStats {
	s := httpStats{Requests: a.reqs, Errors: a.errs, Seconds: a.elapsed.Seconds()}
	if a.elapsed > 0 {
		s.PerSec = float64(a.reqs) / a.elapsed.Seconds()
	}
	slices.Sort(a.lats)
	s.P50Ms = ms(percentile(a.lats, 0.50))
	s.P99Ms = ms(percentile(a.lats, 0.99))
	if len(a.lats) > 0 {
		s.MaxMs = ms(a.lats[len(a.lats)-1])
	}
	if a.firstErr != nil {
		s.FirstErr = a.firstErr.Error()
	}
	return s
}

// percentile returns the q-quantile of sorted (nearest rank).
func percentile(sorted []int64, q float64) int64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted)) + 0.5)
	return sorted[min(max(i-1, 0), len(sorted)-1)]
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

// runLoad drives addr with clients keep-alive connections for dur, each
// request for a path drawn at random from paths and carrying header (see
// httpConn.header). Every connection first makes one uncounted request so
// that connection setup is not measured. A non-200 response counts as an
// error.
func runLoad(addr string, clients int, dur time.Duration, paths []string, header string, seed uint64, timeout time.Duration, acc *loadAcc) {
	var (
		wg      sync.WaitGroup
		ready   sync.WaitGroup
		start   = make(chan struct{})
		mu      sync.Mutex
		endTime time.Time
	)
	var reqs, errs atomic.Int64
	lats := make([][]int64, clients)
	ready.Add(clients)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(c)))
			hc := newHTTPConn(addr, timeout)
			hc.header = header
			defer hc.close()
			hc.get(paths[rng.IntN(len(paths))], nil)
			ready.Done()
			<-start
			deadline := time.Now().Add(dur)
			local := make([]int64, 0, 1<<14)
			var n, bad int64
			var firstErr error
			for {
				path := paths[rng.IntN(len(paths))]
				t0 := time.Now()
				status, _, err := hc.get(path, nil)
				t1 := time.Now()
				local = append(local, int64(t1.Sub(t0)))
				n++
				if err != nil || status != http.StatusOK {
					bad++
					if firstErr == nil {
						if err == nil {
							err = fmt.Errorf("GET %s: status %d", path, status)
						}
						firstErr = err
					}
					if err != nil {
						// Do not spin on a dead server.
						time.Sleep(10 * time.Millisecond)
					}
				}
				if !t1.Before(deadline) {
					mu.Lock()
					if t1.After(endTime) {
						endTime = t1
					}
					mu.Unlock()
					break
				}
			}
			reqs.Add(n)
			errs.Add(bad)
			lats[c] = local
			if firstErr != nil {
				mu.Lock()
				if acc.firstErr == nil {
					acc.firstErr = firstErr
				}
				mu.Unlock()
			}
		}()
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	wg.Wait()
	acc.reqs += reqs.Load()
	acc.errs += errs.Load()
	acc.elapsed += endTime.Sub(t0)
	for _, l := range lats {
		acc.lats = append(acc.lats, l...)
	}
}

// latencyStats describes sequential requests to one endpoint on one
// keep-alive connection, each response read completely.
type latencyStats struct {
	N         int     `json:"n"`
	MedianMs  float64 `json:"median_ms"`
	MaxMs     float64 `json:"max_ms"`
	BodyBytes int64   `json:"body_bytes"`
	Errors    int     `json:"errors"`
	FirstErr  string  `json:"first_error,omitempty"`
}

// measureLatency requests path(i) for i = 0, 1, ... at least minN and at
// most maxN times, stopping after budget once minN are done. The first
// response body is returned for validation.
func measureLatency(addr string, path func(i int) string, minN, maxN int, budget, timeout time.Duration) (latencyStats, []byte) {
	hc := newHTTPConn(addr, timeout)
	defer hc.close()
	// Warm the connection so the first sample does not include a dial.
	hc.get("/ping", nil)
	var (
		st    latencyStats
		lats  []int64
		first []byte
		body  []byte
	)
	start := time.Now()
	for i := 0; i < maxN; i++ {
		if i >= minN && time.Since(start) > budget {
			break
		}
		var dst *[]byte
		if i == 0 {
			dst = &body
		}
		t0 := time.Now()
		status, n, err := hc.get(path(i), dst)
		lats = append(lats, int64(time.Since(t0)))
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("GET %s: status %d", path(i), status)
		}
		if err != nil {
			st.Errors++
			if st.FirstErr == "" {
				st.FirstErr = err.Error()
			}
			continue
		}
		st.BodyBytes = n
		if i == 0 {
			first = body
		}
	}
	st.N = len(lats)
	slices.Sort(lats)
	if len(lats) > 0 {
		st.MedianMs = ms(lats[len(lats)/2])
		st.MaxMs = ms(lats[len(lats)-1])
	}
	return st, first
}

// runRegister sends every producer's REGISTER commands at once, each
// producer pipelining its whole list in one write while its reader counts
// the replies, and returns the time from the first write until every reply
// has been read.
func runRegister(ps []*producer, w *workload, timeout time.Duration) (time.Duration, error) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, len(ps))
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			target, err := p.send(w.commands[i], w.counts[i])
			if err == nil {
				err = p.wait(target, timeout)
			}
			errs[i] = err
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
	for _, err := range errs {
		if err != nil {
			return elapsed, err
		}
	}
	return elapsed, nil
}

// runPing has each producer in ps send batches of batch pipelined PINGs,
// waiting for a batch's replies before sending the next, for dur; it
// returns the round trips completed and the time taken.
func runPing(ps []*producer, batch int, dur, timeout time.Duration) (int64, time.Duration, error) {
	cmds := bytes.Repeat([]byte("PING\n"), batch)
	var wg sync.WaitGroup
	var total atomic.Int64
	errs := make([]error, len(ps))
	start := make(chan struct{})
	for i, p := range ps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			deadline := time.Now().Add(dur)
			for time.Now().Before(deadline) {
				if err := p.roundTrip(cmds, batch, timeout); err != nil {
					errs[i] = err
					return
				}
				total.Add(int64(batch))
			}
		}()
	}
	t0 := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(t0)
	for _, err := range errs {
		if err != nil {
			return total.Load(), elapsed, err
		}
	}
	return total.Load(), elapsed, nil
}

// probeStats is the REGISTER round-trip latency of one producer sending one
// command at a time.
type probeStats struct {
	N     int     `json:"n"`
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	MaxMs float64 `json:"max_ms"`
	// Polls are the /nodes requests completed meanwhile, if polled.
	Polls      int     `json:"nodes_polls,omitempty"`
	PollMedian float64 `json:"nodes_poll_median_ms,omitempty"`
	PollMax    float64 `json:"nodes_poll_max_ms,omitempty"`
	// Polled describes every endpoint polled meanwhile.
	Polled []pollStats `json:"polled,omitempty"`
}

// pollStats are the requests of one endpoint polled back to back during a
// probe.
type pollStats struct {
	Path     string  `json:"path"`
	N        int     `json:"n"`
	MedianMs float64 `json:"median_ms"`
	MaxMs    float64 `json:"max_ms"`
}

// polls returns how many requests of path were completed during the probe.
func (s probeStats) polls(path string) int {
	for _, p := range s.Polled {
		if p.Path == path {
			return p.N
		}
	}
	return 0
}

// probeTopics is how many topic names the probe cycles through: it creates
// them in its first pass and re-registers them afterwards, so the store
// barely grows however long the probe runs.
const probeTopics = 1000

// runProbe has p send "REGISTER probe-N" one at a time for dur and records
// each round trip. Meanwhile one connection per path in pollPaths requests
// it from pollAddr back to back, reading each body completely; the probe
// goes on past dur until every path has completed once (an answer that
// takes longer than dur still overlaps the probe).
func runProbe(p *producer, dur time.Duration, pollAddr string, pollPaths []string, timeout time.Duration) (probeStats, error) {
	var st probeStats
	stop := make(chan struct{})
	var pollWG sync.WaitGroup
	pollLats := make([][]int64, len(pollPaths))
	pollErrs := make([]error, len(pollPaths))
	var pollersDone atomic.Int64 // pollers with at least one request done, or failed
	for i, path := range pollPaths {
		pollWG.Add(1)
		go func() {
			defer pollWG.Done()
			hc := newHTTPConn(pollAddr, timeout)
			defer hc.close()
			for {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				status, _, err := hc.get(path, nil)
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("GET %s: status %d", path, status)
				}
				if err != nil {
					pollErrs[i] = err
					if len(pollLats[i]) == 0 {
						pollersDone.Add(1)
					}
					return
				}
				pollLats[i] = append(pollLats[i], int64(time.Since(t0)))
				if len(pollLats[i]) == 1 {
					pollersDone.Add(1)
				}
			}
		}()
	}
	if len(pollPaths) > 0 {
		// Let the first requests get going so the probe overlaps them.
		time.Sleep(10 * time.Millisecond)
	}
	var lats []int64
	var err error
	cmd := make([]byte, 0, 64)
	deadline := time.Now().Add(dur)
	hardDeadline := time.Now().Add(max(dur, timeout))
	for i := 0; ; i++ {
		now := time.Now()
		if !now.Before(hardDeadline) ||
			(!now.Before(deadline) && pollersDone.Load() == int64(len(pollPaths))) {
			break
		}
		cmd = append(cmd[:0], "REGISTER probe-"...)
		cmd = strconv.AppendInt(cmd, int64(i%probeTopics), 10)
		cmd = append(cmd, '\n')
		t0 := time.Now()
		if err = p.roundTrip(cmd, 1, timeout); err != nil {
			break
		}
		lats = append(lats, int64(time.Since(t0)))
	}
	close(stop)
	pollWG.Wait()
	if err == nil {
		err = errors.Join(pollErrs...)
	}
	slices.Sort(lats)
	st.N = len(lats)
	st.P50Ms = ms(percentile(lats, 0.50))
	st.P99Ms = ms(percentile(lats, 0.99))
	if len(lats) > 0 {
		st.MaxMs = ms(lats[len(lats)-1])
	}
	for i, path := range pollPaths {
		pl := pollLats[i]
		if len(pl) == 0 {
			continue
		}
		slices.Sort(pl)
		ps := pollStats{Path: path, N: len(pl), MedianMs: ms(pl[len(pl)/2]), MaxMs: ms(pl[len(pl)-1])}
		st.Polled = append(st.Polled, ps)
		if path == "/nodes" {
			st.Polls, st.PollMedian, st.PollMax = ps.N, ps.MedianMs, ps.MaxMs
		}
	}
	return st, err
}

// nodesBody is the part of a /nodes response the checks read. Older
// daemons wrap replies in "data"; both shapes are accepted.
type nodesBody struct {
	Producers []struct {
		RemoteAddress string   `json:"remote_address"`
		Topics        []string `json:"topics"`
	} `json:"producers"`
	Data *nodesBody `json:"data"`
}

type lookupBody struct {
	Producers []json.RawMessage `json:"producers"`
	Data      *lookupBody       `json:"data"`
}

type topicsBody struct {
	Topics []string    `json:"topics"`
	Data   *topicsBody `json:"data"`
}

type channelsBody struct {
	Channels []string      `json:"channels"`
	Data     *channelsBody `json:"data"`
}

// waitClean closes every producer at once and polls until the store is
// clean: /lookup for each of sample topics lists no producer (a
// non-ephemeral topic legitimately stays registered, empty; 404 also counts
// as clean) and then /nodes lists none. The cheap /lookup checks come first
// and a round stops at the first failure, so the polling itself barely
// loads the daemon while it cleans up. It returns the time from the first
// close until a round passed completely.
func waitClean(ps []*producer, addr string, sample []string, timeout time.Duration) (time.Duration, error) {
	hc := newHTTPConn(addr, timeout)
	defer hc.close()
	hc.get("/ping", nil)
	t0 := time.Now()
	for _, p := range ps {
		p.close()
	}
	deadline := t0.Add(timeout)
	var body []byte
	for {
		clean, err := checkClean(hc, sample, &body)
		if err != nil {
			return time.Since(t0), err
		}
		if clean {
			return time.Since(t0), nil
		}
		if time.Now().After(deadline) {
			return time.Since(t0), fmt.Errorf("store not clean after %s", timeout)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func checkClean(hc *httpConn, sample []string, body *[]byte) (bool, error) {
	for _, topic := range sample {
		status, _, err := hc.get("/lookup?topic="+topic, body)
		if err != nil {
			return false, err
		}
		if status == http.StatusNotFound {
			continue
		}
		if status != http.StatusOK {
			return false, fmt.Errorf("GET /lookup?topic=%s: status %d", topic, status)
		}
		var lb lookupBody
		if err := json.Unmarshal(*body, &lb); err != nil {
			return false, fmt.Errorf("decoding /lookup: %w", err)
		}
		if lb.Data != nil {
			lb = *lb.Data
		}
		if len(lb.Producers) > 0 {
			return false, nil
		}
	}
	status, n, err := hc.get("/nodes", body)
	if err != nil {
		return false, err
	}
	if status != http.StatusOK {
		return false, fmt.Errorf("GET /nodes: status %d", status)
	}
	// An empty list is a few bytes; anything large surely has producers
	// and is not worth decoding.
	if n > 4096 {
		return false, nil
	}
	var nb nodesBody
	if err := json.Unmarshal(*body, &nb); err != nil {
		return false, fmt.Errorf("decoding /nodes: %w", err)
	}
	if nb.Data != nil {
		nb = *nb.Data
	}
	return len(nb.Producers) == 0, nil
}

// fetchProfile saves a pprof profile from the daemon at addr to path; it is
// meant to run concurrently with the load being profiled.
func fetchProfile(addr, query, path string) error {
	c := &http.Client{Timeout: 10 * time.Minute}
	resp, err := c.Get("http://" + addr + "/debug/pprof/" + query)
	if err != nil {
		return fmt.Errorf("fetching profile %s: %w", query, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("fetching profile %s: status %d", query, resp.StatusCode)
	}
	return writeFileFrom(path, resp.Body)
}

// debugStats is the daemon's memory while it answers GET /debug, one or
// several at once.
type debugStats struct {
	Concurrent int `json:"concurrent"`
	// BodyBytes is the size of one answer.
	BodyBytes int64 `json:"body_bytes"`
	// Seconds is the time until the last answer had been read.
	Seconds float64 `json:"seconds"`
	// RSSBefore is VmRSS just before the requests; RSSPeak the highest
	// VmRSS sampled (every 5 ms) until the last answer had been read.
	RSSBefore int64 `json:"rss_before_bytes"`
	RSSPeak   int64 `json:"rss_peak_bytes"`
	RSSGrowth int64 `json:"rss_growth_bytes"`
	// GrowthPct is RSSGrowth as a percentage of one answer's size.
	GrowthPct float64 `json:"rss_growth_pct_of_body"`
	Samples   int     `json:"rss_samples"`
	// Skipped says why the measurement was not made (the machine had
	// too little memory for it).
	Skipped string `json:"skipped,omitempty"`
}

// debugSampleInterval is how often the daemon's RSS is read while /debug
// is answered.
const debugSampleInterval = 5 * time.Millisecond

// errMemoryLow reports a /debug measurement stopped to protect the machine.
var errMemoryLow = errors.New("the machine's available memory fell below the floor while /debug was answered; the daemon was killed")

// runDebugMemory requests GET /debug concurrent times at once, reading
// every answer completely, while sampling the daemon's VmRSS. If the
// machine's available memory falls below memFloor meanwhile, it calls
// kill (which must stop the daemon) and returns errMemoryLow.
func runDebugMemory(pid int, addr string, concurrent int, timeout time.Duration, kill func()) (debugStats, error) {
	st := debugStats{Concurrent: concurrent}
	conns := make([]*httpConn, concurrent)
	for i := range conns {
		conns[i] = newHTTPConn(addr, timeout)
		defer conns[i].close()
		// Connect first, so the requests start together.
		if _, _, err := conns[i].get("/ping", nil); err != nil {
			return st, err
		}
	}
	var err error
	if st.RSSBefore, _, err = memStats(pid); err != nil {
		return st, err
	}
	stop := make(chan struct{})
	sampled := make(chan struct{})
	st.RSSPeak = st.RSSBefore
	floor := benchutil.MemoryFloor()
	var killed bool
	go func() {
		defer close(sampled)
		tick := time.NewTicker(debugSampleInterval)
		defer tick.Stop()
		for {
			if rss, _, err := memStats(pid); err == nil {
				st.RSSPeak = max(st.RSSPeak, rss)
				st.Samples++
			}
			if avail, err := benchutil.Meminfo("MemAvailable:"); err == nil && avail < floor && !killed {
				killed = true
				kill()
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	sizes := make([]int64, concurrent)
	errs := make([]error, concurrent)
	var wg sync.WaitGroup
	t0 := time.Now()
	for i, hc := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, n, err := hc.get("/debug", nil)
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("GET /debug: status %d", status)
			}
			sizes[i], errs[i] = n, err
		}()
	}
	wg.Wait()
	st.Seconds = time.Since(t0).Seconds()
	close(stop)
	<-sampled
	st.BodyBytes = slices.Max(sizes)
	st.RSSGrowth = st.RSSPeak - st.RSSBefore
	if st.BodyBytes > 0 {
		st.GrowthPct = 100 * float64(st.RSSGrowth) / float64(st.BodyBytes)
	}
	if killed {
		return st, fmt.Errorf("%w (RSS had grown by %s; floor %s)", errMemoryLow, mb(st.RSSGrowth), mb(floor))
	}
	return st, errors.Join(errs...)
}
