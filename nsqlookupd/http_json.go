package nsqlookupd

import (
	"slices"
	"strconv"
	"strings"

	"github.com/nsqlookupd/nsqlookupd/internal/http_api"
)

// The JSON answers of /lookup, /nodes and /debug are encoded by hand, byte
// for byte what encoding/json makes of the shapes in SPEC §6, without
// reflection. The peer object is stated once, in peerFields; the /nodes and
// /debug objects are built from it.

// jsonField is one member of a JSON object encoding a T.
type jsonField[T any] struct {
	// key is the member's name; fields are written in table order.
	key string
	// prefix is `"key":`, computed once.
	prefix string
	// appendValue appends the member's value taken from v.
	appendValue func(dst []byte, v *T) []byte
}

func newJSONField[T any](key string, appendValue func(dst []byte, v *T) []byte) jsonField[T] {
	return jsonField[T]{key: key, prefix: `"` + key + `":`, appendValue: appendValue}
}

// liftJSONField makes a field of an S out of a field of the T that get
// returns from it.
func liftJSONField[S, T any](f jsonField[T], get func(*S) *T) jsonField[S] {
	return jsonField[S]{key: f.key, prefix: f.prefix, appendValue: func(dst []byte, v *S) []byte {
		return f.appendValue(dst, get(v))
	}}
}

// appendJSONObject appends the object {"key":value,...} of v.
func appendJSONObject[T any](dst []byte, fields []jsonField[T], v *T) []byte {
	dst = append(dst, '{')
	for i := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, fields[i].prefix...)
		dst = fields[i].appendValue(dst, v)
	}
	return append(dst, '}')
}

// peerFields is the peer object of /lookup and /nodes, in the order they
// write it. /debug writes the same fields but one: its id takes the place
// of remote_address (peerIdentityKey).
var peerFields = []jsonField[PeerInfo]{
	newJSONField(peerIdentityKey, func(dst []byte, p *PeerInfo) []byte { return http_api.AppendJSONString(dst, p.RemoteAddress) }),
	newJSONField("hostname", func(dst []byte, p *PeerInfo) []byte { return http_api.AppendJSONString(dst, p.Hostname) }),
	newJSONField("broadcast_address", func(dst []byte, p *PeerInfo) []byte { return http_api.AppendJSONString(dst, p.BroadcastAddress) }),
	newJSONField("tcp_port", func(dst []byte, p *PeerInfo) []byte { return strconv.AppendInt(dst, int64(p.TCPPort), 10) }),
	newJSONField("http_port", func(dst []byte, p *PeerInfo) []byte { return strconv.AppendInt(dst, int64(p.HTTPPort), 10) }),
	newJSONField("version", func(dst []byte, p *PeerInfo) []byte { return http_api.AppendJSONString(dst, p.Version) }),
	newJSONField("topology_zone", func(dst []byte, p *PeerInfo) []byte { return http_api.AppendJSONString(dst, p.TopologyZone) }),
	newJSONField("topology_region", func(dst []byte, p *PeerInfo) []byte { return http_api.AppendJSONString(dst, p.TopologyRegion) }),
}

// peerIdentityKey is the member of peerFields /debug replaces with its id.
const peerIdentityKey = "remote_address"

// nodeFields is a /nodes object: the peer, then its topics and, parallel to
// them, whether it is tombstoned in each.
var nodeFields = append(liftPeerFields(func(n *NodeInfo) *PeerInfo { return &n.PeerInfo }),
	newJSONField("tombstones", func(dst []byte, n *NodeInfo) []byte { return http_api.AppendJSONBools(dst, n.Tombstones) }),
	newJSONField("topics", func(dst []byte, n *NodeInfo) []byte { return http_api.AppendJSONStrings(dst, n.Topics) }),
)

// debugFields is a /debug peer object: the peer fields with id in place of
// remote_address, plus the registration's state, in sorted key order as
// upstream writes it.
var debugFields = func() []jsonField[DebugProducer] {
	fields := []jsonField[DebugProducer]{
		newJSONField("id", func(dst []byte, p *DebugProducer) []byte { return http_api.AppendJSONString(dst, p.ID) }),
		newJSONField("last_update", func(dst []byte, p *DebugProducer) []byte { return strconv.AppendInt(dst, p.LastUpdate, 10) }),
		newJSONField("tombstoned", func(dst []byte, p *DebugProducer) []byte { return strconv.AppendBool(dst, p.Tombstoned) }),
		newJSONField("tombstoned_at", func(dst []byte, p *DebugProducer) []byte { return strconv.AppendInt(dst, p.TombstonedAt, 10) }),
	}
	for _, f := range liftPeerFields(func(p *DebugProducer) *PeerInfo { return &p.PeerInfo }) {
		if f.key != peerIdentityKey {
			fields = append(fields, f)
		}
	}
	slices.SortFunc(fields, func(a, b jsonField[DebugProducer]) int { return strings.Compare(a.key, b.key) })
	return fields
}()

// liftPeerFields returns peerFields as fields of an S holding a PeerInfo.
func liftPeerFields[S any](get func(*S) *PeerInfo) []jsonField[S] {
	fields := make([]jsonField[S], len(peerFields))
	for i, f := range peerFields {
		fields[i] = liftJSONField(f, get)
	}
	return fields
}

// appendLookupJSON encodes a /lookup answer:
// {"channels":[...],"producers":[peer...]}.
func appendLookupJSON(dst []byte, channels []string, producers []PeerInfo) []byte {
	dst = append(dst, `{"channels":`...)
	dst = http_api.AppendJSONStrings(dst, channels)
	dst = append(dst, `,"producers":[`...)
	for i := range producers {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONObject(dst, peerFields, &producers[i])
	}
	return append(dst, "]}"...)
}

// appendNodesJSON encodes a /nodes answer: {"producers":[node...]}.
func appendNodesJSON(dst []byte, nodes []NodeInfo) []byte {
	if dst == nil {
		size := 32
		for i := range nodes {
			size += 256 + len(nodes[i].Topics)*8
			for _, t := range nodes[i].Topics {
				size += len(t)
			}
		}
		dst = make([]byte, 0, size)
	}
	dst = append(dst, `{"producers":[`...)
	for i := range nodes {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONObject(dst, nodeFields, &nodes[i])
	}
	return append(dst, "]}"...)
}

// appendDebugJSON encodes a /debug answer: an object keyed
// "category:key:subkey", in sorted key order as encoding/json writes a map,
// each key holding the registration's peers.
func appendDebugJSON(dst []byte, regs []DebugRegistration) []byte {
	type keyed struct {
		key string
		reg *DebugRegistration
	}
	sorted := make([]keyed, len(regs))
	for i := range regs {
		r := &regs[i]
		sorted[i] = keyed{r.Category + ":" + r.Key + ":" + r.SubKey, r}
	}
	slices.SortFunc(sorted, func(a, b keyed) int { return strings.Compare(a.key, b.key) })

	dst = append(dst, '{')
	for i, k := range sorted {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = http_api.AppendJSONString(dst, k.key)
		dst = append(dst, ":["...)
		for j := range k.reg.Producers {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONObject(dst, debugFields, &k.reg.Producers[j])
		}
		dst = append(dst, ']')
	}
	return append(dst, '}')
}
