package stream

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
)

// blockHash identifies a block's content: the first 16 bytes of its
// SHA-256. Blocks are hashed over their actual length (the last block of a
// file is usually short), so a hash also pins the block's length.
type blockHash [16]byte

func hashBlock(b []byte) blockHash {
	s := sha256.Sum256(b)
	return blockHash(s[:16])
}

func (h blockHash) MarshalText() ([]byte, error) {
	return []byte(base64.RawStdEncoding.EncodeToString(h[:])), nil
}

func (h *blockHash) UnmarshalText(b []byte) error {
	n, err := base64.RawStdEncoding.Decode(h[:], b)
	if err != nil || n != len(h) || base64.RawStdEncoding.EncodedLen(len(h)) != len(b) {
		return fmt.Errorf("stream: bad block hash %q", b)
	}
	return nil
}
