package nsqlookupd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
)

// TestStreamedAnswersMatchEncodingJSON: /nodes and /debug, streamed in
// chunks over a store whose answers span many chunks, are byte for byte
// what encoding/json makes of the store's contents.
func TestStreamedAnswersMatchEncodingJSON(t *testing.T) {
	l := startLookupd(t, nil)
	for p := range 3 {
		c := identified(t, l)
		var cmds []byte
		for i := range 1500 {
			cmds = fmt.Appendf(cmds, "REGISTER topic-%04d channel-%d\n", i*3+p%2, p)
		}
		c.send(string(cmds))
		for range 1500 {
			c.expectFrame("OK")
		}
	}
	l.db.Tombstone("topic-0000", "127.0.0.1:4151")

	nodes := apiGet(t, l, "/nodes")
	apiExpectHeaders(t, nodes, "/nodes")
	var wantNodes []node
	for _, n := range l.db.Nodes() {
		wantNodes = append(wantNodes, node{specPeer: specPeerOf(n.PeerInfo), Tombstones: n.Tombstones, Topics: n.Topics})
	}
	want, err := json.Marshal(struct {
		Producers []node `json:"producers"`
	}{wantNodes})
	test.Nil(t, err, "encode /nodes")
	if len(want) < 2*streamChunk {
		t.Fatalf("/nodes of %d bytes spans less than two chunks", len(want))
	}
	test.Equal(t, string(want), string(nodes.body), "/nodes")

	debug := apiGet(t, l, "/debug")
	apiExpectHeaders(t, debug, "/debug")
	want, err = json.Marshal(specDebugOf(l.db.Debug()))
	test.Nil(t, err, "encode /debug")
	if len(want) < 2*streamChunk {
		t.Fatalf("/debug of %d bytes spans less than two chunks", len(want))
	}
	test.Equal(t, string(want), string(debug.body), "/debug")
}

// TestStreamsBounded: while maxStreams answers are being built, another
// /nodes or /debug waits for a place, and gets its answer once one is free;
// a client that gives up meanwhile takes no place.
func TestStreamsBounded(t *testing.T) {
	l := startLookupd(t, nil)
	s := l.httpServer.Handler.(*httpServer)
	for range maxStreams {
		s.streams <- struct{}{}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s/debug", l.RealHTTPAddr()), nil)
	test.Nil(t, err, "request")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("/debug answered %d while every place was taken", resp.StatusCode)
	}

	done := make(chan apiResult, 1)
	go func() { done <- apiGet(t, l, "/nodes") }()
	select {
	case r := <-done:
		t.Fatalf("/nodes answered %d while every place was taken", r.status)
	case <-time.After(200 * time.Millisecond):
	}
	<-s.streams
	select {
	case r := <-done:
		test.Equal(t, http.StatusOK, r.status, "/nodes once a place is free")
	case <-time.After(5 * time.Second):
		t.Fatalf("/nodes still waiting after a place was freed")
	}
	test.Equal(t, maxStreams-1, len(s.streams), "places taken at the end")
}
