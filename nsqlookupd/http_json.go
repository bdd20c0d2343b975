package nsqlookupd

import (
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/nsqlookupd/nsqlookupd/internal/http_api"
	"github.com/nsqlookupd/nsqlookupd/internal/registry"
)

// The JSON answers of /lookup, /nodes and /debug are encoded by hand, byte
// for byte what encoding/json makes of the shapes in SPEC §6, without
// reflection. Each member of a peer object is defined once, in memberKeys
// and appendPeerMember; peerMembers and debugMembers say which members an
// object has, in which order.

// peerMember is one member of a JSON peer object.
type peerMember uint8

const (
	memberRemoteAddress peerMember = iota
	memberHostname
	memberBroadcastAddress
	memberTCPPort
	memberHTTPPort
	memberVersion
	memberTopologyZone
	memberTopologyRegion
	// The members only /debug writes: the peer's identity and its state in
	// one registration.
	memberID
	memberLastUpdate
	memberTombstoned
	memberTombstonedAt
	memberCount
)

// memberKeys are the members' JSON keys.
var memberKeys = [memberCount]string{
	memberRemoteAddress:    "remote_address",
	memberHostname:         "hostname",
	memberBroadcastAddress: "broadcast_address",
	memberTCPPort:          "tcp_port",
	memberHTTPPort:         "http_port",
	memberVersion:          "version",
	memberTopologyZone:     "topology_zone",
	memberTopologyRegion:   "topology_region",
	memberID:               "id",
	memberLastUpdate:       "last_update",
	memberTombstoned:       "tombstoned",
	memberTombstonedAt:     "tombstoned_at",
}

// memberPrefixes are `"key":` for each member, so writing one is one append.
var memberPrefixes = func() (prefixes [memberCount]string) {
	for m, key := range memberKeys {
		prefixes[m] = `"` + key + `":`
	}
	return prefixes
}()

// peerMembers is the peer object of /lookup and /nodes (SPEC §6), in order.
var peerMembers = []peerMember{
	memberRemoteAddress, memberHostname, memberBroadcastAddress, memberTCPPort,
	memberHTTPPort, memberVersion, memberTopologyZone, memberTopologyRegion,
}

// debugMembers is a /debug peer object: the peer's members with id in place
// of remote_address, then its state in the registration, in sorted key
// order as upstream writes them.
var debugMembers = func() []peerMember {
	members := []peerMember{memberID, memberLastUpdate, memberTombstoned, memberTombstonedAt}
	for _, m := range peerMembers {
		if m != memberRemoteAddress {
			members = append(members, m)
		}
	}
	slices.SortFunc(members, func(a, b peerMember) int { return strings.Compare(memberKeys[a], memberKeys[b]) })
	return members
}()

// appendPeerMember appends the value of member m of p, one of peerMembers.
func appendPeerMember(dst []byte, p *registry.PeerInfo, m peerMember) []byte {
	switch m {
	case memberRemoteAddress:
		return http_api.AppendJSONString(dst, p.RemoteAddress)
	case memberHostname:
		return http_api.AppendJSONString(dst, p.Hostname)
	case memberBroadcastAddress:
		return http_api.AppendJSONString(dst, p.BroadcastAddress)
	case memberTCPPort:
		return strconv.AppendInt(dst, int64(p.TCPPort), 10)
	case memberHTTPPort:
		return strconv.AppendInt(dst, int64(p.HTTPPort), 10)
	case memberVersion:
		return http_api.AppendJSONString(dst, p.Version)
	case memberTopologyZone:
		return http_api.AppendJSONString(dst, p.TopologyZone)
	case memberTopologyRegion:
		return http_api.AppendJSONString(dst, p.TopologyRegion)
	}
	panic("appendPeerMember: not a peer member: " + memberKeys[m])
}

// appendDebugMember appends the value of member m of p, any member.
func appendDebugMember(dst []byte, p *registry.DebugProducer, m peerMember) []byte {
	switch m {
	case memberID:
		return http_api.AppendJSONString(dst, p.RemoteAddress)
	case memberLastUpdate:
		return strconv.AppendInt(dst, p.LastUpdate, 10)
	case memberTombstoned:
		return strconv.AppendBool(dst, p.Tombstoned)
	case memberTombstonedAt:
		return strconv.AppendInt(dst, p.TombstonedAt, 10)
	}
	return appendPeerMember(dst, &p.PeerInfo, m)
}

// appendPeerMembers appends `"key":value` for the peerMembers of p,
// separated by commas, without braces.
func appendPeerMembers(dst []byte, p *registry.PeerInfo) []byte {
	for i, m := range peerMembers {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, memberPrefixes[m]...)
		dst = appendPeerMember(dst, p, m)
	}
	return dst
}

// appendLookupJSON encodes a /lookup answer:
// {"channels":[...],"producers":[peer...]}.
func appendLookupJSON(dst []byte, channels []string, producers []registry.PeerInfo) []byte {
	dst = append(dst, `{"channels":`...)
	dst = http_api.AppendJSONStrings(dst, channels)
	dst = append(dst, `,"producers":[`...)
	for i := range producers {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendPeerMembers(append(dst, '{'), &producers[i])
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}

// jsonStream writes an answer built piece by piece through one buffer,
// sending it on each time it holds streamChunk bytes, so an answer of any
// size takes a bounded amount of memory.
type jsonStream struct {
	w   io.Writer
	buf []byte
}

// streamChunk is how much of an answer is sent at a time.
const streamChunk = 32 * 1024

// flushIfFull sends the buffer once it holds streamChunk bytes.
func (js *jsonStream) flushIfFull() error {
	if len(js.buf) < streamChunk {
		return nil
	}
	return js.flush()
}

func (js *jsonStream) flush() error {
	_, err := js.w.Write(js.buf)
	js.buf = js.buf[:0]
	return err
}

// writeNodesJSON streams a /nodes answer, {"producers":[node...]}, of the
// nodes each walks: a node is a peer object followed by the topics the peer
// is registered in and, parallel to them, whether it is tombstoned in each.
func writeNodesJSON(w io.Writer, each func(func(*registry.NodeInfo) error) error) error {
	js := jsonStream{w: w, buf: make([]byte, 0, 2*streamChunk)}
	js.buf = append(js.buf, `{"producers":[`...)
	first := true
	err := each(func(n *registry.NodeInfo) error {
		if !first {
			js.buf = append(js.buf, ',')
		}
		first = false
		js.buf = appendPeerMembers(append(js.buf, '{'), &n.PeerInfo)
		js.buf = append(js.buf, `,"tombstones":`...)
		js.buf = http_api.AppendJSONBools(js.buf, n.Tombstones)
		js.buf = append(js.buf, `,"topics":`...)
		js.buf = http_api.AppendJSONStrings(js.buf, n.Topics)
		js.buf = append(js.buf, '}')
		return js.flushIfFull()
	})
	if err != nil {
		return err
	}
	js.buf = append(js.buf, "]}"...)
	return js.flush()
}

// writeDebugJSON streams a /debug answer: an object keyed
// "category:key:subkey", each key holding the registration's peers. each
// must walk the registrations in the byte order of their keys, as
// registry.Store.EachDebug does, which is the order in which encoding/json
// writes a map's keys.
func writeDebugJSON(w io.Writer, each func(func(*registry.DebugRegistration) error) error) error {
	js := jsonStream{w: w, buf: make([]byte, 0, 2*streamChunk)}
	js.buf = append(js.buf, '{')
	first := true
	err := each(func(r *registry.DebugRegistration) error {
		if !first {
			js.buf = append(js.buf, ',')
		}
		first = false
		js.buf = append(js.buf, '"')
		js.buf = http_api.AppendJSONStringContent(js.buf, r.Category)
		js.buf = append(js.buf, ':')
		js.buf = http_api.AppendJSONStringContent(js.buf, r.Key)
		js.buf = append(js.buf, ':')
		js.buf = http_api.AppendJSONStringContent(js.buf, r.SubKey)
		js.buf = append(js.buf, `":[`...)
		for j := range r.Producers {
			if j > 0 {
				js.buf = append(js.buf, ',')
			}
			js.buf = append(js.buf, '{')
			for n, m := range debugMembers {
				if n > 0 {
					js.buf = append(js.buf, ',')
				}
				js.buf = append(js.buf, memberPrefixes[m]...)
				js.buf = appendDebugMember(js.buf, &r.Producers[j], m)
			}
			js.buf = append(js.buf, '}')
		}
		js.buf = append(js.buf, ']')
		return js.flushIfFull()
	})
	if err != nil {
		return err
	}
	js.buf = append(js.buf, '}')
	return js.flush()
}
