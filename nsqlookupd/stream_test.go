package nsqlookupd_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
	"github.com/nsqlookupd/nsqlookupd/internal/test/spec"
	"github.com/nsqlookupd/nsqlookupd/nsqlookupd"
)

// TestStreamedAnswersMatchEncodingJSON: /nodes and /debug, streamed in
// chunks over a store whose answers span many chunks, are byte for byte
// what encoding/json makes of the store's contents.
func TestStreamedAnswersMatchEncodingJSON(t *testing.T) {
	l := startLookupd(t)
	for p := range 3 {
		c := identified(t, l)
		var cmds []byte
		for i := range 1500 {
			cmds = fmt.Appendf(cmds, "REGISTER topic-%04d channel-%d\n", i*3+p%2, p)
		}
		c.Send(string(cmds))
		for range 1500 {
			c.ExpectFrame("OK")
		}
	}
	expectPostOK(t, post(t, l, "/topic/tombstone?topic=topic-0000&node=127.0.0.1:4151"), "tombstone")

	nodes := get(t, l, "/nodes")
	expectHeaders(t, nodes, "/nodes")
	want, err := json.Marshal(spec.NodesOf(l.store().Nodes()))
	test.Nil(t, err, "encode /nodes")
	if len(want) < 2*nsqlookupd.StreamChunk {
		t.Fatalf("/nodes of %d bytes spans less than two chunks", len(want))
	}
	test.Equal(t, string(want), string(nodes.body), "/nodes")

	debug := get(t, l, "/debug")
	expectHeaders(t, debug, "/debug")
	want, err = json.Marshal(spec.DebugOf(l.store().Debug()))
	test.Nil(t, err, "encode /debug")
	if len(want) < 2*nsqlookupd.StreamChunk {
		t.Fatalf("/debug of %d bytes spans less than two chunks", len(want))
	}
	test.Equal(t, string(want), string(debug.body), "/debug")
}

// TestStreamsBounded: while maxStreams answers are being built, another
// /nodes or /debug waits for a place, and gets its answer once one is free;
// a client that gives up meanwhile takes no place.
func TestStreamsBounded(t *testing.T) {
	l := startLookupd(t)
	nsqlookupd.TakeStreamPlaces(l.NSQLookupd, nsqlookupd.MaxStreams)
	impatient := &http.Client{Timeout: 300 * time.Millisecond}
	if r, err := fetch(l, "GET", "/debug", withClient(impatient)); err == nil {
		t.Fatalf("/debug answered %d while every place was taken", r.status)
	}

	done := make(chan response, 1)
	go func() {
		r, err := fetch(l, "GET", "/nodes")
		if err != nil {
			t.Errorf("GET /nodes: %v", err)
		}
		done <- r
	}()
	select {
	case r := <-done:
		t.Fatalf("/nodes answered %d while every place was taken", r.status)
	case <-time.After(200 * time.Millisecond):
	}
	nsqlookupd.FreeStreamPlace(l.NSQLookupd)
	select {
	case r := <-done:
		test.Equal(t, http.StatusOK, r.status, "/nodes once a place is free")
	case <-time.After(5 * time.Second):
		t.Fatalf("/nodes still waiting after a place was freed")
	}
	test.Equal(t, nsqlookupd.MaxStreams-1, nsqlookupd.StreamPlacesTaken(l.NSQLookupd), "places taken at the end")
}
