package nsqlookupd

import (
	"cmp"
	"hash/maphash"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

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
// Locking: peersMu, peerIDs' mutex and the shards' mu are never held
// together, and no operation holds two shards at once, so there is no lock
// order to keep. Every reader copies what it needs under a lock and works
// on the copy after; whole-store scans take one shard at a time. Readers
// find peers by ID without a lock (see peerTable).
type RegistrationDB struct {
	inactiveTimeout   time.Duration
	tombstoneLifetime time.Duration
	now               func() time.Time
	seed              maphash.Seed

	// peersMu guards peers, the "client" registration.
	peersMu sync.RWMutex
	peers   map[string]*peerEntry
	// peerIDs numbers the peers for the shards.
	peerIDs peerTable

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

type peerEntry struct {
	// seq numbers peers in order of arrival.
	seq uint64
	// id is the peer's number in the shards, unique among current peers.
	id         uint32
	info       PeerInfo
	lastUpdate atomic.Int64
	removed    atomic.Bool

	// topicsGen changes whenever the peer's topic set changes;
	// sortedTopics caches its topics in name order for /nodes.
	topicsGen    atomic.Uint64
	sortedTopics atomic.Pointer[peerTopicsCache]
}

type peerTopicsCache struct {
	gen   uint64
	names []string
	// hashes are the names' hashes, for finding the topics again.
	hashes []uint64
}

// NewRegistrationDB returns an empty store. Peers whose last IDENTIFY or PING
// is older than inactiveTimeout are left out of Lookup and Nodes; a
// tombstone hides a producer from Lookup for tombstoneLifetime.
func NewRegistrationDB(inactiveTimeout, tombstoneLifetime time.Duration) *RegistrationDB {
	db := &RegistrationDB{
		inactiveTimeout:   inactiveTimeout,
		tombstoneLifetime: tombstoneLifetime,
		now:               time.Now,
		seed:              maphash.MakeSeed(),
		peers:             make(map[string]*peerEntry),
	}
	for i := range db.shards {
		db.shards[i].init()
	}
	return db
}

// locate returns the hash of a topic name and its shard.
func (db *RegistrationDB) locate(topic string) (uint64, *shard) {
	h := topicHash(db.seed, topic)
	return h, &db.shards[h>>(64-shardBits)]
}

// shardBits is log2(shardCount).
const shardBits = 6

// shardFor returns the shard of a topic name.
func (db *RegistrationDB) shardFor(topic string) *shard {
	_, s := db.locate(topic)
	return s
}

// AddPeer adds an identified peer to the client registration, with its
// last-seen time set to now, and returns the handle its connection uses for
// every later call.
func (db *RegistrationDB) AddPeer(info PeerInfo) *peerEntry {
	p := &peerEntry{seq: db.peerSeq.Add(1), info: info}
	p.lastUpdate.Store(db.now().UnixNano())
	db.peerIDs.add(p)
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
// channel T C, reporting which registrations were new for the peer. Topic
// names longer than the protocol allows are not registered.
func (db *RegistrationDB) Register(p *peerEntry, topic, channel string) (topicAdded, channelAdded bool) {
	if len(topic) == 0 || len(topic) > maxTopicName {
		return false, false
	}
	h, s := db.locate(topic)
	s.mu.Lock()
	slot := s.find(h, topic)
	if slot == noSlot {
		slot = db.createTopicLocked(s, h, topic)
	}
	pi := s.producerIndex(slot, p.id)
	if pi < 0 {
		pi = s.addProducer(slot, topicProducer{peer: p.id, peerIndex: int32(len(s.byPeer[p.id]))})
		s.byPeer[p.id] = append(s.byPeer[p.id], slot)
		p.topicsGen.Add(1)
		topicAdded = true
	}
	if channel != "" {
		ci := s.channelIndex(slot, channel)
		if ci < 0 {
			ci = db.createChannelLocked(s, slot, channel)
		}
		if s.joinChannel(slot, pi, ci) {
			s.channels(slot)[ci].peers++
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
	h, s := db.locate(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	slot := s.find(h, topic)
	if slot == noSlot {
		return false
	}
	ci := s.channelIndex(slot, channel)
	pi := s.producerIndex(slot, p.id)
	if ci < 0 || pi < 0 || !s.leaveChannel(slot, pi, ci) {
		return false
	}
	s.channels(slot)[ci].peers--
	db.memberships.Add(-1)
	if s.dropChannelIfEphemeralEmpty(slot, ci) {
		db.channelCount.Add(-1)
	}
	return true
}

// UnregisterTopic removes the peer from topic T and from every channel of T,
// deleting ephemeral registrations left without peers. It returns the
// channels the peer was removed from and whether it was in the topic.
func (db *RegistrationDB) UnregisterTopic(p *peerEntry, topic string) (channels []string, removed bool) {
	h, s := db.locate(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	slot := s.find(h, topic)
	if slot == noSlot {
		return nil, false
	}
	if pi := s.producerIndex(slot, p.id); pi >= 0 {
		cs := s.channels(slot)
		for _, ci := range s.memberChannels(slot, pi, nil) {
			channels = append(channels, s.channelNames.names[cs[ci].name])
		}
		db.removeProducerLocked(s, slot, pi)
		removed = true
	}
	db.dropTopicIfEphemeralEmptyLocked(s, slot)
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
		for _, slot := range s.byPeer[p.id] {
			pi := s.producerIndex(slot, p.id)
			left, dropped := s.leaveAllChannels(slot, pi)
			s.removeProducer(slot, pi)
			removed.Topics++
			removed.Channels += left
			db.channelCount.Add(-int64(dropped))
			db.dropTopicIfEphemeralEmptyLocked(s, slot)
		}
		delete(s.byPeer, p.id)
		s.mu.Unlock()
	}
	db.peerIDs.remove(p)
	p.topicsGen.Add(1)
	db.memberships.Add(-int64(removed.Topics + removed.Channels))
	return removed
}

// CreateTopic registers topic T with no producers; it reports whether it was
// new.
func (db *RegistrationDB) CreateTopic(topic string) bool {
	if len(topic) == 0 || len(topic) > maxTopicName {
		return false
	}
	h, s := db.locate(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.find(h, topic) != noSlot {
		return false
	}
	db.createTopicLocked(s, h, topic)
	return true
}

// CreateChannel registers channel T C and topic T; it reports whether the
// channel was new.
func (db *RegistrationDB) CreateChannel(topic, channel string) bool {
	if len(topic) == 0 || len(topic) > maxTopicName {
		return false
	}
	h, s := db.locate(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	slot := s.find(h, topic)
	if slot == noSlot {
		slot = db.createTopicLocked(s, h, topic)
	}
	if s.channelIndex(slot, channel) >= 0 {
		return false
	}
	db.createChannelLocked(s, slot, channel)
	return true
}

// DeleteTopic deletes topic T and all of its channel registrations, with
// every peer's membership of them. It returns the deleted channel names and
// whether the topic existed.
func (db *RegistrationDB) DeleteTopic(topic string) (channels []string, existed bool) {
	h, s := db.locate(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	slot := s.find(h, topic)
	if slot == noSlot {
		return nil, false
	}
	for _, c := range s.channels(slot) {
		channels = append(channels, s.channelNames.names[c.name])
	}
	for pi := len(s.producers(slot)) - 1; pi >= 0; pi-- {
		db.removeProducerLocked(s, slot, pi)
	}
	db.deleteTopicLocked(s, h, slot)
	slices.Sort(channels)
	return channels, true
}

// DeleteChannel deletes channel T C; it reports whether it existed.
func (db *RegistrationDB) DeleteChannel(topic, channel string) bool {
	h, s := db.locate(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	slot := s.find(h, topic)
	if slot == noSlot {
		return false
	}
	ci := s.channelIndex(slot, channel)
	if ci < 0 {
		return false
	}
	for pi := range s.producers(slot) {
		if s.leaveChannel(slot, pi, ci) {
			db.memberships.Add(-1)
		}
	}
	s.removeChannel(slot, ci)
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
	h, s := db.locate(topic)
	s.mu.Lock()
	defer s.mu.Unlock()
	slot := s.find(h, topic)
	if slot == noSlot {
		return nil
	}
	ps := s.producers(slot)
	for pi := range ps {
		info := &db.peerIDs.get(ps[pi].peer).info
		httpPort := strconv.Itoa(info.HTTPPort)
		matches := node == info.BroadcastAddress+":"+httpPort ||
			(splitErr == nil && host == info.BroadcastAddress && port == httpPort)
		if matches {
			ps[pi].tombstonedAt = now
			marked = append(marked, *info)
		}
	}
	if len(marked) > 0 {
		if r := &s.topics[slot]; now > r.lastTombstonedAt {
			r.lastTombstonedAt = now
		}
		if now > s.lastTombstonedAt.Load() {
			s.lastTombstonedAt.Store(now)
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
		for slot := range s.topics {
			if r := &s.topics[slot]; r.nameLen > 0 {
				names = append(names, r.nameString())
			}
		}
		s.mu.RUnlock()
	}
	slices.Sort(names)
	names = nameBlob(names)
	// A change during the scan bumped topicsGen past gen, so this list is
	// never mistaken for a newer one.
	db.topicsCache.Store(&namesCache{gen: gen, names: names})
	return names, gen
}

// Channels returns the sorted channel names of topic T (empty if none).
func (db *RegistrationDB) Channels(topic string) []string {
	h, s := db.locate(topic)
	var names []string
	s.mu.RLock()
	if slot := s.find(h, topic); slot != noSlot {
		cs := s.channels(slot)
		names = make([]string, 0, len(cs))
		for _, c := range cs {
			names = append(names, s.channelNames.names[c.name])
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
	h, s := db.locate(topic)
	s.mu.RLock()
	slot := s.find(h, topic)
	if slot == noSlot {
		s.mu.RUnlock()
		return nil, nil, false
	}
	cs, ps := s.channels(slot), s.producers(slot)
	if channels == nil {
		channels = make([]string, 0, len(cs))
	}
	for _, c := range cs {
		channels = append(channels, s.channelNames.names[c.name])
	}
	if producers == nil {
		producers = make([]PeerInfo, 0, len(ps))
	}
	recentTombstone := db.isTombstoned(s.topics[slot].lastTombstonedAt, now)
	for pi := range ps {
		p := db.peerIDs.get(ps[pi].peer)
		if db.isActive(p, now) && !(recentTombstone && db.isTombstoned(ps[pi].tombstonedAt, now)) {
			producers = append(producers, p.info)
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
		topics := db.peerTopics(p)
		node := NodeInfo{
			PeerInfo:   p.info,
			Topics:     slices.Clone(topics.names),
			Tombstones: make([]bool, len(topics.names)),
		}
		for j, h := range topics.hashes {
			s := &db.shards[h>>(64-shardBits)]
			if db.isTombstoned(s.lastTombstonedAt.Load(), now) {
				node.Tombstones[j] = db.peerTombstoned(s, h, topics.names[j], p, now)
			}
		}
		nodes[i] = node
	}
	return nodes
}

// peerTopics returns the peer's topics sorted by name, rebuilding the peer's
// cached list only when its topic set has changed.
func (db *RegistrationDB) peerTopics(p *peerEntry) *peerTopicsCache {
	gen := p.topicsGen.Load()
	if c := p.sortedTopics.Load(); c != nil && c.gen == gen {
		return c
	}
	var names []string
	for i := range db.shards {
		s := &db.shards[i]
		s.mu.RLock()
		for _, slot := range s.byPeer[p.id] {
			names = append(names, s.topics[slot].nameString())
		}
		s.mu.RUnlock()
	}
	if p.removed.Load() {
		// The peer's ID may have been handed on during the scan, making
		// the list another peer's; a removed peer has no topics anyway.
		return &peerTopicsCache{gen: gen}
	}
	slices.Sort(names)
	c := &peerTopicsCache{gen: gen, names: nameBlob(names), hashes: make([]uint64, len(names))}
	for i, name := range c.names {
		c.hashes[i] = topicHash(db.seed, name)
	}
	p.sortedTopics.Store(c)
	return c
}

// peerTombstoned reports whether the peer is tombstoned in topic name,
// whose hash h puts it in shard s.
func (db *RegistrationDB) peerTombstoned(s *shard, h uint64, name string, p *peerEntry, now int64) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	slot := s.find(h, name)
	if slot == noSlot || !db.isTombstoned(s.topics[slot].lastTombstonedAt, now) {
		return false
	}
	pi := s.producerIndex(slot, p.id)
	return pi >= 0 && db.isTombstoned(s.producers(slot)[pi].tombstonedAt, now)
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
		for slot := range s.topics {
			r := &s.topics[slot]
			if r.nameLen == 0 {
				continue
			}
			name := r.nameString()
			ps := s.producers(int32(slot))
			if len(ps) > 0 {
				reg := DebugRegistration{Category: "topic", Key: name}
				for _, tp := range ps {
					reg.Producers = append(reg.Producers, debugProducer(db.peerIDs.get(tp.peer), tp.tombstonedAt))
				}
				regs = append(regs, reg)
			}
			for ci, c := range s.channels(int32(slot)) {
				if c.peers > 0 {
					reg := DebugRegistration{Category: "channel", Key: name, SubKey: s.channelNames.names[c.name]}
					for pi, tp := range ps {
						if s.inChannel(int32(slot), pi, ci) {
							reg.Producers = append(reg.Producers, debugProducer(db.peerIDs.get(tp.peer), 0))
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

// isTombstoned reports whether a tombstone set at unix-ns time at (0 for
// none) is still in force at now.
func (db *RegistrationDB) isTombstoned(at, now int64) bool {
	return at != 0 && time.Duration(now-at) < db.tombstoneLifetime
}

func (db *RegistrationDB) createTopicLocked(s *shard, h uint64, name string) int32 {
	slot := s.create(h, name)
	db.topicCount.Add(1)
	db.topicsGen.Add(1)
	return slot
}

// createChannelLocked adds channel name to the topic in slot and returns
// its index.
func (db *RegistrationDB) createChannelLocked(s *shard, slot int32, name string) int {
	db.channelCount.Add(1)
	return s.addChannel(slot, s.channelNames.acquire(name))
}

func (db *RegistrationDB) deleteTopicLocked(s *shard, h uint64, slot int32) {
	cs := s.channels(slot)
	for _, c := range cs {
		s.channelNames.release(c.name)
	}
	db.topicCount.Add(-1)
	db.channelCount.Add(-int64(len(cs)))
	s.remove(h, slot)
	db.topicsGen.Add(1)
}

// removeProducerLocked takes producer pi out of the topic in slot, and the
// topic out of the peer's index in shard s (both swap-removes, keeping
// indexes right).
func (db *RegistrationDB) removeProducerLocked(s *shard, slot int32, pi int) {
	tp := s.producers(slot)[pi]
	left, dropped := s.leaveAllChannels(slot, pi)
	db.memberships.Add(-1 - int64(left))
	db.channelCount.Add(-int64(dropped))
	k := int(tp.peerIndex)
	topics := removeAt(s.byPeer[tp.peer], k)
	if k < len(topics) {
		// The peer's last topic moved into position k.
		moved := topics[k]
		s.producers(moved)[s.producerIndex(moved, tp.peer)].peerIndex = int32(k)
	}
	if len(topics) == 0 {
		delete(s.byPeer, tp.peer)
	} else {
		s.byPeer[tp.peer] = topics
	}
	s.removeProducer(slot, pi)
	db.peerIDs.get(tp.peer).topicsGen.Add(1)
}

// dropTopicIfEphemeralEmptyLocked deletes an ephemeral topic left without
// producers, with its channels: none of them can have peers, as a peer in a
// channel is always in its topic.
func (db *RegistrationDB) dropTopicIfEphemeralEmptyLocked(s *shard, slot int32) {
	if name := s.topics[slot].nameNoCopy(); len(s.producers(slot)) == 0 && protocol.IsEphemeral(name) {
		db.deleteTopicLocked(s, topicHash(db.seed, name), slot)
	}
}
