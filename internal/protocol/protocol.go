// Package protocol holds the pieces of the NSQ lookup wire protocol shared by
// the daemon and its tests: the magic, response framing, client errors and
// topic/channel name rules.
package protocol

import (
	"encoding/binary"
	"fmt"
	"io"
)

// MagicV1 is the 4-byte preamble a client sends before its first command.
const MagicV1 = "  V1"

// ClientErr is an error reported to a client as a "CODE description" frame.
// Every V1 error is fatal: the connection is closed after the frame is sent.
type ClientErr struct {
	// Code is the wire error code, e.g. "E_INVALID".
	Code string
	// Desc is the human readable description following the code.
	Desc string
	// Cause is the underlying error, for logs only; it is never sent.
	Cause error
}

// NewClientErr returns a ClientErr wrapping cause (which may be nil).
func NewClientErr(cause error, code, desc string) *ClientErr {
	return &ClientErr{Code: code, Desc: desc, Cause: cause}
}

// Error returns the text sent on the wire: code, a space, description.
func (e *ClientErr) Error() string {
	return e.Code + " " + e.Desc
}

// Unwrap returns the underlying cause.
func (e *ClientErr) Unwrap() error { return e.Cause }

// SendResponse writes data as one frame: a 4-byte big-endian length followed
// by the bytes. It returns the number of bytes written.
func SendResponse(w io.Writer, data []byte) (int, error) {
	buf := make([]byte, 4+len(data))
	binary.BigEndian.PutUint32(buf, uint32(len(data)))
	copy(buf[4:], data)
	n, err := w.Write(buf)
	if err != nil {
		return n, fmt.Errorf("writing %d byte response: %w", len(data), err)
	}
	return n, nil
}
