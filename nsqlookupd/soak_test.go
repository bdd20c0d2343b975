package nsqlookupd_test

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/lg"
	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

var (
	soakDuration  = flag.Duration("soak.duration", 2*time.Second, "how long TestSoakChurn churns connections and registrations")
	soakProducers = flag.Int("soak.producers", 200, "number of simulated nsqd producers in TestSoakChurn")
	soakSeed      = flag.Uint64("soak.seed", 1, "random seed of TestSoakChurn; 0 picks a random one (the seed used is logged)")
)

// The soak's name space is small, so that producers keep meeting in the same
// registrations.
const (
	soakTopicNames   = 12
	soakChannelNames = 3
	// soakGoneNames are non-ephemeral topics only departing producers
	// register: they must outlive them, empty.
	soakGoneNames = 8
	// soakMaxOps bounds each producer's loop besides the duration.
	soakMaxOps = 10_000_000
)

// soakCounts are a producer's or reader's operation counts by kind.
type soakCounts map[string]int

func (c soakCounts) add(o soakCounts) {
	for k, v := range o {
		c[k] += v
	}
}

func (c soakCounts) String() string {
	keys := slices.Sorted(maps.Keys(c))
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, c[k])
	}
	return strings.Join(parts, " ")
}

// soakProducer is one simulated nsqd: it connects, identifies, registers
// and unregisters, pings and disconnects, keeping track of what its current
// connection has registered.
type soakProducer struct {
	id       int
	survivor bool
	rng      *rand.Rand
	tcpAddr  string
	tcpPort  int

	conn net.Conn
	r    *bufio.Reader
	// peer is the current connection's local address, the peer's identity
	// in the daemon.
	peer string
	// topics maps each topic the current connection registered to its
	// channels.
	topics map[string]map[string]bool
	conns  int

	// everTopics and everChannels record the non-ephemeral topics, and
	// non-ephemeral channels of non-ephemeral topics, ever registered:
	// they stay after their producers leave.
	everTopics   map[string]bool
	everChannels map[string]map[string]bool
	// departed lists the identities of closed connections.
	departed []string
	counts   soakCounts
}

func (p *soakProducer) broadcastAddress() string {
	return fmt.Sprintf("soak-%d.local", p.id)
}

// pickTopic returns a topic of the shared name space; a third are
// ephemeral.
func (p *soakProducer) pickTopic() string {
	n := p.rng.IntN(soakTopicNames)
	if p.rng.IntN(3) == 0 {
		return fmt.Sprintf("soak.e%d#ephemeral", n)
	}
	return fmt.Sprintf("soak.t%d", n)
}

// pickChannel returns a channel for topic. Ephemeral topics get ephemeral
// channels only: deleting an ephemeral topic also deletes its channels, so
// a non-ephemeral channel there would outlive its producers or not
// depending on timing.
func (p *soakProducer) pickChannel(topic string) string {
	n := p.rng.IntN(soakChannelNames)
	if protocol.IsEphemeral(topic) || p.rng.IntN(2) == 0 {
		return fmt.Sprintf("c%d#ephemeral", n)
	}
	return fmt.Sprintf("c%d", n)
}

// heldTopic returns one of the topics the connection registered, or a random
// one when it has none or now and then, to unregister what it does not hold.
func (p *soakProducer) heldTopic() string {
	if len(p.topics) == 0 || p.rng.IntN(5) == 0 {
		return p.pickTopic()
	}
	keys := slices.Sorted(maps.Keys(p.topics))
	return keys[p.rng.IntN(len(keys))]
}

func (p *soakProducer) heldChannel(topic string) string {
	chans := p.topics[topic]
	if len(chans) == 0 || p.rng.IntN(5) == 0 {
		return p.pickChannel(topic)
	}
	keys := slices.Sorted(maps.Keys(chans))
	return keys[p.rng.IntN(len(keys))]
}

func (p *soakProducer) readFrame() (string, error) {
	p.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	frame, err := test.ReadFrame(p.r)
	if err != nil {
		return "", fmt.Errorf("producer %d (%s): reading a reply: %w", p.id, p.peer, err)
	}
	return frame, nil
}

func (p *soakProducer) write(data string) error {
	p.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(p.conn, data); err != nil {
		return fmt.Errorf("producer %d (%s): writing %q: %w", p.id, p.peer, data, err)
	}
	return nil
}

// command sends one command line and expects OK.
func (p *soakProducer) command(kind, line string) error {
	if err := p.write(line + "\n"); err != nil {
		return err
	}
	reply, err := p.readFrame()
	if err != nil {
		return fmt.Errorf("%s: %w", line, err)
	}
	if reply != "OK" {
		return fmt.Errorf("producer %d (%s): %s: reply %q, want OK", p.id, p.peer, line, reply)
	}
	p.counts[kind]++
	return nil
}

// connect opens a new connection (a new peer), sometimes PINGs before
// IDENTIFY as nsqd may, and identifies.
func (p *soakProducer) connect() error {
	conn, err := net.DialTimeout("tcp", p.tcpAddr, 10*time.Second)
	if err != nil {
		return fmt.Errorf("producer %d: dial: %w", p.id, err)
	}
	p.conn, p.r, p.peer = conn, bufio.NewReader(conn), conn.LocalAddr().String()
	p.topics = map[string]map[string]bool{}
	p.conns++
	p.counts["connect"]++
	if err := p.write(protocol.MagicV1); err != nil {
		return err
	}
	if p.rng.IntN(2) == 0 {
		if err := p.command("PING before IDENTIFY", "PING"); err != nil {
			return err
		}
	}
	fields := test.NSQDFields(p.broadcastAddress(), 4150, 4151)
	fields["hostname"] = fmt.Sprintf("soak-%d", p.id)
	if err := p.write(test.Identify(test.JSON(fields))); err != nil {
		return err
	}
	reply, err := p.readFrame()
	if err != nil {
		return fmt.Errorf("IDENTIFY: %w", err)
	}
	var info struct {
		TCPPort int `json:"tcp_port"`
	}
	if err := json.Unmarshal([]byte(reply), &info); err != nil || info.TCPPort != p.tcpPort {
		return fmt.Errorf("producer %d (%s): IDENTIFY reply %q, want lookupd's JSON with tcp_port %d", p.id, p.peer, reply, p.tcpPort)
	}
	p.counts["IDENTIFY"]++
	if !p.survivor && p.conns == 1 {
		topic := fmt.Sprintf("soak.gone%d", p.id%soakGoneNames)
		return p.register(topic, fmt.Sprintf("c%d", p.id%soakChannelNames))
	}
	return nil
}

func (p *soakProducer) register(topic, channel string) error {
	line := "REGISTER " + topic
	if channel != "" {
		line += " " + channel
	}
	if err := p.command("REGISTER", line); err != nil {
		return err
	}
	if p.topics[topic] == nil {
		p.topics[topic] = map[string]bool{}
	}
	if !protocol.IsEphemeral(topic) {
		p.everTopics[topic] = true
	}
	if channel != "" {
		p.topics[topic][channel] = true
		if !protocol.IsEphemeral(topic) && !protocol.IsEphemeral(channel) {
			if p.everChannels[topic] == nil {
				p.everChannels[topic] = map[string]bool{}
			}
			p.everChannels[topic][channel] = true
		}
	}
	return nil
}

// disconnect closes the connection: the peer and its registrations go.
func (p *soakProducer) disconnect(kind string) {
	p.conn.Close()
	p.departed = append(p.departed, p.peer)
	p.conn, p.r, p.peer, p.topics = nil, nil, "", nil
	p.counts[kind]++
}

// step runs one random operation on the connected producer.
func (p *soakProducer) step() error {
	switch n := p.rng.IntN(100); {
	case n < 35:
		topic := p.pickTopic()
		return p.register(topic, p.pickChannel(topic))
	case n < 45:
		return p.register(p.pickTopic(), "")
	case n < 60:
		topic := p.heldTopic()
		channel := p.heldChannel(topic)
		if err := p.command("UNREGISTER channel", "UNREGISTER "+topic+" "+channel); err != nil {
			return err
		}
		if p.topics[topic] != nil {
			delete(p.topics[topic], channel)
		}
	case n < 68:
		topic := p.heldTopic()
		if err := p.command("UNREGISTER topic", "UNREGISTER "+topic); err != nil {
			return err
		}
		delete(p.topics, topic)
	case n < 95:
		return p.command("PING", "PING")
	case n < 97:
		// Like a crashed nsqd: registrations are left to the daemon.
		p.disconnect("close")
	case n < 98:
		// Like an nsqd shutting down: everything unregistered first.
		return p.leaveGracefully()
	case n < 99:
		// A command in flight when the connection drops.
		topic := fmt.Sprintf("soak.e%d#ephemeral", p.rng.IntN(soakTopicNames))
		if err := p.write("REGISTER " + topic + " c0#ephemeral\nPING\n"); err != nil {
			return err
		}
		p.disconnect("close with command in flight")
	default:
		// Half a command line when the connection drops.
		if err := p.write("REGISTER soak.e1#ephem"); err != nil {
			return err
		}
		p.disconnect("close mid-command")
	}
	return nil
}

func (p *soakProducer) leaveGracefully() error {
	for _, topic := range slices.Sorted(maps.Keys(p.topics)) {
		for _, channel := range slices.Sorted(maps.Keys(p.topics[topic])) {
			if err := p.command("UNREGISTER channel", "UNREGISTER "+topic+" "+channel); err != nil {
				return err
			}
		}
		if err := p.command("UNREGISTER topic", "UNREGISTER "+topic); err != nil {
			return err
		}
	}
	p.disconnect("graceful leave")
	return nil
}

// run churns until the deadline, then leaves a survivor connected and
// disconnects the others.
func (p *soakProducer) run(deadline time.Time) error {
	for op := 0; op < soakMaxOps && time.Now().Before(deadline); op++ {
		if p.conn == nil {
			if err := p.connect(); err != nil {
				return err
			}
			continue
		}
		if err := p.step(); err != nil {
			return err
		}
		// A moment between operations, as a real nsqd has: it spreads
		// the interleavings and leaves the readers some CPU.
		time.Sleep(time.Duration(p.rng.IntN(2000)) * time.Microsecond)
	}
	switch {
	case p.survivor && p.conn == nil:
		return p.connect()
	case p.survivor:
		return nil
	case p.conn == nil:
		return nil
	case p.rng.IntN(2) == 0:
		return p.leaveGracefully()
	default:
		p.disconnect("close")
		return nil
	}
}

// soakPeer and soakNode are what /lookup and /nodes say of a producer.
type soakPeer struct {
	RemoteAddress    string `json:"remote_address"`
	BroadcastAddress string `json:"broadcast_address"`
	TCPPort          int    `json:"tcp_port"`
	HTTPPort         int    `json:"http_port"`
}

type soakNode struct {
	soakPeer
	Topics     []string `json:"topics"`
	Tombstones []bool   `json:"tombstones"`
}

type soakLookup struct {
	Channels  []string   `json:"channels"`
	Producers []soakPeer `json:"producers"`
	// Message is set on errors.
	Message string `json:"message"`
}

// soakNames lists every topic of the name space.
func soakNames() []string {
	var names []string
	for i := 0; i < soakTopicNames; i++ {
		names = append(names, fmt.Sprintf("soak.t%d", i), fmt.Sprintf("soak.e%d#ephemeral", i))
	}
	for i := 0; i < soakGoneNames; i++ {
		names = append(names, fmt.Sprintf("soak.gone%d", i))
	}
	return names
}

// soakRead runs one random read against the API during churn and checks
// the response is a 200 (or the 404 of /lookup of an absent topic) that
// decodes, with lists that are never null.
func soakRead(r *daemon, rng *rand.Rand, names []string, counts soakCounts) error {
	topic := names[rng.IntN(len(names))]
	switch n := rng.IntN(20); {
	case n < 8:
		var v soakLookup
		path := "/lookup?topic=" + url.QueryEscape(topic)
		status, err := fetchJSON(r, path, &v)
		if err != nil {
			return err
		}
		switch status {
		case http.StatusOK:
			if v.Channels == nil || v.Producers == nil {
				return fmt.Errorf("GET %s: null list: %+v", path, v)
			}
			counts["/lookup 200"]++
		case http.StatusNotFound:
			if v.Message != "TOPIC_NOT_FOUND" {
				return fmt.Errorf("GET %s: 404 with message %q", path, v.Message)
			}
			counts["/lookup 404"]++
		default:
			return fmt.Errorf("GET %s: status %d", path, status)
		}
	case n < 12:
		var v struct {
			Channels []string `json:"channels"`
		}
		path := "/channels?topic=" + url.QueryEscape(topic)
		status, err := fetchJSON(r, path, &v)
		if err != nil {
			return err
		}
		if status != http.StatusOK || v.Channels == nil {
			return fmt.Errorf("GET %s: status %d, channels %v", path, status, v.Channels)
		}
		counts["/channels"]++
	case n < 16:
		var v struct {
			Producers []soakNode `json:"producers"`
		}
		status, err := fetchJSON(r, "/nodes", &v)
		if err != nil {
			return err
		}
		if status != http.StatusOK || v.Producers == nil {
			return fmt.Errorf("GET /nodes: status %d, producers %v", status, v.Producers)
		}
		for _, node := range v.Producers {
			if node.Topics == nil || len(node.Topics) != len(node.Tombstones) {
				return fmt.Errorf("GET /nodes: node %s has topics %v and tombstones %v", node.RemoteAddress, node.Topics, node.Tombstones)
			}
		}
		counts["/nodes"]++
	case n < 19:
		var v struct {
			Topics []string `json:"topics"`
		}
		status, err := fetchJSON(r, "/topics", &v)
		if err != nil {
			return err
		}
		if status != http.StatusOK || v.Topics == nil {
			return fmt.Errorf("GET /topics: status %d, topics %v", status, v.Topics)
		}
		counts["/topics"]++
	default:
		var v map[string][]soakPeer
		status, err := fetchJSON(r, "/debug", &v)
		if err != nil {
			return err
		}
		if status != http.StatusOK {
			return fmt.Errorf("GET /debug: status %d", status)
		}
		counts["/debug"]++
	}
	return nil
}

// TestSoakChurn runs hundreds of simulated nsqd connections that connect,
// register, unregister, ping and disconnect concurrently while readers poll
// the HTTP API, then checks that the store holds exactly what the surviving
// connections announced, and that once everyone is gone and the daemon has
// exited no goroutine is left. -soak.duration and -soak.producers make it
// longer and larger.
func TestSoakChurn(t *testing.T) {
	if *soakProducers < 4 {
		t.Fatalf("-soak.producers must be at least 4, got %d", *soakProducers)
	}
	seed := *soakSeed
	if seed == 0 {
		seed = rand.Uint64()
	}
	t.Logf("seed %d (rerun with -soak.seed=%d)", seed, seed)

	baseline := runtime.NumGoroutine()
	// Unregistering a topic before its channels, which the producers do
	// at random, is logged as a warning.
	r := startLookupd(t, func(s *setup) { s.opts.LogLevel = lg.ERROR })
	const readers = 4
	names := soakNames()

	start := time.Now()
	deadline := start.Add(*soakDuration)
	producers := make([]*soakProducer, *soakProducers)
	errs := make([]error, len(producers))
	var wg sync.WaitGroup
	for i := range producers {
		p := &soakProducer{
			id:           i,
			survivor:     i%4 == 0,
			rng:          rand.New(rand.NewPCG(seed, uint64(i))),
			tcpAddr:      r.RealTCPAddr().String(),
			tcpPort:      r.RealTCPAddr().Port,
			everTopics:   map[string]bool{},
			everChannels: map[string]map[string]bool{},
			counts:       soakCounts{},
		}
		producers[i] = p
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = p.run(deadline)
		}()
	}
	t.Cleanup(func() {
		for _, p := range producers {
			if p.conn != nil {
				p.conn.Close()
			}
		}
	})

	readerCounts := make([]soakCounts, readers)
	readerErrs := make([]error, readers)
	stop := make(chan struct{})
	var readersWG sync.WaitGroup
	for g := 0; g < readers; g++ {
		readerCounts[g] = soakCounts{}
		readersWG.Add(1)
		go func() {
			defer readersWG.Done()
			rng := rand.New(rand.NewPCG(seed, uint64(len(producers)+g)))
			for i := 0; i < soakMaxOps; i++ {
				select {
				case <-stop:
					return
				default:
				}
				if err := soakRead(r, rng, names, readerCounts[g]); err != nil {
					readerErrs[g] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readersWG.Wait()
	churn := time.Since(start)

	producerCounts, reads := soakCounts{}, soakCounts{}
	connections := 0
	for _, p := range producers {
		producerCounts.add(p.counts)
		connections += p.conns
	}
	for _, c := range readerCounts {
		reads.add(c)
	}
	t.Logf("churned %s: %d producers, %d connections; TCP operations: %s", churn, len(producers), connections, producerCounts)
	t.Logf("HTTP reads: %s", reads)
	failed := 0
	for _, err := range append(errs, readerErrs...) {
		if err != nil {
			if failed++; failed <= 10 {
				t.Errorf("%v", err)
			}
		}
	}
	if failed > 0 {
		t.Fatalf("%d producers or readers failed", failed)
	}

	// What the store must hold: the survivors' registrations, plus the
	// non-ephemeral ones anybody ever made.
	survivors := map[string]*soakProducer{}
	departed := map[string]bool{}
	persistent := map[string]map[string]bool{}
	for _, p := range producers {
		for _, id := range p.departed {
			departed[id] = true
		}
		for topic := range p.everTopics {
			if persistent[topic] == nil {
				persistent[topic] = map[string]bool{}
			}
		}
		for topic, chans := range p.everChannels {
			maps.Copy(persistent[topic], chans)
		}
		if p.survivor {
			survivors[p.peer] = p
		}
	}
	for id := range survivors {
		// A new connection may reuse a closed one's local port.
		delete(departed, id)
	}
	test.Eventually(t, 30*time.Second, func() bool {
		return r.tcpConns() == len(survivors)
	}, fmt.Sprintf("departed connections closed, %d survivors left", len(survivors)))
	expectTopics, expectChannels := expectedSoakState(survivors, persistent)
	checkSoakStore(t, r, names, survivors, departed, expectTopics, expectChannels)
	checkSoakStats(t, r, survivors, expectChannels)

	// Then every survivor leaves: only the non-ephemeral registrations,
	// empty, are left.
	for _, p := range survivors {
		p.disconnect("close")
	}
	test.Eventually(t, 30*time.Second, func() bool {
		return r.tcpConns() == 0
	}, "every connection closed")
	for id := range survivors {
		departed[id] = true
	}
	expectTopics, expectChannels = expectedSoakState(nil, persistent)
	checkSoakStore(t, r, names, nil, departed, expectTopics, expectChannels)
	checkSoakStats(t, r, nil, expectChannels)

	r.waitExited(t, r.exitAsync(), 10*time.Second)
	r.closeIdle()
	expectGoroutinesBack(t, baseline, 10*time.Second)
	t.Logf("soak took %s in all", time.Since(start))
}

// expectedSoakState returns the topics the store must list, sorted, and the
// channels of each, sorted: those of the survivors, and the non-ephemeral
// ones, which outlive their producers.
func expectedSoakState(survivors map[string]*soakProducer, persistent map[string]map[string]bool) ([]string, map[string][]string) {
	chans := map[string]map[string]bool{}
	for topic, cs := range persistent {
		chans[topic] = maps.Clone(cs)
	}
	for _, p := range survivors {
		for topic, cs := range p.topics {
			if chans[topic] == nil {
				chans[topic] = map[string]bool{}
			}
			maps.Copy(chans[topic], cs)
		}
	}
	channels := map[string][]string{}
	for topic, cs := range chans {
		channels[topic] = append([]string{}, slices.Sorted(maps.Keys(cs))...)
	}
	return append([]string{}, slices.Sorted(maps.Keys(chans))...), channels
}

// checkSoakStats compares the store's counts with the survivors'
// registrations and the expected channels of each topic.
func checkSoakStats(t *testing.T, r *daemon, survivors map[string]*soakProducer, expectChannels map[string][]string) {
	t.Helper()
	channels, memberships := 0, len(survivors)
	for _, cs := range expectChannels {
		channels += len(cs)
	}
	for _, p := range survivors {
		for _, cs := range p.topics {
			memberships += 1 + len(cs)
		}
	}
	stats := r.store().Stats()
	test.Equal(t, len(survivors), stats.Peers, "Stats().Peers")
	test.Equal(t, len(expectChannels), stats.Topics, "Stats().Topics")
	test.Equal(t, channels, stats.Channels, "Stats().Channels")
	test.Equal(t, memberships, stats.Registrations, "Stats().Registrations")
}

// checkSoakStore compares /topics, /lookup, /channels, /nodes and /debug with
// what the surviving producers registered. It runs once the daemon has closed
// every departed connection, so the answers must be exact.
func checkSoakStore(t *testing.T, r *daemon, names []string, survivors map[string]*soakProducer,
	departed map[string]bool, expectTopics []string, expectChannels map[string][]string) {
	t.Helper()
	getOK := func(path string, v interface{}) {
		t.Helper()
		status, err := fetchJSON(r, path, v)
		test.Nil(t, err, "GET "+path)
		test.Equal(t, http.StatusOK, status, "status of GET "+path)
	}

	var topics struct {
		Topics []string `json:"topics"`
	}
	getOK("/topics", &topics)
	test.Equal(t, expectTopics, topics.Topics, "/topics")

	// Every topic of the name space: /lookup lists exactly the survivors
	// registered in it; absent topics are 404.
	emptyPersistent, registrations := 0, 0
	for _, topic := range names {
		wantChannels, registered := expectChannels[topic]
		var wantProducers []string
		for id, p := range survivors {
			if _, ok := p.topics[topic]; ok {
				wantProducers = append(wantProducers, id)
			}
		}
		sort.Strings(wantProducers)
		var lookup soakLookup
		status, err := fetchJSON(r, "/lookup?topic="+url.QueryEscape(topic), &lookup)
		test.Nil(t, err, "GET /lookup?topic="+topic)
		if !registered {
			if status != http.StatusNotFound {
				t.Fatalf("/lookup?topic=%s: status %d, want 404 (no surviving producer, ephemeral or never registered): %+v", topic, status, lookup)
			}
			var chans struct {
				Channels []string `json:"channels"`
			}
			getOK("/channels?topic="+url.QueryEscape(topic), &chans)
			test.Equal(t, []string{}, chans.Channels, "/channels of absent topic "+topic)
			continue
		}
		test.Equal(t, http.StatusOK, status, "status of /lookup?topic="+topic)
		got := make([]string, 0, len(lookup.Producers))
		for _, pr := range lookup.Producers {
			if departed[pr.RemoteAddress] {
				t.Errorf("/lookup?topic=%s lists departed peer %s", topic, pr.RemoteAddress)
			}
			if p := survivors[pr.RemoteAddress]; p != nil && pr.BroadcastAddress != p.broadcastAddress() {
				t.Errorf("/lookup?topic=%s: peer %s has broadcast_address %q, want %q", topic, pr.RemoteAddress, pr.BroadcastAddress, p.broadcastAddress())
			}
			got = append(got, pr.RemoteAddress)
		}
		sort.Strings(got)
		if wantProducers == nil {
			wantProducers = []string{}
			emptyPersistent++
		}
		registrations += len(wantProducers)
		test.Equal(t, wantProducers, got, "producers of /lookup?topic="+topic)
		test.Equal(t, wantChannels, lookup.Channels, "channels of /lookup?topic="+topic)
		var chans struct {
			Channels []string `json:"channels"`
		}
		getOK("/channels?topic="+url.QueryEscape(topic), &chans)
		test.Equal(t, wantChannels, chans.Channels, "/channels?topic="+topic)
	}
	if emptyPersistent == 0 {
		t.Fatalf("no non-ephemeral topic outlived its producers: the check proves nothing")
	}
	if len(survivors) > 0 && registrations == 0 {
		t.Fatalf("survivors hold no registration: the check proves nothing")
	}

	// /nodes: exactly the survivors, each with exactly its topics.
	var nodes struct {
		Producers []soakNode `json:"producers"`
	}
	getOK("/nodes", &nodes)
	gotNodes := map[string]soakNode{}
	for _, n := range nodes.Producers {
		if departed[n.RemoteAddress] {
			t.Errorf("/nodes lists departed peer %s", n.RemoteAddress)
		}
		gotNodes[n.RemoteAddress] = n
	}
	test.Equal(t, len(survivors), len(gotNodes), "number of /nodes")
	for id, p := range survivors {
		n, ok := gotNodes[id]
		if !ok {
			t.Fatalf("/nodes misses surviving peer %s (producer %d)", id, p.id)
		}
		wantTopics := slices.Sorted(maps.Keys(p.topics))
		gotTopics := slices.Clone(n.Topics)
		sort.Strings(gotTopics)
		if wantTopics == nil {
			wantTopics = []string{}
		}
		test.Equal(t, wantTopics, gotTopics, "/nodes topics of "+id)
		test.Equal(t, make([]bool, len(wantTopics)), n.Tombstones, "/nodes tombstones of "+id)
		test.Equal(t, p.broadcastAddress(), n.BroadcastAddress, "/nodes broadcast_address of "+id)
	}

	// /debug: exactly the registrations with peers, each with exactly its
	// peers; nothing of a departed peer.
	want := map[string][]string{}
	for id, p := range survivors {
		want["client::"] = append(want["client::"], id)
		for topic, chans := range p.topics {
			want["topic:"+topic+":"] = append(want["topic:"+topic+":"], id)
			for c := range chans {
				want["channel:"+topic+":"+c] = append(want["channel:"+topic+":"+c], id)
			}
		}
	}
	for _, ids := range want {
		sort.Strings(ids)
	}
	var debug map[string][]struct {
		ID string `json:"id"`
	}
	getOK("/debug", &debug)
	got := map[string][]string{}
	for key, peers := range debug {
		for _, p := range peers {
			if departed[p.ID] {
				t.Errorf("/debug %s lists departed peer %s", key, p.ID)
			}
			got[key] = append(got[key], p.ID)
		}
		sort.Strings(got[key])
	}
	for key := range got {
		if _, ok := want[key]; !ok {
			t.Errorf("/debug has unexpected registration %s with %v", key, got[key])
		}
	}
	for key, ids := range want {
		test.Equal(t, ids, got[key], "/debug "+key)
	}
}
