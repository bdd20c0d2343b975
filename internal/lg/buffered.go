package lg

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// BufferedWriter batches log lines: each Write lands in a buffer that is
// written out within the flush interval, or at once when it fills. A busy
// daemon then makes one write system call per batch of lines instead of one
// per line (every HTTP request and every registration is logged at INFO).
type BufferedWriter struct {
	interval time.Duration

	// mu guards buf and scheduled.
	mu        sync.Mutex
	buf       *bufio.Writer
	scheduled bool
}

// NewBufferedWriter returns a BufferedWriter over w with a 64 KiB buffer that
// flushes at most interval after a line was written.
func NewBufferedWriter(w io.Writer, interval time.Duration) *BufferedWriter {
	return &BufferedWriter{interval: interval, buf: bufio.NewWriterSize(w, 64*1024)}
}

// Write buffers p and makes sure a flush is scheduled.
func (b *BufferedWriter) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	if !b.scheduled && b.buf.Buffered() > 0 {
		b.scheduled = true
		time.AfterFunc(b.interval, func() { b.Flush() })
	}
	return n, err
}

// Flush writes out everything buffered.
func (b *BufferedWriter) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.scheduled = false
	return b.buf.Flush()
}
