package nsqlookupd_test

import (
	"strings"
	"testing"

	"github.com/nsqlookupd/nsqlookupd/internal/test"
	"github.com/nsqlookupd/nsqlookupd/nsqlookupd"
)

// v1CommandCall is how TestV1CommandTable calls one command on an
// identified connection when the command needs it: what to send, and the
// reply's prefix.
type v1CommandCall struct {
	send, replyPrefix string
}

// TestV1CommandTable sends every command of the V1 command table and checks
// it is dispatched (its reply), that a command needing IDENTIFY is refused
// before it with the exact frame, and that each is counted in metrics under
// its name, unknown commands under "other".
func TestV1CommandTable(t *testing.T) {
	calls := map[string]v1CommandCall{
		"PING":       {"PING\n", "OK"},
		"IDENTIFY":   {test.Identify(test.JSON(test.NSQDFields("127.0.0.1", 4150, 4151))), "{"},
		"REGISTER":   {"REGISTER table.t table.c\n", "OK"},
		"UNREGISTER": {"UNREGISTER table.t table.c\n", "OK"},
	}
	l := startLookupd(t, withMetrics)
	want := map[string]float64{}
	labels := map[string]bool{"other": true}
	for _, row := range nsqlookupd.V1Commands() {
		call, ok := calls[row.Name]
		if !ok {
			t.Fatalf("command %s has no call in this test; add one", row.Name)
		}
		labels[row.Name] = true
		c := l.dial(t)
		if row.NeedsIdentify {
			c.Identify("127.0.0.1", 4150, 4151)
			want[commandSeries("IDENTIFY", "ok")]++
		}
		c.Send(call.send)
		reply, err := c.ReadFrame()
		test.Nil(t, err, row.Name, "reply")
		if !strings.HasPrefix(reply, call.replyPrefix) {
			t.Fatalf("%s: reply %q, want one starting with %q", row.Name, reply, call.replyPrefix)
		}
		want[commandSeries(row.Name, "ok")]++
		c.Close()

		if row.NeedsIdentify {
			early := l.dial(t)
			early.Send(call.send)
			early.ExpectError("E_INVALID client must IDENTIFY")
			want[commandSeries(row.Name, "error")]++
		}
	}
	unknown := l.dial(t)
	unknown.Send("NOPE\n")
	unknown.ExpectError("E_INVALID invalid command NOPE")
	want[commandSeries("other", "error")]++
	for _, row := range nsqlookupd.V1Commands() {
		for _, result := range []string{"ok", "error"} {
			if _, ok := want[commandSeries(row.Name, result)]; !ok {
				want[commandSeries(row.Name, result)] = 0
			}
		}
	}
	expectSeries(t, l, want, "commands counted")

	for _, m := range scrapeFamilies(t, l)["nsqlookupd_commands_total"].GetMetric() {
		for _, lp := range m.GetLabel() {
			if lp.GetName() == "command" && !labels[lp.GetValue()] {
				t.Errorf("command label %q is neither a row's name nor \"other\"", lp.GetValue())
			}
		}
	}
}

// TestV1IdentifyCheckedBeforeParams checks the order SPEC §4 implies: a
// command that needs IDENTIFY is refused for that before its parameters are
// looked at.
func TestV1IdentifyCheckedBeforeParams(t *testing.T) {
	l := startLookupd(t)
	for _, line := range []string{"REGISTER\n", "REGISTER bad*topic\n", "UNREGISTER\n", "UNREGISTER t bad*channel\n"} {
		t.Run(strings.TrimSpace(line), func(t *testing.T) {
			c := l.dial(t)
			c.Send(line)
			c.ExpectError("E_INVALID client must IDENTIFY")
		})
	}
}
