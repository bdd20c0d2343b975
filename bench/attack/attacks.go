package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nsqlookupd/nsqlookupd/bench/internal/benchutil"
)

// fail fills in an outcome for an attack that could not be carried out.
func fail(out outcome, err error) outcome {
	out.Error = err.Error()
	return out
}

// frames summarizes the reply frames of several connections: each distinct
// frame once, with how many connections got it.
func frames(fs []string) string {
	var order []string
	count := map[string]int{}
	for _, f := range fs {
		if count[f] == 0 {
			order = append(order, f)
		}
		count[f]++
	}
	parts := make([]string, len(order))
	for i, f := range order {
		parts[i] = quote(f, 100)
		if count[f] > 1 {
			parts[i] += " ×" + strconv.Itoa(count[f])
		}
	}
	return strings.Join(parts, ", ")
}

// countTopics returns how many topics /topics lists.
func countTopics(ctx context.Context, d *daemon) (int, error) {
	var body struct {
		Topics []string `json:"topics"`
		Data   *struct {
			Topics []string `json:"topics"`
		} `json:"data"`
	}
	c := httpClient(attackerIP, time.Minute)
	defer c.CloseIdleConnections()
	if err := getJSON(ctx, c, "http://"+d.httpAddr+"/topics", &body); err != nil {
		return 0, err
	}
	if body.Data != nil {
		return len(body.Data.Topics), nil
	}
	return len(body.Topics), nil
}

// longName returns a valid topic name of exactly 64 bytes, the longest
// NSQ allows, unique for i.
func longName(prefix string, i int) string {
	s := prefix + strconv.Itoa(i)
	return s + strings.Repeat("x", 64-len(s))
}

// a. One client registers topics as fast as it can.
func registrationFlood(e *env) outcome {
	n := e.o.regTopics
	out := outcome{Attack: fmt.Sprintf("one TCP client REGISTERs %s topics with 64-byte names, pipelined, then leaves", benchutil.Commas(int64(n)))}
	d, err := e.start("warn")
	if err != nil {
		return fail(out, err)
	}
	defer d.stop()
	rssStart := d.rss()
	c, frame, err := identify(e.ctx, attackerIP, d.tcpAddr, mustJSON(nsqdFields(1)), 10*time.Second)
	if err != nil {
		return fail(out, err)
	}
	if c == nil || !accepted(frame) {
		return fail(out, fmt.Errorf("a plain IDENTIFY was refused: %s", frame))
	}
	names := make([]string, n)
	for i := range names {
		names[i] = longName("flood-", i)
	}
	oks, refusal, elapsed, err := c.pipeline(e.ctx, registerBatches(names, 1000), n, e.o.regTime)
	if err != nil {
		c.Close()
		return fail(out, err)
	}
	rssFull := d.rss()
	c.Close()
	// The daemon removes the client's peer when it notices the close.
	time.Sleep(2 * time.Second)
	rssLeft := d.rss()
	if refusal == "" {
		out.Answer = fmt.Sprintf("OK to all %s", benchutil.Commas(int64(oks)))
	} else {
		out.Answer = fmt.Sprintf("%s after %s OKs", quote(refusal, 100), benchutil.Commas(int64(oks)))
	}
	rate := float64(oks) / elapsed.Seconds()
	out.Numbers = append(out.Numbers,
		fmt.Sprintf("%s accepted in %s (%s/s)", benchutil.Commas(int64(oks)), msec(elapsed), benchutil.Commas(int64(rate))),
		fmt.Sprintf("RSS %s before → %s with the client → %s 2 s after it left", rssMB(rssStart), rssMB(rssFull), rssMB(rssLeft)))
	if topics, err := countTopics(e.ctx, d); err == nil {
		out.Numbers = append(out.Numbers, fmt.Sprintf("%s topics still listed after it left", benchutil.Commas(int64(topics))))
	} else {
		out.Numbers = append(out.Numbers, "/topics: "+err.Error())
	}
	if err := d.alive(); err != nil {
		out.Error = err.Error()
	}
	return out
}

// b. Many IDENTIFYs with huge hostnames, all registering the same topic,
// then one /lookup of it.
func hugeIdentify(e *env) outcome {
	o := e.o
	out := outcome{Attack: fmt.Sprintf("%d connections IDENTIFY with a %s-byte hostname and REGISTER orders; then GET /lookup?topic=orders",
		o.hugeConns, benchutil.Commas(int64(o.hugeBytes)))}
	d, err := e.start("warn")
	if err != nil {
		return fail(out, err)
	}
	defer d.stop()
	rssStart := d.rss()
	host := strings.Repeat("h", o.hugeBytes)
	var replies, registered []string
	var conns []*v1Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < o.hugeConns && e.ctx.Err() == nil; i++ {
		f := nsqdFields(i)
		f["hostname"] = host
		c, frame, err := identify(e.ctx, attackerIP, d.tcpAddr, mustJSON(f), 30*time.Second)
		if err != nil {
			return fail(out, err)
		}
		if c == nil || !accepted(frame) {
			replies = append(replies, frame)
			if c != nil {
				c.Close()
			}
			continue
		}
		replies = append(replies, "accepted")
		conns = append(conns, c)
		r, err := c.roundTrip([]byte("REGISTER orders\n"), 1, 30*time.Second)
		if err != nil {
			r = "error: " + err.Error()
		}
		registered = append(registered, r)
	}
	rssIdentified := d.rss()
	hc := httpClient(bystanderIP, 2*time.Minute)
	defer hc.CloseIdleConnections()
	lookup := get(e.ctx, hc, "http://"+d.httpAddr+"/lookup?topic=orders")
	out.Answer = "IDENTIFY: " + frames(replies)
	if len(registered) > 0 {
		out.Answer += "; REGISTER orders: " + frames(registered)
	}
	out.Answer += "; /lookup: " + strconv.Itoa(lookup.Status)
	if lookup.Err != nil {
		out.Answer += " " + shortErr(lookup.Err)
	}
	out.Numbers = append(out.Numbers,
		fmt.Sprintf("/lookup?topic=orders answer %s in %s", mbytes(lookup.Bytes), msec(lookup.Elapsed)),
		fmt.Sprintf("RSS %s → %s", rssMB(rssStart), rssMB(rssIdentified)))
	if err := d.alive(); err != nil {
		out.Error = err.Error()
	}
	return out
}

// replyText shows an IDENTIFY reply: an error frame as is, the daemon's
// JSON answer (which says nothing about the attack) in short.
func replyText(frame string) string {
	if accepted(frame) {
		return "accepted (JSON reply)"
	}
	return quote(frame, 120)
}

// forgedMarker starts the line a client tries to forge.
const forgedMarker = "FORGED-LOG-LINE"

// c. A newline in broadcast_address, to forge a log line.
func forgedLogLine(e *env) outcome {
	out := outcome{Attack: "IDENTIFY with broadcast_address \"127.0.0.1\\n" + forgedMarker + " …\" (daemon at --log-level=info)"}
	// The IDENTIFY line is logged at INFO; the flag comes after
	// -daemon-args, so it wins over a level given there.
	d, err := e.start("info", "--log-level=info")
	if err != nil {
		return fail(out, err)
	}
	defer d.stop()
	d.log.settle(200*time.Millisecond, 2*time.Second)
	before := d.log.count()
	f := nsqdFields(1)
	f["broadcast_address"] = "127.0.0.1\n" + forgedMarker + " nsqlookupd: INFO: this line was written by a client"
	c, frame, err := identify(e.ctx, attackerIP, d.tcpAddr, mustJSON(f), 10*time.Second)
	if err != nil {
		return fail(out, err)
	}
	if c != nil {
		c.Close()
	}
	d.log.settle(300*time.Millisecond, 3*time.Second)
	lines := d.log.since(before)
	forged, forgedLine, mention := 0, "", ""
	for _, l := range lines {
		if strings.HasPrefix(l, forgedMarker) {
			forged++
			forgedLine = l
		}
		if mention == "" && strings.Contains(l, forgedMarker) && !strings.HasPrefix(l, forgedMarker) {
			mention = l
		}
	}
	out.Answer = replyText(frame)
	if forged > 0 {
		out.Numbers = append(out.Numbers, fmt.Sprintf("forged line in the log: yes, %d: %s", forged, quote(forgedLine, 120)))
	} else {
		out.Numbers = append(out.Numbers, "forged line in the log: no")
	}
	out.Numbers = append(out.Numbers, fmt.Sprintf("%d log lines for the connection", len(lines)))
	if mention != "" {
		out.Numbers = append(out.Numbers, "logged as "+quote(mention, 160))
	}
	if err := d.alive(); err != nil {
		out.Error = err.Error()
	}
	return out
}

// d. Ports out of range.
func badPorts(e *env) outcome {
	out := outcome{Attack: "IDENTIFY with tcp_port=-5; another with http_port=99999"}
	d, err := e.start("warn")
	if err != nil {
		return fail(out, err)
	}
	defer d.stop()
	var answers []string
	for _, tc := range []struct {
		field string
		value int
	}{{"tcp_port", -5}, {"http_port", 99999}} {
		f := nsqdFields(len(answers))
		f[tc.field] = tc.value
		c, frame, err := identify(e.ctx, attackerIP, d.tcpAddr, mustJSON(f), 10*time.Second)
		if err != nil {
			return fail(out, err)
		}
		if c != nil {
			c.Close()
		}
		answers = append(answers, fmt.Sprintf("%s=%d: %s", tc.field, tc.value, replyText(frame)))
	}
	out.Answer = strings.Join(answers, "; ")
	if err := d.alive(); err != nil {
		out.Error = err.Error()
	}
	return out
}

// buildStore registers regs registrations spread over producers
// connections: each registers topics of its own, each topic with four
// channels. The connections stay open (their registrations go when they
// close) and are returned.
func buildStore(e *env, d *daemon, regs, producers int) ([]*v1Conn, error) {
	const channels = 4
	per := regs / producers
	var conns []*v1Conn
	for p := 0; p < producers; p++ {
		c, frame, err := identify(e.ctx, attackerIP, d.tcpAddr, mustJSON(nsqdFields(p)), 10*time.Second)
		if err != nil || c == nil || !accepted(frame) {
			for _, c := range conns {
				c.Close()
			}
			if err == nil {
				err = fmt.Errorf("IDENTIFY refused: %s", frame)
			}
			return nil, fmt.Errorf("building the store: %w", err)
		}
		conns = append(conns, c)
		var buf []byte
		var batches [][]byte
		count := 0
		for t := 0; count < per; t++ {
			topic := "debug-" + strconv.Itoa(p) + "-" + strconv.Itoa(t)
			buf = append(buf, "REGISTER "+topic+"\n"...)
			count++
			for ch := 0; ch < channels && count < per; ch++ {
				buf = append(buf, "REGISTER "+topic+" c"+strconv.Itoa(ch)+"\n"...)
				count++
			}
			if len(buf) > 64<<10 {
				batches = append(batches, buf)
				buf = nil
			}
		}
		batches = append(batches, buf)
		oks, refusal, _, err := c.pipeline(e.ctx, batches, count, 2*time.Minute)
		if err == nil && oks < count {
			err = fmt.Errorf("producer %d: %s after %d of %d REGISTERs", p, refusal, oks, count)
		}
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, fmt.Errorf("building the store: %w", err)
		}
	}
	return conns, nil
}

// debugRound is one measurement of concurrent /debug requests.
type debugRound struct {
	results  []httpResult
	baseline int64
	peak     int64
	samples  int
	probeN   int
	probeP99 time.Duration
	probeMax time.Duration
	elapsed  time.Duration
}

// measureDebug builds the store on a fresh daemon, then requests /debug
// concurrent times at once while sampling the daemon's RSS every 5 ms and
// probing REGISTER round trips from another client.
func measureDebug(e *env, concurrent int) (*debugRound, error) {
	d, err := e.start("warn")
	if err != nil {
		return nil, err
	}
	defer d.stop()
	conns, err := buildStore(e, d, e.o.debugRegs, e.o.debugProducers)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	pc, frame, err := identify(e.ctx, bystanderIP, d.tcpAddr, mustJSON(nsqdFields(99)), 10*time.Second)
	if err != nil || pc == nil || !accepted(frame) {
		return nil, fmt.Errorf("probe IDENTIFY: %v %s", err, frame)
	}
	defer pc.Close()
	// Let the daemon settle after the registration burst.
	time.Sleep(time.Second)
	r := &debugRound{baseline: d.rss(), results: make([]httpResult, concurrent)}
	sampler := sampleRSS(d, 5*time.Millisecond)
	pr := startProbe(pc)
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := 0; i < concurrent; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := httpClient(attackerIP, e.o.timeout)
			defer c.CloseIdleConnections()
			r.results[i] = get(e.ctx, c, "http://"+d.httpAddr+"/debug")
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(t0)
	var probeErr error
	r.probeN, r.probeP99, r.probeMax, probeErr = pr.stop()
	r.peak = sampler.stop()
	r.samples = sampler.n
	if sampler.killed {
		return r, errors.New("the machine ran low on memory while /debug was answered; the daemon was killed")
	}
	if err := d.alive(); err != nil {
		return r, err
	}
	if probeErr != nil {
		return r, fmt.Errorf("REGISTER probe: %w", probeErr)
	}
	return r, nil
}

// e. /debug over a large store, once and several at once.
func debugOverLargeStore(e *env) outcome {
	o := e.o
	out := outcome{Attack: fmt.Sprintf("GET /debug over %s registrations (%d producers), once, then %d at once on a fresh daemon; another client REGISTERs meanwhile",
		benchutil.Commas(int64(o.debugRegs)), o.debugProducers, o.debugConcur)}
	var answers []string
	for _, n := range []int{1, o.debugConcur} {
		r, err := measureDebug(e, n)
		if err != nil {
			return fail(out, err)
		}
		statuses := make([]string, len(r.results))
		var bytes int64
		for i, res := range r.results {
			statuses[i] = strconv.Itoa(res.Status)
			if res.Err != nil {
				statuses[i] = shortErr(res.Err)
			}
			bytes = max(bytes, res.Bytes)
		}
		answers = append(answers, frames(statuses))
		growth := r.peak - r.baseline
		what := "one /debug"
		if n > 1 {
			what = fmt.Sprintf("%d at once", n)
		}
		out.Numbers = append(out.Numbers,
			fmt.Sprintf("%s: %s each in %s, RSS +%s (%s → peak %s, %d samples), %.0f%% of the answer; REGISTER rtt max %s (p99 %s, %d round trips)",
				what, mbytes(bytes), msec(r.elapsed), rssMB(growth), rssMB(r.baseline), rssMB(r.peak), r.samples,
				100*float64(growth)/float64(max(bytes, 1)), msec(r.probeMax), msec(r.probeP99), r.probeN))
	}
	out.Answer = strings.Join(answers, "; ")
	return out
}

// f. An hour-long CPU profile, and whether another profile can run.
func longProfile(e *env) outcome {
	wait := e.o.pprofWait
	out := outcome{Attack: fmt.Sprintf("GET /debug/pprof/profile?seconds=3600 (waiting %s); 1 s later ?seconds=1 alongside; then ?seconds=1 alone", wait)}
	d, err := e.start("warn")
	if err != nil {
		return fail(out, err)
	}
	defer d.stop()
	base := "http://" + d.httpAddr + "/debug/pprof/profile?seconds="
	long := make(chan httpResult, 1)
	go func() {
		c := httpClient(attackerIP, wait)
		defer c.CloseIdleConnections()
		long <- get(e.ctx, c, base+"3600")
	}()
	var alongside httpResult
	select {
	case r := <-long:
		long <- r
	case <-time.After(time.Second):
	}
	c := httpClient(bystanderIP, wait)
	defer c.CloseIdleConnections()
	alongside = get(e.ctx, c, base+"1")
	first := <-long
	// Closing the long request ends the profile in builds that stop on a
	// gone client; give the daemon a moment to notice.
	time.Sleep(200 * time.Millisecond)
	alone := get(e.ctx, c, base+"1")
	out.Answer = "seconds=3600: " + first.describe() + "; seconds=1 alongside: " + profileAnswer(alongside) + "; seconds=1 alone: " + profileAnswer(alone)
	if err := d.alive(); err != nil {
		out.Error = err.Error()
	}
	return out
}

// profileAnswer describes a profile answer without its binary body.
func profileAnswer(r httpResult) string {
	if r.Err == nil && r.Status == 200 {
		return fmt.Sprintf("200 (%s profile) in %s", mbytes(r.Bytes), msec(r.Elapsed))
	}
	return r.describe()
}

// g. Idle HTTP connections from one address; does another address still
// get an answer?
func httpFlood(e *env) outcome {
	k := e.o.httpConns
	out := outcome{Attack: fmt.Sprintf("%s idle TCP connections to the HTTP port from %s; then GET /ping from %s and from %s", benchutil.Commas(int64(k)), attackerIP, bystanderIP, attackerIP)}
	d, err := e.start("warn")
	if err != nil {
		return fail(out, err)
	}
	defer d.stop()
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	var dialErr error
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; i < k && time.Now().Before(deadline) && e.ctx.Err() == nil; i++ {
		c, err := dialFrom(e.ctx, attackerIP, d.httpAddr, 2*time.Second)
		if err != nil {
			dialErr = err
			break
		}
		conns = append(conns, c)
	}
	// Let the daemon accept (or refuse) them all, then see which it closed.
	time.Sleep(300 * time.Millisecond)
	var open atomic.Int64
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			var b [1]byte
			_, err := c.Read(b[:])
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				open.Add(1)
			}
		}()
	}
	wg.Wait()
	pingFrom := func(src string) httpResult {
		c := httpClient(src, 5*time.Second)
		defer c.CloseIdleConnections()
		return get(e.ctx, c, "http://"+d.httpAddr+"/ping")
	}
	bystander := pingFrom(bystanderIP)
	same := pingFrom(attackerIP)
	out.Answer = fmt.Sprintf("kept %s open, closed %s at once; /ping from %s: %s; from %s: %s",
		benchutil.Commas(open.Load()), benchutil.Commas(int64(len(conns))-open.Load()), bystanderIP, bystander.describe(), attackerIP, same.describe())
	out.Numbers = append(out.Numbers, fmt.Sprintf("%s connections opened", benchutil.Commas(int64(len(conns)))))
	if dialErr != nil {
		out.Numbers = append(out.Numbers, "dialing stopped: "+shortErr(dialErr))
	}
	out.Numbers = append(out.Numbers, fmt.Sprintf("RSS %s", rssMB(d.rss())))
	if err := d.alive(); err != nil {
		out.Error = err.Error()
	}
	return out
}

// g (TCP). Silent sockets that reconnect, against a real producer from
// another address.
func silentTCPFlood(e *env) outcome {
	o := e.o
	var extra []string
	if o.silentMaxConns > 0 && !hasFlag(o.daemonArgs, "max-clients") {
		extra = append(extra, "--max-clients="+strconv.Itoa(o.silentMaxConns))
	}
	out := outcome{Attack: fmt.Sprintf("%d silent TCP sockets from %s, each reconnecting every %s; a producer from %s tries to connect, IDENTIFY and REGISTER (daemon also given %s)",
		o.silentSockets, attackerIP, o.silentCycle, bystanderIP, orNone(strings.Join(extra, " ")))}
	d, err := e.start("warn", extra...)
	if err != nil {
		return fail(out, err)
	}
	defer d.stop()

	var held, maxHeld, refusals atomic.Int64
	var refusalFrame atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < o.silentSockets; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			silentSocket(e.ctx, d.tcpAddr, o.silentCycle, stop, &held, &maxHeld, &refusals, &refusalFrame)
		}()
	}
	defer func() {
		close(stop)
		wg.Wait()
	}()
	// Let the attacker take its places.
	time.Sleep(2 * time.Second)
	heldBefore := held.Load()

	// The producer tries producerTries times, each a whole announcement
	// (connect, IDENTIFY, REGISTER) then a disconnect, spaced out.
	const producerTries = 10
	var inTimes []time.Duration
	var refused []string
	for try := 0; try < producerTries && e.ctx.Err() == nil; try++ {
		if try > 0 {
			time.Sleep(300 * time.Millisecond)
		}
		t0 := time.Now()
		c, frame, err := identify(e.ctx, bystanderIP, d.tcpAddr, mustJSON(nsqdFields(7)), 5*time.Second)
		switch {
		case err != nil:
			refused = append(refused, shortErr(err))
		case c == nil || !accepted(frame):
			refused = append(refused, frame)
		default:
			r, err := c.roundTrip([]byte("REGISTER bystander\n"), 1, 5*time.Second)
			c.Close()
			if err != nil {
				r = shortErr(err)
			}
			if r == "OK" {
				inTimes = append(inTimes, time.Since(t0))
			} else {
				refused = append(refused, r)
			}
		}
	}
	out.Answer = fmt.Sprintf("producer from %s got in %d of %d tries", bystanderIP, len(inTimes), len(inTimes)+len(refused))
	if len(refused) > 0 {
		out.Answer += "; refused with " + frames(refused)
	}
	if len(inTimes) > 0 {
		slices.Sort(inTimes)
		out.Numbers = append(out.Numbers, "connect+IDENTIFY+REGISTER median "+msec(inTimes[len(inTimes)/2]))
	}
	out.Numbers = append(out.Numbers, fmt.Sprintf("attacker held %d of %d sockets (at most %d); %s refusals to it",
		heldBefore, o.silentSockets, maxHeld.Load(), benchutil.Commas(refusals.Load())))
	if f, ok := refusalFrame.Load().(string); ok {
		out.Numbers = append(out.Numbers, "attacker refused with "+quote(f, 100))
	}
	if err := d.alive(); err != nil {
		out.Error = err.Error()
	}
	return out
}

// silentSocket keeps one socket open without sending anything: it
// reconnects at once when the daemon drops it and every cycle. After a
// refusal it tries again after 2 ms, doubling up to 200 ms while refusals
// go on, so that a place the daemon frees is taken back at once without
// flooding a daemon that keeps refusing. held counts sockets that have
// survived 200 ms without a refusal.
func silentSocket(ctx context.Context, addr string, cycle time.Duration, stop <-chan struct{},
	held, maxHeld, refusals *atomic.Int64, refusalFrame *atomic.Value) {
	backoff := time.Duration(0)
	refusedPause := func() {
		backoff = min(max(2*backoff, 2*time.Millisecond), 200*time.Millisecond)
		time.Sleep(backoff)
	}
	for {
		select {
		case <-stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		c, err := dialFrom(ctx, attackerIP, addr, 2*time.Second)
		if err != nil {
			time.Sleep(200 * time.Millisecond)
			continue
		}
		start := time.Now()
		c.SetReadDeadline(start.Add(200 * time.Millisecond))
		f, err := readFrame(c)
		if err == nil {
			refusals.Add(1)
			refusalFrame.CompareAndSwap(nil, f)
			c.Close()
			refusedPause()
			continue
		}
		ne, ok := err.(net.Error)
		if !ok || !ne.Timeout() {
			// Closed without a frame.
			c.Close()
			refusedPause()
			continue
		}
		backoff = 0
		now := held.Add(1)
		for {
			m := maxHeld.Load()
			if now <= m || maxHeld.CompareAndSwap(m, now) {
				break
			}
		}
		// Hold it until the cycle ends, the daemon drops it or the attack
		// stops.
		c.SetReadDeadline(start.Add(cycle))
		closed := make(chan struct{})
		go func() {
			io.Copy(io.Discard, c)
			close(closed)
		}()
		select {
		case <-closed:
		case <-stop:
		case <-ctx.Done():
		}
		c.Close()
		<-closed
		held.Add(-1)
	}
}

// h. REGISTER of existing channels on topics with few and many channels.
func channelsPerTopic(e *env) outcome {
	counts := e.o.channelCounts
	const batch = 100
	out := outcome{Attack: fmt.Sprintf("REGISTER of existing channels, pipelined %d at a time, on topics with %s channels", batch, joinInts(counts))}
	d, err := e.start("warn")
	if err != nil {
		return fail(out, err)
	}
	defer d.stop()
	// Each topic's channels are created by producers holding at most
	// 50,000 each, and fewer than --max-registrations-per-client if that is
	// set; the first of them re-registers its own channels afterwards.
	perCreator := 50_000
	if v, err := strconv.Atoi(flagValue(e.o.daemonArgs, "max-registrations-per-client")); err == nil && v > 1 {
		perCreator = min(perCreator, v-1)
	}
	measurers := make([]*v1Conn, len(counts))
	var all []*v1Conn
	defer func() {
		for _, c := range all {
			c.Close()
		}
	}()
	id := 0
	for i, n := range counts {
		topic := "channels-" + strconv.Itoa(n)
		for from := 0; from < n; from += perCreator {
			c, frame, err := identify(e.ctx, attackerIP, d.tcpAddr, mustJSON(nsqdFields(id)), 10*time.Second)
			id++
			if err != nil || c == nil || !accepted(frame) {
				return fail(out, fmt.Errorf("creating channels: IDENTIFY: %v %s", err, frame))
			}
			all = append(all, c)
			if measurers[i] == nil {
				measurers[i] = c
			}
			names := []string{topic}
			for ch := from; ch < min(from+perCreator, n); ch++ {
				names = append(names, topic+" c"+strconv.Itoa(ch))
			}
			oks, refusal, _, err := c.pipeline(e.ctx, registerBatches(names, 1000), len(names), 2*time.Minute)
			if err == nil && oks < len(names) {
				err = fmt.Errorf("%s after %d of %d REGISTERs", refusal, oks, len(names))
			}
			if err != nil {
				return fail(out, fmt.Errorf("creating %d channels: %w", n, err))
			}
		}
	}
	// Rounds alternate between the topics so that machine noise hits all
	// of them alike.
	perLevel := make([][]time.Duration, len(counts))
	rng := rand.New(rand.NewPCG(1, 2))
	var cmds []byte
	for round := 0; round < 5 && e.ctx.Err() == nil; round++ {
		for i, n := range counts {
			topic := "channels-" + strconv.Itoa(n)
			own := min(n, perCreator)
			end := time.Now().Add(300 * time.Millisecond)
			for b := 0; b < 400 && time.Now().Before(end); b++ {
				cmds = cmds[:0]
				for j := 0; j < batch; j++ {
					cmds = append(cmds, "REGISTER "+topic+" c"...)
					cmds = strconv.AppendInt(cmds, int64(rng.IntN(own)), 10)
					cmds = append(cmds, '\n')
				}
				t0 := time.Now()
				r, err := measurers[i].roundTrip(cmds, batch, 30*time.Second)
				if err == nil && r != "OK" {
					err = fmt.Errorf("REGISTER answered %q", r)
				}
				if err != nil {
					return fail(out, err)
				}
				perLevel[i] = append(perLevel[i], time.Since(t0)/batch)
			}
		}
	}
	var medians []time.Duration
	for i, n := range counts {
		s := perLevel[i]
		slices.Sort(s)
		med := s[len(s)/2]
		medians = append(medians, med)
		unit := "channels"
		if n == 1 {
			unit = "channel"
		}
		out.Numbers = append(out.Numbers, fmt.Sprintf("%s %s: %s per REGISTER (median of %d batches)", benchutil.Commas(int64(n)), unit, usec(med), len(s)))
	}
	lo, hi := slices.Min(medians), slices.Max(medians)
	out.Answer = fmt.Sprintf("OK to all; slowest/fastest %.2f×", float64(hi)/float64(max(lo, 1)))
	if err := d.alive(); err != nil {
		out.Error = err.Error()
	}
	return out
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = benchutil.Commas(int64(n))
	}
	return strings.Join(s, ", ")
}
