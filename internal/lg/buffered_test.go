package lg

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func TestBufferedWriterFlushesOnItsOwn(t *testing.T) {
	var out lockedBuffer
	w := NewBufferedWriter(&out, 10*time.Millisecond)
	w.Write([]byte("one\n"))
	w.Write([]byte("two\n"))
	deadline := time.Now().Add(5 * time.Second)
	for out.String() != "one\ntwo\n" {
		if time.Now().After(deadline) {
			t.Fatalf("lines not flushed, have %q", out.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBufferedWriterExplicitFlushAndLargeWrites(t *testing.T) {
	var out lockedBuffer
	w := NewBufferedWriter(&out, time.Hour)
	w.Write([]byte("short\n"))
	if got := out.String(); got != "" {
		t.Fatalf("written before flush: %q", got)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "short\n" {
		t.Fatalf("after flush: %q", got)
	}
	big := strings.Repeat("x", 100*1024) + "\n"
	w.Write([]byte(big))
	if got := out.String(); got != "short\n"+big {
		t.Fatalf("a write larger than the buffer must go out at once, have %d bytes", len(got))
	}
}
