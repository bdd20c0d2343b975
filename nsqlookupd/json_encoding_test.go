package nsqlookupd

import (
	"github.com/nsqlookupd/nsqlookupd/internal/registry"

	"encoding/json"
	"testing"
)

// The hand-written encoders of /lookup and /nodes must produce exactly the
// bytes encoding/json produces for the documented shapes.
func TestHandEncodedResponsesMatchEncodingJSON(t *testing.T) {
	peers := []registry.PeerInfo{
		{RemoteAddress: "127.0.0.1:5000", Hostname: "h<1>", BroadcastAddress: "n&1", TCPPort: 4150, HTTPPort: 4151, Version: "1.3.0"},
		{RemoteAddress: "[::1]:5001", Hostname: "h\"2\"\n", BroadcastAddress: "::1", TCPPort: -1, HTTPPort: 65535,
			Version: "1.3.0-rc\u2028", TopologyZone: "zone-\xff", TopologyRegion: "région"},
	}
	cases := []struct {
		name      string
		channels  []string
		producers []registry.PeerInfo
	}{
		{"empty", []string{}, []registry.PeerInfo{}},
		{"one", []string{"c1"}, peers[:1]},
		{"escaping", []string{"a", "b#ephemeral", "<x>"}, peers},
	}
	for _, tc := range cases {
		t.Run("lookup/"+tc.name, func(t *testing.T) {
			producers := make([]specPeer, len(tc.producers))
			for i, p := range tc.producers {
				producers[i] = specPeerOf(p)
			}
			want, err := json.Marshal(lookupResponse{Channels: tc.channels, Producers: producers})
			if err != nil {
				t.Fatal(err)
			}
			if got := appendLookupJSON(nil, tc.channels, tc.producers); string(got) != string(want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
		t.Run("nodes/"+tc.name, func(t *testing.T) {
			infos := make([]registry.NodeInfo, len(tc.producers))
			nodes := make([]node, len(tc.producers))
			for i, p := range tc.producers {
				topics := append([]string{}, tc.channels...)
				tombstones := make([]bool, len(topics))
				for j := range tombstones {
					tombstones[j] = j%2 == 0
				}
				infos[i] = registry.NodeInfo{PeerInfo: p, Topics: topics, Tombstones: tombstones}
				nodes[i] = node{specPeer: specPeerOf(p), Tombstones: tombstones, Topics: topics}
			}
			want, err := json.Marshal(struct {
				Producers []node `json:"producers"`
			}{nodes})
			if err != nil {
				t.Fatal(err)
			}
			if got := appendNodesJSON(nil, infos); string(got) != string(want) {
				t.Errorf("got  %s\nwant %s", got, want)
			}
		})
	}
}

// specPeer is a peer object as SPEC §6 lays it out, field for field and in
// order. The tests encode and decode with it, so the daemon's encoders are
// checked against a statement of the shape of their own.
type specPeer struct {
	RemoteAddress    string `json:"remote_address"`
	Hostname         string `json:"hostname"`
	BroadcastAddress string `json:"broadcast_address"`
	TCPPort          int    `json:"tcp_port"`
	HTTPPort         int    `json:"http_port"`
	Version          string `json:"version"`
	TopologyZone     string `json:"topology_zone"`
	TopologyRegion   string `json:"topology_region"`
}

func specPeerOf(p registry.PeerInfo) specPeer {
	return specPeer{
		RemoteAddress: p.RemoteAddress, Hostname: p.Hostname, BroadcastAddress: p.BroadcastAddress,
		TCPPort: p.TCPPort, HTTPPort: p.HTTPPort, Version: p.Version,
		TopologyZone: p.TopologyZone, TopologyRegion: p.TopologyRegion,
	}
}

// lookupResponse is the /lookup JSON shape of SPEC §6.
type lookupResponse struct {
	Channels  []string   `json:"channels"`
	Producers []specPeer `json:"producers"`
}

// node is one /nodes entry as SPEC §6 lays it out: a peer plus its topics
// and, parallel to them, whether it is tombstoned in each.
type node struct {
	specPeer
	Tombstones []bool   `json:"tombstones"`
	Topics     []string `json:"topics"`
}
