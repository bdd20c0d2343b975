package registry

import (
	"cmp"
	"sync"
	"sync/atomic"
)

// PeerInfo describes an identified nsqd connection: what it sent in
// IDENTIFY, plus the connection's remote address.
type PeerInfo struct {
	// RemoteAddress is the connection's remote ip:port. It names the peer
	// in answers; two connections may share it (a daemon listening on
	// several local addresses), and are still two peers.
	RemoteAddress    string
	Hostname         string
	BroadcastAddress string
	TCPPort          int
	HTTPPort         int
	Version          string
	TopologyZone     string
	TopologyRegion   string
}

// comparePeerInfo orders peers by broadcast address, TCP port and remote
// address, then by every other field, so that answers are deterministic.
// Each field is compared only when the ones before it are equal: Lookup
// sorts with it on every request.
func comparePeerInfo(a, b *PeerInfo) int {
	if c := cmp.Compare(a.BroadcastAddress, b.BroadcastAddress); c != 0 {
		return c
	}
	if c := cmp.Compare(a.TCPPort, b.TCPPort); c != 0 {
		return c
	}
	if c := cmp.Compare(a.RemoteAddress, b.RemoteAddress); c != 0 {
		return c
	}
	return cmp.Or(
		cmp.Compare(a.HTTPPort, b.HTTPPort),
		cmp.Compare(a.Hostname, b.Hostname),
		cmp.Compare(a.Version, b.Version),
		cmp.Compare(a.TopologyZone, b.TopologyZone),
		cmp.Compare(a.TopologyRegion, b.TopologyRegion),
	)
}

// comparePeers orders peers as comparePeerInfo does, then by arrival.
func comparePeers(a, b *Peer) int {
	return cmp.Or(comparePeerInfo(&a.info, &b.info), cmp.Compare(a.seq, b.seq))
}

// Peer is the handle of one identified connection, returned by AddPeer and
// passed back for each of its registrations until RemovePeer.
type Peer struct {
	// seq numbers peers in order of arrival.
	seq uint64
	// id is the peer's number in the shards, unique among current peers
	// and reused after the peer is gone (see peerTable).
	id   uint32
	info PeerInfo
	// lastSeen is the monotonic time of the last IDENTIFY or PING.
	lastSeen atomic.Int64
	removed  atomic.Bool
	// registrations counts the peer's topic and channel memberships.
	registrations atomic.Int64

	// topicsGen changes whenever the peer's topic set changes;
	// sortedTopics caches its topics in name order for Nodes.
	topicsGen    atomic.Uint64
	sortedTopics atomic.Pointer[peerTopics]
}

// Info returns a copy of what the peer sent in IDENTIFY.
func (p *Peer) Info() PeerInfo { return p.info }

// peerTopics is a peer's topic list at one generation of its topic set.
type peerTopics struct {
	gen   uint64
	names []string
	// hashes are the names' hashes, for finding the topics again.
	hashes []uint64
}

// peerTable numbers the identified peers, so that registrations can name a
// peer by a 32-bit ID instead of a pointer. Reads take no lock.
//
// ID reuse: an ID is freed only after RemovePeer has taken the peer out of
// every shard, and handed to a new peer only after that. So a reader that
// holds a shard lock and finds ID i in that shard while get(i) returns p
// knows the entry is p's; a reader that has a *Peer in hand and wants its
// entries must check get(p.id) == p under the shard lock (see
// shard.producerOf), because p's ID may belong to a newer peer by then.
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

type peerChunk [peerChunkSize]atomic.Pointer[Peer]

// add gives p an ID and records it under it.
func (pt *peerTable) add(p *Peer) {
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

// get returns the peer with ID id, nil if there is none.
func (pt *peerTable) get(id uint32) *Peer {
	chunk := pt.chunks[id>>peerChunkBits].Load()
	if chunk == nil {
		return nil
	}
	return chunk[id&(peerChunkSize-1)].Load()
}

// remove frees p's ID; p must be in no shard.
func (pt *peerTable) remove(p *Peer) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	pt.chunks[p.id>>peerChunkBits].Load()[p.id&(peerChunkSize-1)].Store(nil)
	pt.free = append(pt.free, p.id)
}

// all returns the current peers, in ID order.
func (pt *peerTable) all() []*Peer {
	pt.mu.Lock()
	n := pt.next
	pt.mu.Unlock()
	peers := make([]*Peer, 0, n)
	for id := uint32(0); id < n; id++ {
		if p := pt.get(id); p != nil {
			peers = append(peers, p)
		}
	}
	return peers
}
