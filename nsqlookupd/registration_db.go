package nsqlookupd

import (
	"cmp"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unique"
	"unsafe"

	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
)

// PeerInfo describes an identified nsqd connection: what it sent in
// IDENTIFY, plus the connection's remote address, which is its identity.
type PeerInfo struct {
	// ID identifies the peer; it is the connection's remote ip:port.
	ID               string `json:"-"`
	RemoteAddress    string `json:"remote_address"`
	Hostname         string `json:"hostname"`
	BroadcastAddress string `json:"broadcast_address"`
	TCPPort          int    `json:"tcp_port"`
	HTTPPort         int    `json:"http_port"`
	Version          string `json:"version"`
	TopologyZone     string `json:"topology_zone"`
	TopologyRegion   string `json:"topology_region"`
}

// NodeInfo is one identified peer as listed by /nodes: its PeerInfo and the
// topics it is registered in, in sorted order, with whether the peer is
// currently tombstoned in each.
type NodeInfo struct {
	PeerInfo
	Topics     []string
	Tombstones []bool
}

// DebugProducer is one peer's entry in one registration, as /debug shows it.
type DebugProducer struct {
	PeerInfo
	LastUpdate   int64
	Tombstoned   bool
	TombstonedAt int64
}

// DebugRegistration is one non-empty registration and its peers.
type DebugRegistration struct {
	Category, Key, SubKey string
	Producers             []DebugProducer
}

// Stats counts what the store holds.
type Stats struct {
	Peers    int // identified peers (the client registration)
	Topics   int // topic registrations
	Channels int // channel registrations
	// Registrations counts peer memberships of all registrations: one per
	// identified peer, plus one per peer in each topic and channel.
	Registrations int
}

// shardCount splits the topic space so that whole-store scans (/topics,
// /nodes, /debug, a peer's disconnect) take each lock for a bounded share of
// the work instead of stalling every writer at once.
const shardCount = 64

// zeroTimeUnixNano is time.Time{}.UnixNano(), reported as tombstoned_at for a
// producer never tombstoned.
var zeroTimeUnixNano = time.Time{}.UnixNano()

// RegistrationDB maps registrations (client, topic T, channel T C) to the
// peers that announced them.
//
// Locking: peersMu and the shards' mu are never held together, and no
// operation holds two shards at once, so there is no lock order to keep.
// Every reader copies what it needs under a lock and works on the copy
// after; whole-store scans take one shard at a time.
type RegistrationDB struct {
	inactiveTimeout   time.Duration
	tombstoneLifetime time.Duration
	now               func() time.Time

	// peersMu guards peers, the "client" registration.
	peersMu sync.RWMutex
	peers   map[string]*peerEntry

	shards [shardCount]shard

	// topicsGen changes whenever any shard's topic set changes; topicsCache
	// holds the sorted topic list built at some generation.
	topicsGen   atomic.Uint64
	topicsCache atomic.Pointer[namesCache]

	topicCount   atomic.Int64
	channelCount atomic.Int64
	// memberships counts peers in topic and channel registrations.
	memberships atomic.Int64
	// inactiveFiltered counts peers left out of answers for inactivity.
	inactiveFiltered atomic.Uint64
	peerSeq          atomic.Uint64
}

type namesCache struct {
	gen   uint64
	names []string
}

// shard holds the topics whose names hash to it, and for each peer the
// producer records it has in those topics.
type shard struct {
	// mu guards topics, byPeer and everything reachable from them, except
	// the atomic fields of producer and peerEntry.
	mu     sync.RWMutex
	topics map[string]*topicEntry
	byPeer map[*peerEntry][]*producer
}

// topicEntry is a topic registration. A topic with a few producers and
// channels is one object: its name and the first producers and channels sit
// in the entry itself, so a /lookup reads one block of memory after the map,
// and the garbage collector has one object to trace where there would be
// four. Producers and channels are kept in slices rather than maps; removal
// is by index (swap with the last).
type topicEntry struct {
	name string
	// producers are the topic's members, with each one's peer alongside so
	// that a lookup need not visit the producer records.
	producers []topicProducer
	// channels are held by value: no object of their own to trace.
	channels []channelEntry
	// nextChannelID numbers the topic's channels; an ID is never reused.
	nextChannelID uint32
	// lastTombstonedAt is the unix-ns time of the topic's latest tombstone,
	// 0 if none: while it is older than the tombstone lifetime, a lookup
	// knows no producer is tombstoned without reading their records.
	lastTombstonedAt atomic.Int64

	// Inline storage for the name and the first producers and channels,
	// sized so that the entry fills the 256-byte allocation class.
	nameBuf     [maxInlineName]byte
	producerBuf [inlineProducers]topicProducer
	channelBuf  [inlineChannels]channelEntry
}

const (
	maxInlineName   = 64 // topic names are at most 64 bytes
	inlineProducers = 2
	inlineChannels  = 5
)

// topicProducer is one member of a topic's producer list.
type topicProducer struct {
	peer *peerEntry
	rec  *producer
}

// newTopicEntry returns an empty topic registration named name, holding
// its own copy of the name so that it does not pin the command line the
// name was cut from.
func newTopicEntry(name string) *topicEntry {
	t := &topicEntry{}
	if len(name) <= maxInlineName {
		n := copy(t.nameBuf[:], name)
		// The bytes are never written again, so the string stays immutable.
		t.name = unsafe.String(&t.nameBuf[0], n)
	} else {
		t.name = strings.Clone(name)
	}
	t.producers = t.producerBuf[:0]
	t.channels = t.channelBuf[:0]
	return t
}

// producerOf returns the peer's record in the topic, nil if it is not in.
func (t *topicEntry) producerOf(p *peerEntry) *producer {
	for _, tp := range t.producers {
		if tp.peer == p {
			return tp.rec
		}
	}
	return nil
}

func (t *topicEntry) addProducer(pr *producer) {
	pr.topicIndex = len(t.producers)
	t.producers = append(t.producers, topicProducer{peer: pr.peer, rec: pr})
}

func (t *topicEntry) removeProducer(pr *producer) {
	t.producers = removeAt(t.producers, pr.topicIndex, func(moved topicProducer, i int) { moved.rec.topicIndex = i })
}

// channelIndex returns the index of the named channel registration, -1 if
// there is none.
func (t *topicEntry) channelIndex(name string) int {
	for i := range t.channels {
		if t.channels[i].name.Value() == name {
			return i
		}
	}
	return -1
}

// channel returns the named channel registration, nil if there is none.
// The pointer is only good until the topic's channels change.
func (t *topicEntry) channel(name string) *channelEntry {
	if i := t.channelIndex(name); i >= 0 {
		return &t.channels[i]
	}
	return nil
}

// channelIndexByID returns the index of the channel with the given ID, -1
// if there is none.
func (t *topicEntry) channelIndexByID(id uint32) int {
	for i := range t.channels {
		if t.channels[i].id == id {
			return i
		}
	}
	return -1
}

// dropChannelIfEphemeralEmpty deletes channel i if it is ephemeral and has
// no peers left, reporting whether it did.
func (t *topicEntry) dropChannelIfEphemeralEmpty(i int) bool {
	c := &t.channels[i]
	if c.peers > 0 || !protocol.IsEphemeral(c.name.Value()) {
		return false
	}
	t.channels = removeAt(t.channels, i, func(channelEntry, int) {})
	return true
}

// removeAt removes element i of s by moving the last element into its
// place, telling that element its new index, and returns the shorter slice.
func removeAt[T any](s []T, i int, reindex func(moved T, i int)) []T {
	last := len(s) - 1
	if i != last {
		s[i] = s[last]
		reindex(s[i], i)
	}
	var zero T
	s[last] = zero
	return s[:last]
}

// channelEntry is a channel registration. Its members are recorded on
// their producer records (producer.channels, by ID); the channel only counts
// them, which is all that ephemeral cleanup needs.
type channelEntry struct {
	// name is interned: the same few channel names recur across topics.
	name  unique.Handle[string]
	id    uint32
	peers int32
}

// producer is one peer's membership of one topic, and of channels of that
// topic: a peer is in channel T C only while it is in topic T, since
// REGISTER T C joins both and UNREGISTER T leaves both.
type producer struct {
	peer  *peerEntry
	topic *topicEntry
	// index of this record in its shard's byPeer[peer] slice.
	index int
	// topicIndex of this record in topic.producers.
	topicIndex int
	// tombstonedAt is the unix-ns time of the last tombstone, 0 if none.
	tombstonedAt atomic.Int64
	// channels are the IDs of the topic's channels holding this peer; a
	// peer is in few channels of a topic, so a slice beats a map.
	channels []uint32
}

// hasChannel reports whether the peer is in channel c.
func (pr *producer) hasChannel(c *channelEntry) bool {
	return slices.Contains(pr.channels, c.id)
}

// leaveChannel takes the peer out of channel c, reporting whether it was in.
func (pr *producer) leaveChannel(c *channelEntry) bool {
	i := slices.Index(pr.channels, c.id)
	if i < 0 {
		return false
	}
	pr.channels = removeAt(pr.channels, i, func(uint32, int) {})
	c.peers--
	return true
}

// leaveAllChannels takes the peer out of every channel of its topic,
// deleting the ephemeral ones it leaves empty. It returns how many channels
// it left and how many it deleted.
func (pr *producer) leaveAllChannels() (left, dropped int) {
	t := pr.topic
	for _, id := range pr.channels {
		i := t.channelIndexByID(id)
		t.channels[i].peers--
		if t.dropChannelIfEphemeralEmpty(i) {
			dropped++
		}
	}
	left = len(pr.channels)
	pr.channels = nil
	return left, dropped
}

type peerEntry struct {
	// seq numbers peers in order of arrival.
	seq        uint64
	info       PeerInfo
	lastUpdate atomic.Int64
	removed    atomic.Bool

	// topicsGen changes whenever the peer's topic set changes;
	// sortedTopics caches its topics in name order for /nodes.
	topicsGen    atomic.Uint64
	sortedTopics atomic.Pointer[peerTopicsCache]
}

type peerTopicsCache struct {
	gen       uint64
	producers []*producer
}

// NewRegistrationDB returns an empty store. Peers whose last IDENTIFY or PING
// is older than inactiveTimeout are left out of Lookup and Nodes; a
// tombstone hides a producer from Lookup for tombstoneLifetime.
func NewRegistrationDB(inactiveTimeout, tombstoneLifetime time.Duration) *RegistrationDB {
	db := &RegistrationDB{
		inactiveTimeout:   inactiveTimeout,
		tombstoneLifetime: tombstoneLifetime,
		now:               time.Now,
		peers:             make(map[string]*peerEntry),
	}
	for i := range db.shards {
		db.shards[i].topics = make(map[string]*topicEntry)
		db.shards[i].byPeer = make(map[*peerEntry][]*producer)
	}
	return db
}

// shardFor hashes a topic name (FNV-1a) to its shard.
func (db *RegistrationDB) shardFor(topic string) *shard {
	h := uint32(2166136261)
	for i := 0; i < len(topic); i++ {
		h ^= uint32(topic[i])
		h *= 16777619
	}
	return &db.shards[h%shardCount]
}

// AddPeer adds an identified peer to the client registration, with its
// last-seen time set to now, and returns the handle its connection uses for
// every later call.
func (db *RegistrationDB) AddPeer(info PeerInfo) *peerEntry {
	p := &peerEntry{seq: db.peerSeq.Add(1), info: info}
	p.lastUpdate.Store(db.now().UnixNano())
	db.peersMu.Lock()
	db.peers[info.ID] = p
	db.peersMu.Unlock()
	return p
}

// Touch sets the peer's last-seen time to now and returns the time since the
// previous one.
func (db *RegistrationDB) Touch(p *peerEntry) time.Duration {
	now := db.now().UnixNano()
	prev := p.lastUpdate.Swap(now)
	return time.Duration(now - prev)
}

// Register adds the peer to topic T and, when channel is not empty, to
// channel T C, reporting which registrations were new for the peer.
func (db *RegistrationDB) Register(p *peerEntry, topic, channel string) (topicAdded, channelAdded bool) {
	s := db.shardFor(topic)
	s.mu.Lock()
	t := s.topics[topic]
	if t == nil {
		t = db.createTopicLocked(s, topic)
	}
	pr := t.producerOf(p)
	if pr == nil {
		pr = &producer{peer: p, topic: t, index: len(s.byPeer[p])}
		t.addProducer(pr)
		s.byPeer[p] = append(s.byPeer[p], pr)
		p.topicsGen.Add(1)
		topicAdded = true
	}
	if channel != "" {
		c := t.channel(channel)
		if c == nil {
			c = db.createChannelLocked(t, channel)
		}
		if !pr.hasChannel(c) {
			pr.channels = append(pr.channels, c.id)
			c.peers++
			channelAdded = true
		}
	}
	s.mu.Unlock()
	if topicAdded {
		db.memberships.Add(1)
	}
	if channelAdded {
		db.memberships.Add(1)
	}
	return topicAdded, channelAdded
}

// UnregisterChannel removes the peer from channel T C, deleting an ephemeral
// channel left without peers. It reports whether the peer was there.
func (db *RegistrationDB) UnregisterChannel(p *peerEntry, topic, channel string) bool {
	s := db.shardFor(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[topic]
	if t == nil {
		return false
	}
	i := t.channelIndex(channel)
	pr := t.producerOf(p)
	if i < 0 || pr == nil {
		return false
	}
	removed := pr.leaveChannel(&t.channels[i])
	if removed {
		db.memberships.Add(-1)
		if t.dropChannelIfEphemeralEmpty(i) {
			db.channelCount.Add(-1)
		}
	}
	return removed
}

// UnregisterTopic removes the peer from topic T and from every channel of T,
// deleting ephemeral registrations left without peers. It returns the
// channels the peer was removed from and whether it was in the topic.
func (db *RegistrationDB) UnregisterTopic(p *peerEntry, topic string) (channels []string, removed bool) {
	s := db.shardFor(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[topic]
	if t == nil {
		return nil, false
	}
	if pr := t.producerOf(p); pr != nil {
		for _, id := range pr.channels {
			channels = append(channels, t.channels[t.channelIndexByID(id)].name.Value())
		}
		db.removeProducerLocked(s, pr)
		removed = true
	}
	db.dropTopicIfEphemeralEmptyLocked(s, t)
	slices.Sort(channels)
	return channels, removed
}

// RemovedRegistrations counts what a disconnect took away.
type RemovedRegistrations struct {
	Topics, Channels int
}

// RemovePeer removes a disconnected peer from every registration it was in,
// deleting ephemeral registrations left without peers. Its cost is
// proportional to the peer's own registrations.
func (db *RegistrationDB) RemovePeer(p *peerEntry) RemovedRegistrations {
	p.removed.Store(true)
	db.peersMu.Lock()
	if db.peers[p.info.ID] == p {
		delete(db.peers, p.info.ID)
	}
	db.peersMu.Unlock()

	var removed RemovedRegistrations
	// Start at a shard of the peer's own, so that many peers leaving at
	// once spread over the shards instead of queueing on each in turn.
	first := int(p.seq % shardCount)
	for n := 0; n < shardCount; n++ {
		s := &db.shards[(first+n)%shardCount]
		s.mu.Lock()
		prs := s.byPeer[p]
		for _, pr := range prs {
			t := pr.topic
			t.removeProducer(pr)
			removed.Topics++
			left, dropped := pr.leaveAllChannels()
			removed.Channels += left
			db.channelCount.Add(-int64(dropped))
			db.dropTopicIfEphemeralEmptyLocked(s, t)
		}
		delete(s.byPeer, p)
		s.mu.Unlock()
	}
	p.topicsGen.Add(1)
	db.memberships.Add(-int64(removed.Topics + removed.Channels))
	return removed
}

// CreateTopic registers topic T with no producers; it reports whether it was
// new.
func (db *RegistrationDB) CreateTopic(topic string) bool {
	s := db.shardFor(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.topics[topic] != nil {
		return false
	}
	db.createTopicLocked(s, topic)
	return true
}

// CreateChannel registers channel T C and topic T; it reports whether the
// channel was new.
func (db *RegistrationDB) CreateChannel(topic, channel string) bool {
	s := db.shardFor(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[topic]
	if t == nil {
		t = db.createTopicLocked(s, topic)
	}
	if t.channel(channel) != nil {
		return false
	}
	db.createChannelLocked(t, channel)
	return true
}

// DeleteTopic deletes topic T and all of its channel registrations, with
// every peer's membership of them. It returns the deleted channel names and
// whether the topic existed.
func (db *RegistrationDB) DeleteTopic(topic string) (channels []string, existed bool) {
	s := db.shardFor(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[topic]
	if t == nil {
		return nil, false
	}
	for i := range t.channels {
		channels = append(channels, t.channels[i].name.Value())
	}
	for i := len(t.producers) - 1; i >= 0; i-- {
		db.removeProducerLocked(s, t.producers[i].rec)
	}
	db.deleteTopicLocked(s, t)
	slices.Sort(channels)
	return channels, true
}

// DeleteChannel deletes channel T C; it reports whether it existed.
func (db *RegistrationDB) DeleteChannel(topic, channel string) bool {
	s := db.shardFor(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.topics[topic]
	if t == nil {
		return false
	}
	i := t.channelIndex(channel)
	if i < 0 {
		return false
	}
	for _, tp := range t.producers {
		if tp.rec.leaveChannel(&t.channels[i]) {
			db.memberships.Add(-1)
		}
	}
	t.channels = removeAt(t.channels, i, func(channelEntry, int) {})
	db.channelCount.Add(-1)
	return true
}

// Tombstone marks, at now, every producer of topic T whose
// broadcast_address:http_port is node. node may be "host:port",
// "[v6host]:port" or the unbracketed "v6host:port". It returns the peers
// tombstoned.
func (db *RegistrationDB) Tombstone(topic, node string) []PeerInfo {
	host, port, splitErr := net.SplitHostPort(node)
	now := db.now().UnixNano()
	var marked []PeerInfo
	s := db.shardFor(topic)
	s.mu.RLock()
	defer s.mu.RUnlock()
	t := s.topics[topic]
	if t == nil {
		return nil
	}
	for _, tp := range t.producers {
		info := &tp.peer.info
		httpPort := strconv.Itoa(info.HTTPPort)
		matches := node == info.BroadcastAddress+":"+httpPort ||
			(splitErr == nil && host == info.BroadcastAddress && port == httpPort)
		if matches {
			tp.rec.tombstonedAt.Store(now)
			marked = append(marked, *info)
		}
	}
	if len(marked) > 0 {
		// Only ever forward, when tombstones race.
		for prev := t.lastTombstonedAt.Load(); prev < now && !t.lastTombstonedAt.CompareAndSwap(prev, now); {
			prev = t.lastTombstonedAt.Load()
		}
	}
	return marked
}

// Topics returns every registered topic, sorted. The slice is shared with
// other callers and must not be modified.
func (db *RegistrationDB) Topics() []string {
	names, _ := db.TopicsSnapshot()
	return names
}

// TopicsSnapshot is Topics plus the generation of the topic set it
// reflects: equal generations mean equal lists, so callers may cache
// anything derived from the list under its generation.
func (db *RegistrationDB) TopicsSnapshot() ([]string, uint64) {
	gen := db.topicsGen.Load()
	if c := db.topicsCache.Load(); c != nil && c.gen == gen {
		return c.names, gen
	}
	names := make([]string, 0, db.topicCount.Load())
	for i := range db.shards {
		s := &db.shards[i]
		s.mu.RLock()
		for name := range s.topics {
			names = append(names, name)
		}
		s.mu.RUnlock()
	}
	slices.Sort(names)
	// A change during the scan bumped topicsGen past gen, so this list is
	// never mistaken for a newer one.
	db.topicsCache.Store(&namesCache{gen: gen, names: names})
	return names, gen
}

// Channels returns the sorted channel names of topic T (empty if none).
func (db *RegistrationDB) Channels(topic string) []string {
	s := db.shardFor(topic)
	s.mu.RLock()
	t := s.topics[topic]
	var names []string
	if t != nil {
		names = make([]string, 0, len(t.channels))
		for _, c := range t.channels {
			names = append(names, c.name.Value())
		}
	}
	s.mu.RUnlock()
	if names == nil {
		return []string{}
	}
	slices.Sort(names)
	return names
}

// Lookup returns the sorted channels of topic T and its producers that are
// active and not tombstoned, sorted by broadcast address, TCP port and
// remote address. found is false when topic T is not registered.
func (db *RegistrationDB) Lookup(topic string) (channels []string, producers []PeerInfo, found bool) {
	return db.LookupAppend(topic, nil, nil)
}

// LookupAppend is Lookup appending to the given slices, so a caller can
// reuse them.
func (db *RegistrationDB) LookupAppend(topic string, channels []string, producers []PeerInfo) ([]string, []PeerInfo, bool) {
	now := db.now().UnixNano()
	s := db.shardFor(topic)
	s.mu.RLock()
	t := s.topics[topic]
	if t == nil {
		s.mu.RUnlock()
		return nil, nil, false
	}
	if channels == nil {
		channels = make([]string, 0, len(t.channels))
	}
	for _, c := range t.channels {
		channels = append(channels, c.name.Value())
	}
	if producers == nil {
		producers = make([]PeerInfo, 0, len(t.producers))
	}
	// Producer records are read only when some tombstone may still be live.
	recentTombstone := time.Duration(now-t.lastTombstonedAt.Load()) < db.tombstoneLifetime
	for _, tp := range t.producers {
		if db.isActive(tp.peer, now) && !(recentTombstone && db.isTombstoned(tp.rec, now)) {
			producers = append(producers, tp.peer.info)
		}
	}
	s.mu.RUnlock()
	slices.Sort(channels)
	slices.SortFunc(producers, comparePeers)
	return channels, producers, true
}

func comparePeers(a, b PeerInfo) int {
	if c := cmp.Compare(a.BroadcastAddress, b.BroadcastAddress); c != 0 {
		return c
	}
	if c := cmp.Compare(a.TCPPort, b.TCPPort); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// Nodes returns every active identified peer, tombstoned or not, with its
// topics in sorted order, sorted like Lookup's producers.
func (db *RegistrationDB) Nodes() []NodeInfo {
	now := db.now().UnixNano()
	db.peersMu.RLock()
	peers := make([]*peerEntry, 0, len(db.peers))
	for _, p := range db.peers {
		if db.isActive(p, now) {
			peers = append(peers, p)
		}
	}
	db.peersMu.RUnlock()
	slices.SortFunc(peers, func(a, b *peerEntry) int { return comparePeers(a.info, b.info) })

	nodes := make([]NodeInfo, len(peers))
	for i, p := range peers {
		prs := db.peerTopics(p)
		node := NodeInfo{
			PeerInfo:   p.info,
			Topics:     make([]string, len(prs)),
			Tombstones: make([]bool, len(prs)),
		}
		for j, pr := range prs {
			node.Topics[j] = pr.topic.name
			node.Tombstones[j] = db.isTombstoned(pr, now)
		}
		nodes[i] = node
	}
	return nodes
}

// peerTopics returns the peer's producer records sorted by topic name,
// rebuilding the peer's cached order only when its topic set has changed.
// The records' topic names never change and their tombstone times are
// atomic, so they are safe to read without the shard locks.
func (db *RegistrationDB) peerTopics(p *peerEntry) []*producer {
	gen := p.topicsGen.Load()
	if c := p.sortedTopics.Load(); c != nil && c.gen == gen {
		return c.producers
	}
	var prs []*producer
	for i := range db.shards {
		s := &db.shards[i]
		s.mu.RLock()
		prs = append(prs, s.byPeer[p]...)
		s.mu.RUnlock()
	}
	slices.SortFunc(prs, func(a, b *producer) int { return cmp.Compare(a.topic.name, b.topic.name) })
	p.sortedTopics.Store(&peerTopicsCache{gen: gen, producers: prs})
	return prs
}

// Debug returns every registration that has peers, with no activity or
// tombstone filtering, sorted by category, key and subkey.
func (db *RegistrationDB) Debug() []DebugRegistration {
	var regs []DebugRegistration
	db.peersMu.RLock()
	if len(db.peers) > 0 {
		reg := DebugRegistration{Category: "client"}
		for _, p := range db.peers {
			reg.Producers = append(reg.Producers, debugProducer(p, 0))
		}
		regs = append(regs, reg)
	}
	db.peersMu.RUnlock()

	for i := range db.shards {
		s := &db.shards[i]
		s.mu.RLock()
		for _, t := range s.topics {
			if len(t.producers) > 0 {
				reg := DebugRegistration{Category: "topic", Key: t.name}
				for _, tp := range t.producers {
					reg.Producers = append(reg.Producers, debugProducer(tp.peer, tp.rec.tombstonedAt.Load()))
				}
				regs = append(regs, reg)
			}
			for i := range t.channels {
				c := &t.channels[i]
				if c.peers > 0 {
					reg := DebugRegistration{Category: "channel", Key: t.name, SubKey: c.name.Value()}
					for _, tp := range t.producers {
						if tp.rec.hasChannel(c) {
							reg.Producers = append(reg.Producers, debugProducer(tp.peer, 0))
						}
					}
					regs = append(regs, reg)
				}
			}
		}
		s.mu.RUnlock()
	}
	for _, reg := range regs {
		slices.SortFunc(reg.Producers, func(a, b DebugProducer) int { return comparePeers(a.PeerInfo, b.PeerInfo) })
	}
	slices.SortFunc(regs, func(a, b DebugRegistration) int {
		return cmp.Or(cmp.Compare(a.Category, b.Category), cmp.Compare(a.Key, b.Key), cmp.Compare(a.SubKey, b.SubKey))
	})
	return regs
}

func debugProducer(p *peerEntry, tombstonedAt int64) DebugProducer {
	d := DebugProducer{
		PeerInfo:     p.info,
		LastUpdate:   p.lastUpdate.Load(),
		Tombstoned:   tombstonedAt != 0,
		TombstonedAt: tombstonedAt,
	}
	if tombstonedAt == 0 {
		d.TombstonedAt = zeroTimeUnixNano
	}
	return d
}

// CheckLocks takes and releases every lock of the store in turn. It blocks
// while any of them is wedged, which is what a liveness watchdog wants to
// notice.
func (db *RegistrationDB) CheckLocks() {
	db.peersMu.RLock()
	db.peersMu.RUnlock()
	for i := range db.shards {
		db.shards[i].mu.RLock()
		db.shards[i].mu.RUnlock()
	}
}

// Stats returns the current counts.
func (db *RegistrationDB) Stats() Stats {
	db.peersMu.RLock()
	peers := len(db.peers)
	db.peersMu.RUnlock()
	return Stats{
		Peers:         peers,
		Topics:        int(db.topicCount.Load()),
		Channels:      int(db.channelCount.Load()),
		Registrations: peers + int(db.memberships.Load()),
	}
}

// InactiveFiltered returns how many times a peer was left out of a Lookup or
// Nodes answer because it had been silent for too long.
func (db *RegistrationDB) InactiveFiltered() uint64 {
	return db.inactiveFiltered.Load()
}

func (db *RegistrationDB) isActive(p *peerEntry, now int64) bool {
	if p.removed.Load() {
		return false
	}
	if time.Duration(now-p.lastUpdate.Load()) > db.inactiveTimeout {
		db.inactiveFiltered.Add(1)
		return false
	}
	return true
}

func (db *RegistrationDB) isTombstoned(pr *producer, now int64) bool {
	at := pr.tombstonedAt.Load()
	return at != 0 && time.Duration(now-at) < db.tombstoneLifetime
}

func (db *RegistrationDB) createTopicLocked(s *shard, name string) *topicEntry {
	t := newTopicEntry(name)
	s.topics[t.name] = t
	db.topicCount.Add(1)
	db.topicsGen.Add(1)
	return t
}

func (db *RegistrationDB) createChannelLocked(t *topicEntry, name string) *channelEntry {
	t.channels = append(t.channels, channelEntry{name: unique.Make(name), id: t.nextChannelID})
	t.nextChannelID++
	db.channelCount.Add(1)
	return &t.channels[len(t.channels)-1]
}

func (db *RegistrationDB) deleteTopicLocked(s *shard, t *topicEntry) {
	delete(s.topics, t.name)
	db.topicCount.Add(-1)
	db.channelCount.Add(-int64(len(t.channels)))
	db.topicsGen.Add(1)
}

// removeProducerLocked takes pr out of its topic and out of its peer's index
// in shard s (swap-remove, keeping indexes right).
func (db *RegistrationDB) removeProducerLocked(s *shard, pr *producer) {
	p := pr.peer
	pr.topic.removeProducer(pr)
	left, dropped := pr.leaveAllChannels()
	db.memberships.Add(-1 - int64(left))
	db.channelCount.Add(-int64(dropped))
	prs := removeAt(s.byPeer[p], pr.index, func(moved *producer, i int) { moved.index = i })
	if len(prs) == 0 {
		delete(s.byPeer, p)
	} else {
		s.byPeer[p] = prs
	}
	p.topicsGen.Add(1)
}

// dropTopicIfEphemeralEmptyLocked deletes an ephemeral topic left without
// producers, with its channels: none of them can have peers, as a peer in a
// channel is always in its topic.
func (db *RegistrationDB) dropTopicIfEphemeralEmptyLocked(s *shard, t *topicEntry) {
	if len(t.producers) == 0 && protocol.IsEphemeral(t.name) && s.topics[t.name] == t {
		db.deleteTopicLocked(s, t)
	}
}
