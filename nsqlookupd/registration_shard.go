package nsqlookupd

import (
	"hash/maphash"
	"math/bits"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/nsqlookupd/nsqlookupd/internal/protocol"
)

// A shard keeps its registrations free of pointers. Topics live by value in
// a slab, found through a map from name hash to slot; peers and channel
// names are referred to by number. The garbage collector has nothing to
// trace in any of it, however many registrations there are. With a million
// registrations held as linked objects, tracing them was most of the work
// of every collection, and collections come as often as requests allocate
// (about 2 KB each, mostly net/http's): either collections were expensive,
// or, made rarer, each request allocated into memory long out of cache.
// With nothing to trace, collections are cheap and can run often.

const (
	// maxTopicName is the longest topic name the protocol allows.
	maxTopicName = 64
	// Room for producers and channels in the topic record itself; a topic
	// that outgrows either keeps both in a topicOverflow.
	inlineProducers = 4
	inlineChannels  = 8
	// noSlot ends a chain of topics whose names share a hash.
	noSlot = -1
)

// shard holds the topics whose names hash to it.
type shard struct {
	// mu guards everything below except lastTombstonedAt.
	mu sync.RWMutex
	// index maps a name hash to the slot of the first topic with that hash;
	// the others are chained through topicRec.nextSameHash.
	index      map[uint64]int32
	topics     []topicRec
	freeTopics []int32
	// overflow holds the producer and channel lists of topics that
	// outgrew their records.
	overflow map[int32]*topicOverflow
	// byPeer lists, for each peer ID, the slots of the topics it is in.
	byPeer map[uint32][]int32
	// channelNames holds the names of the channels of the shard's topics.
	channelNames nameTable
	// lastTombstonedAt is the unix-ns time of the latest tombstone in any
	// of the shard's topics, so that /nodes can skip shards without one.
	lastTombstonedAt atomic.Int64
}

// topicRec is a topic registration. A free slot has nameLen 0.
type topicRec struct {
	// lastTombstonedAt is the unix-ns time of the topic's latest
	// tombstone, 0 if none: while it is older than the tombstone lifetime,
	// no producer needs checking.
	lastTombstonedAt int64
	nextSameHash     int32
	nameLen          uint8
	nProducers       uint8 // producers inline, unless overflowed
	nChannels        uint8 // channels inline, unless overflowed
	overflowed       bool
	name             [maxTopicName]byte
	producers        [inlineProducers]topicProducer
	channels         [inlineChannels]channelEntry
}

// nameIs reports whether the record is named name.
func (r *topicRec) nameIs(name string) bool {
	return string(r.name[:r.nameLen]) == name
}

// nameNoCopy returns the record's name without copying it, for use only
// while the shard lock is held: the slot is reused once the topic is gone.
func (r *topicRec) nameNoCopy() string {
	return unsafe.String(&r.name[0], int(r.nameLen))
}

// nameString returns a copy of the record's name: a slot is reused after
// its topic is deleted, so no string may point into it.
func (r *topicRec) nameString() string {
	return string(r.name[:r.nameLen])
}

// topicOverflow holds the lists of a topic that outgrew its record.
type topicOverflow struct {
	producers []topicProducer
	channels  []channelEntry
	// highChannels holds, per peer ID, the membership bits of channel
	// indexes 64 and up (word w holds indexes 64(w+1) to 64(w+1)+63).
	highChannels map[uint32][]uint64
}

// topicProducer is one peer's membership of a topic, and of channels of
// that topic: a peer is in channel T C only while it is in topic T, since
// REGISTER T C joins both and UNREGISTER T leaves both.
type topicProducer struct {
	// tombstonedAt is the unix-ns time of the last tombstone, 0 if none.
	tombstonedAt int64
	peer         uint32
	// peerIndex is the topic's position in its shard's byPeer[peer].
	peerIndex int32
	// channels has bit i set when the peer is in channel i, for i < 64.
	channels uint64
}

// channelEntry is a channel registration. Its members are recorded on their
// producers; the channel only counts them, which is all that ephemeral
// cleanup needs.
type channelEntry struct {
	name  uint32 // ID in the shard's channelNames
	peers int32
}

func (s *shard) init() {
	s.index = make(map[uint64]int32)
	s.overflow = make(map[int32]*topicOverflow)
	s.byPeer = make(map[uint32][]int32)
}

// find returns the slot of the topic named name, whose hash is h, or
// noSlot.
func (s *shard) find(h uint64, name string) int32 {
	slot, ok := s.index[h]
	if !ok {
		return noSlot
	}
	for slot != noSlot && !s.topics[slot].nameIs(name) {
		slot = s.topics[slot].nextSameHash
	}
	return slot
}

// create adds an empty topic named name, whose hash is h, and returns its
// slot. It may move the slab: no *topicRec survives it.
func (s *shard) create(h uint64, name string) int32 {
	var slot int32
	if n := len(s.freeTopics); n > 0 {
		slot = s.freeTopics[n-1]
		s.freeTopics = s.freeTopics[:n-1]
	} else {
		slot = int32(len(s.topics))
		s.topics = append(s.topics, topicRec{})
	}
	r := &s.topics[slot]
	r.nameLen = uint8(copy(r.name[:], name))
	if head, ok := s.index[h]; ok {
		r.nextSameHash = head
	} else {
		r.nextSameHash = noSlot
	}
	s.index[h] = slot
	return slot
}

// remove deletes the topic in slot, whose name hashes to h. Its channels'
// names must already be released.
func (s *shard) remove(h uint64, slot int32) {
	next := s.topics[slot].nextSameHash
	if head := s.index[h]; head == slot {
		if next == noSlot {
			delete(s.index, h)
		} else {
			s.index[h] = next
		}
	} else {
		prev := head
		for s.topics[prev].nextSameHash != slot {
			prev = s.topics[prev].nextSameHash
		}
		s.topics[prev].nextSameHash = next
	}
	delete(s.overflow, slot)
	s.topics[slot] = topicRec{}
	s.freeTopics = append(s.freeTopics, slot)
}

// producers returns the topic's producer list; its elements may be
// modified in place.
func (s *shard) producers(slot int32) []topicProducer {
	r := &s.topics[slot]
	if r.overflowed {
		return s.overflow[slot].producers
	}
	return r.producers[:r.nProducers]
}

// channels returns the topic's channel list; its elements may be modified
// in place.
func (s *shard) channels(slot int32) []channelEntry {
	r := &s.topics[slot]
	if r.overflowed {
		return s.overflow[slot].channels
	}
	return r.channels[:r.nChannels]
}

// spill moves the topic's lists into a topicOverflow.
func (s *shard) spill(slot int32) *topicOverflow {
	r := &s.topics[slot]
	ov := &topicOverflow{
		producers: append(make([]topicProducer, 0, 2*inlineProducers), r.producers[:r.nProducers]...),
		channels:  append(make([]channelEntry, 0, 2*inlineChannels), r.channels[:r.nChannels]...),
	}
	r.producers, r.channels = [inlineProducers]topicProducer{}, [inlineChannels]channelEntry{}
	r.nProducers, r.nChannels = 0, 0
	r.overflowed = true
	s.overflow[slot] = ov
	return ov
}

// addProducer appends tp to the topic's producers and returns its index.
func (s *shard) addProducer(slot int32, tp topicProducer) int {
	r := &s.topics[slot]
	if !r.overflowed && r.nProducers < inlineProducers {
		r.producers[r.nProducers] = tp
		r.nProducers++
		return int(r.nProducers) - 1
	}
	ov := s.overflow[slot]
	if ov == nil {
		ov = s.spill(slot)
	}
	ov.producers = append(ov.producers, tp)
	return len(ov.producers) - 1
}

// removeProducer deletes producer i, moving the last one into its place.
// The producer must be in no channel.
func (s *shard) removeProducer(slot int32, i int) {
	ps := s.producers(slot)
	ps = removeAt(ps, i)
	if r := &s.topics[slot]; r.overflowed {
		s.overflow[slot].producers = ps
	} else {
		r.nProducers--
	}
}

// addChannel appends a channel named by ID name and returns its index.
func (s *shard) addChannel(slot int32, name uint32) int {
	c := channelEntry{name: name}
	r := &s.topics[slot]
	if !r.overflowed && r.nChannels < inlineChannels {
		r.channels[r.nChannels] = c
		r.nChannels++
		return int(r.nChannels) - 1
	}
	ov := s.overflow[slot]
	if ov == nil {
		ov = s.spill(slot)
	}
	ov.channels = append(ov.channels, c)
	return len(ov.channels) - 1
}

// removeChannel deletes channel ci, which no producer may be in, moving
// the last channel into its place and renumbering it in every producer.
func (s *shard) removeChannel(slot int32, ci int) {
	cs := s.channels(slot)
	s.channelNames.release(cs[ci].name)
	last := len(cs) - 1
	cs = removeAt(cs, ci)
	if r := &s.topics[slot]; r.overflowed {
		s.overflow[slot].channels = cs
	} else {
		r.nChannels--
	}
	if ci != last {
		for pi := range s.producers(slot) {
			if s.leaveChannel(slot, pi, last) {
				s.joinChannel(slot, pi, ci)
			}
		}
	}
}

// producerIndex returns the index of peer ID peer in the topic's
// producers, -1 if it is not in.
func (s *shard) producerIndex(slot int32, peer uint32) int {
	for i, tp := range s.producers(slot) {
		if tp.peer == peer {
			return i
		}
	}
	return -1
}

// channelIndex returns the index of the topic's channel named name, -1 if
// there is none.
func (s *shard) channelIndex(slot int32, name string) int {
	if id, ok := s.channelNames.lookup(name); ok {
		for i, c := range s.channels(slot) {
			if c.name == id {
				return i
			}
		}
	}
	return -1
}

// memberWord returns the word holding producer pi's membership bit for
// channel ci, creating it if grow is set; nil if it does not exist.
func (s *shard) memberWord(slot int32, pi, ci int, grow bool) *uint64 {
	ps := s.producers(slot)
	if ci < 64 {
		return &ps[pi].channels
	}
	// Over 64 channels means the topic has overflowed.
	ov := s.overflow[slot]
	w := ci/64 - 1
	high := ov.highChannels[ps[pi].peer]
	if w >= len(high) {
		if !grow {
			return nil
		}
		high = append(high, make([]uint64, w+1-len(high))...)
		if ov.highChannels == nil {
			ov.highChannels = make(map[uint32][]uint64)
		}
		ov.highChannels[ps[pi].peer] = high
	}
	return &high[w]
}

func (s *shard) inChannel(slot int32, pi, ci int) bool {
	w := s.memberWord(slot, pi, ci, false)
	return w != nil && *w&(1<<(ci%64)) != 0
}

// joinChannel puts producer pi in channel ci, reporting whether it was not
// in before.
func (s *shard) joinChannel(slot int32, pi, ci int) bool {
	w, bit := s.memberWord(slot, pi, ci, true), uint64(1)<<(ci%64)
	joined := *w&bit == 0
	*w |= bit
	return joined
}

// leaveChannel takes producer pi out of channel ci, reporting whether it
// was in.
func (s *shard) leaveChannel(slot int32, pi, ci int) bool {
	w, bit := s.memberWord(slot, pi, ci, false), uint64(1)<<(ci%64)
	if w == nil || *w&bit == 0 {
		return false
	}
	*w &^= bit
	return true
}

// memberChannels appends to dst the indexes of the channels producer pi
// is in, in increasing order.
func (s *shard) memberChannels(slot int32, pi int, dst []int) []int {
	tp := s.producers(slot)[pi]
	for b := tp.channels; b != 0; b &= b - 1 {
		dst = append(dst, bits.TrailingZeros64(b))
	}
	if s.topics[slot].overflowed {
		for w, word := range s.overflow[slot].highChannels[tp.peer] {
			for b := word; b != 0; b &= b - 1 {
				dst = append(dst, 64*(w+1)+bits.TrailingZeros64(b))
			}
		}
	}
	return dst
}

// leaveAllChannels takes producer pi out of every channel of the topic,
// deleting the ephemeral ones it leaves empty. It returns how many
// channels it left and how many it deleted.
func (s *shard) leaveAllChannels(slot int32, pi int) (left, dropped int) {
	var buf [16]int
	members := s.memberChannels(slot, pi, buf[:0])
	ps := s.producers(slot)
	ps[pi].channels = 0
	if s.topics[slot].overflowed {
		delete(s.overflow[slot].highChannels, ps[pi].peer)
	}
	// Highest index first: deleting channel ci moves the last channel into
	// ci, and every channel above ci is already done.
	for k := len(members) - 1; k >= 0; k-- {
		ci := members[k]
		s.channels(slot)[ci].peers--
		if s.dropChannelIfEphemeralEmpty(slot, ci) {
			dropped++
		}
	}
	return len(members), dropped
}

// dropChannelIfEphemeralEmpty deletes channel ci if it is ephemeral and has
// no peers left, reporting whether it did.
func (s *shard) dropChannelIfEphemeralEmpty(slot int32, ci int) bool {
	c := s.channels(slot)[ci]
	if c.peers > 0 || !protocol.IsEphemeral(s.channelNames.names[c.name]) {
		return false
	}
	s.removeChannel(slot, ci)
	return true
}

// removeAt removes element i of s by moving the last element into its
// place, and returns the shorter slice.
func removeAt[T any](s []T, i int) []T {
	last := len(s) - 1
	if i != last {
		s[i] = s[last]
	}
	var zero T
	s[last] = zero
	return s[:last]
}

// nameTable interns channel names, counting references. The same few names
// recur across topics, and a channel that holds an ID instead of a string
// has no pointer for the garbage collector to trace.
type nameTable struct {
	ids   map[string]uint32
	names []string
	refs  []int32
	free  []uint32
}

// acquire returns the ID of name, adding a reference.
func (nt *nameTable) acquire(name string) uint32 {
	if id, ok := nt.ids[name]; ok {
		nt.refs[id]++
		return id
	}
	name = strings.Clone(name)
	var id uint32
	if n := len(nt.free); n > 0 {
		id = nt.free[n-1]
		nt.free = nt.free[:n-1]
		nt.names[id], nt.refs[id] = name, 1
	} else {
		id = uint32(len(nt.names))
		nt.names = append(nt.names, name)
		nt.refs = append(nt.refs, 1)
	}
	if nt.ids == nil {
		nt.ids = make(map[string]uint32)
	}
	nt.ids[name] = id
	return id
}

// release drops a reference to ID id, forgetting the name with the last.
func (nt *nameTable) release(id uint32) {
	if nt.refs[id]--; nt.refs[id] == 0 {
		delete(nt.ids, nt.names[id])
		nt.names[id] = ""
		nt.free = append(nt.free, id)
	}
}

// lookup returns the ID of name, if it has one.
func (nt *nameTable) lookup(name string) (uint32, bool) {
	id, ok := nt.ids[name]
	return id, ok
}

// peerTable numbers the identified peers, so that registrations can name a
// peer by a 32-bit ID instead of a pointer. IDs are reused once a peer is
// gone from every shard. Reads take no lock: a reader holding a shard lock
// and finding a peer ID there knows the peer's removal has not reached that
// shard, so its entry is still in place.
type peerTable struct {
	mu     sync.Mutex // guards next and free, and chunk creation
	next   uint32
	free   []uint32
	chunks [peerChunks]atomic.Pointer[peerChunk]
}

const (
	peerChunkBits = 10
	peerChunkSize = 1 << peerChunkBits
	// peerChunks bounds the table at 16M peers at once, far beyond what
	// one process can hold connections for.
	peerChunks = 1 << 14
)

type peerChunk [peerChunkSize]atomic.Pointer[peerEntry]

// add gives p an ID and records it under it.
func (pt *peerTable) add(p *peerEntry) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	var id uint32
	if n := len(pt.free); n > 0 {
		id = pt.free[n-1]
		pt.free = pt.free[:n-1]
	} else {
		id = pt.next
		pt.next++
	}
	chunk := pt.chunks[id>>peerChunkBits].Load()
	if chunk == nil {
		chunk = new(peerChunk)
		pt.chunks[id>>peerChunkBits].Store(chunk)
	}
	p.id = id
	chunk[id&(peerChunkSize-1)].Store(p)
}

// get returns the peer with ID id.
func (pt *peerTable) get(id uint32) *peerEntry {
	return pt.chunks[id>>peerChunkBits].Load()[id&(peerChunkSize-1)].Load()
}

// remove frees p's ID; p must be in no shard.
func (pt *peerTable) remove(p *peerEntry) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	pt.chunks[p.id>>peerChunkBits].Load()[p.id&(peerChunkSize-1)].Store(nil)
	pt.free = append(pt.free, p.id)
}

// nameBlob copies names into one allocation, so that a cached list is two
// objects for the garbage collector rather than one per name.
func nameBlob(names []string) []string {
	size := 0
	for _, n := range names {
		size += len(n)
	}
	blob := make([]byte, 0, size)
	out := make([]string, len(names))
	for i, n := range names {
		start := len(blob)
		blob = append(blob, n...)
		if len(n) > 0 {
			// blob is never written again after this loop.
			out[i] = unsafe.String(&blob[start], len(n))
		}
	}
	return out
}

// topicHash hashes a topic name: its top bits choose the shard, all of it
// keys the shard's index.
func topicHash(seed maphash.Seed, name string) uint64 {
	return maphash.String(seed, name)
}
