package test

import (
	"encoding/binary"
	"fmt"
	"io"
)

// maxFrameSize bounds the replies ReadFrame accepts, far above any the
// daemon sends, so that a corrupt size cannot make a test allocate much.
const maxFrameSize = 1 << 20

// ReadFrame reads one V1 reply from r: a 4-byte big-endian length, then
// that many bytes.
func ReadFrame(r io.Reader) (string, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return "", err
	}
	n := binary.BigEndian.Uint32(size[:])
	if n > maxFrameSize {
		return "", fmt.Errorf("reply of %d bytes, more than %d", n, maxFrameSize)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", err
	}
	return string(buf), nil
}
