package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
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
// request for a path drawn at random from paths. Every connection first
// makes one uncounted request so that connection setup is not measured.
// A non-200 response counts as an error.
func runLoad(addr string, clients int, dur time.Duration, paths []string, seed uint64, timeout time.Duration, acc *loadAcc) {
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
}

// probeTopics is how many topic names the probe cycles through: it creates
// them in its first pass and re-registers them afterwards, so the store
// barely grows however long the probe runs.
const probeTopics = 1000

// runProbe has p send "REGISTER probe-N" one at a time for dur and records
// each round trip. If pollAddr is set, another goroutine requests GET /nodes
// in a loop on pollAddr meanwhile, reading each body completely.
func runProbe(p *producer, dur time.Duration, pollAddr string, timeout time.Duration) (probeStats, error) {
	var st probeStats
	stop := make(chan struct{})
	var pollWG sync.WaitGroup
	var pollLats []int64
	var pollErr error
	if pollAddr != "" {
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
				status, _, err := hc.get("/nodes", nil)
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("GET /nodes: status %d", status)
				}
				if err != nil {
					pollErr = err
					return
				}
				pollLats = append(pollLats, int64(time.Since(t0)))
			}
		}()
		// Let the first /nodes get going so the probe overlaps it.
		time.Sleep(10 * time.Millisecond)
	}
	var lats []int64
	var err error
	cmd := make([]byte, 0, 64)
	deadline := time.Now().Add(dur)
	for i := 0; time.Now().Before(deadline); i++ {
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
		err = pollErr
	}
	slices.Sort(lats)
	st.N = len(lats)
	st.P50Ms = ms(percentile(lats, 0.50))
	st.P99Ms = ms(percentile(lats, 0.99))
	if len(lats) > 0 {
		st.MaxMs = ms(lats[len(lats)-1])
	}
	if len(pollLats) > 0 {
		slices.Sort(pollLats)
		st.Polls = len(pollLats)
		st.PollMedian = ms(pollLats[len(pollLats)/2])
		st.PollMax = ms(pollLats[len(pollLats)-1])
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
