// Package spec states the JSON shapes of the HTTP API as SPEC §6 lays them
// out, field for field and in order, independently of the daemon's own
// encoders: tests decode answers with them, and encode them with
// encoding/json to get the exact bytes an answer must have.
package spec

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/registry"
)

// ZeroTombstonedAt is what /debug reports as tombstoned_at for a producer
// that was never tombstoned: the Unix nanoseconds of the zero time.Time.
var ZeroTombstonedAt = time.Time{}.UnixNano()

// Peer is a producer object of /lookup.
type Peer struct {
	RemoteAddress    string `json:"remote_address"`
	Hostname         string `json:"hostname"`
	BroadcastAddress string `json:"broadcast_address"`
	TCPPort          int    `json:"tcp_port"`
	HTTPPort         int    `json:"http_port"`
	Version          string `json:"version"`
	TopologyZone     string `json:"topology_zone"`
	TopologyRegion   string `json:"topology_region"`
}

// Lookup is the /lookup answer.
type Lookup struct {
	Channels  []string `json:"channels"`
	Producers []Peer   `json:"producers"`
}

// Node is one /nodes entry: a peer plus its topics and, parallel to them,
// whether it is tombstoned in each.
type Node struct {
	Peer
	Tombstones []bool   `json:"tombstones"`
	Topics     []string `json:"topics"`
}

// Nodes is the /nodes answer.
type Nodes struct {
	Producers []Node `json:"producers"`
}

// DebugPeer is a /debug peer object: exactly these keys, in sorted order as
// upstream writes them. Decoded with DecodeStrict, a key it lacks
// (remote_address, say) fails the decode.
type DebugPeer struct {
	BroadcastAddress string `json:"broadcast_address"`
	Hostname         string `json:"hostname"`
	HTTPPort         int    `json:"http_port"`
	ID               string `json:"id"`
	LastUpdate       int64  `json:"last_update"`
	TCPPort          int    `json:"tcp_port"`
	Tombstoned       bool   `json:"tombstoned"`
	TombstonedAt     int64  `json:"tombstoned_at"`
	TopologyRegion   string `json:"topology_region"`
	TopologyZone     string `json:"topology_zone"`
	Version          string `json:"version"`
}

// Debug is the /debug answer, keyed "category:key:subkey".
type Debug map[string][]DebugPeer

// PeerOf is the /lookup object of a store peer.
func PeerOf(p registry.PeerInfo) Peer {
	return Peer{
		RemoteAddress: p.RemoteAddress, Hostname: p.Hostname, BroadcastAddress: p.BroadcastAddress,
		TCPPort: p.TCPPort, HTTPPort: p.HTTPPort, Version: p.Version,
		TopologyZone: p.TopologyZone, TopologyRegion: p.TopologyRegion,
	}
}

// PeersOf converts the store's peers; never nil, as /lookup lists [].
func PeersOf(peers []registry.PeerInfo) []Peer {
	out := make([]Peer, len(peers))
	for i, p := range peers {
		out[i] = PeerOf(p)
	}
	return out
}

// NodesOf is the /nodes answer for the store's nodes.
func NodesOf(infos []registry.NodeInfo) Nodes {
	nodes := make([]Node, len(infos))
	for i, n := range infos {
		nodes[i] = Node{Peer: PeerOf(n.PeerInfo),
			Tombstones: append([]bool{}, n.Tombstones...), Topics: append([]string{}, n.Topics...)}
	}
	return Nodes{Producers: nodes}
}

// DebugPeerOf is the /debug object of a store producer.
func DebugPeerOf(p registry.DebugProducer) DebugPeer {
	return DebugPeer{
		BroadcastAddress: p.BroadcastAddress, Hostname: p.Hostname, HTTPPort: p.HTTPPort, ID: p.RemoteAddress,
		LastUpdate: p.LastUpdate, TCPPort: p.TCPPort, Tombstoned: p.Tombstoned, TombstonedAt: p.TombstonedAt,
		TopologyRegion: p.TopologyRegion, TopologyZone: p.TopologyZone, Version: p.Version,
	}
}

// DebugOf is the /debug answer for regs, a map encoding/json encodes with
// sorted keys.
func DebugOf(regs []registry.DebugRegistration) Debug {
	out := make(Debug, len(regs))
	for _, r := range regs {
		peers := make([]DebugPeer, len(r.Producers))
		for i, p := range r.Producers {
			peers[i] = DebugPeerOf(p)
		}
		out[r.Category+":"+r.Key+":"+r.SubKey] = peers
	}
	return out
}

// DecodeStrict decodes exactly one JSON value from data into v, refusing
// keys v has no field for.
func DecodeStrict(data []byte, v interface{}) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("trailing data after the JSON value")
	}
	return nil
}
