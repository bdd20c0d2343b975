package test

import (
	"encoding/binary"
	"io"
)

// ReadFrame reads one V1 reply from r: a 4-byte big-endian length, then
// that many bytes.
func ReadFrame(r io.Reader) (string, error) {
	var size [4]byte
	if _, err := io.ReadFull(r, size[:]); err != nil {
		return "", err
	}
	buf := make([]byte, binary.BigEndian.Uint32(size[:]))
	if _, err := io.ReadFull(r, buf); err != nil {
		return "", err
	}
	return string(buf), nil
}
