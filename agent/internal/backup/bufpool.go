package backup

import (
	"math/bits"
	"sync"
)

// chunkBufs recycles the buffers chunks travel in from the readers to the
// putters, in power-of-two size classes from 4 KiB to 16 MiB: a backup
// moves every byte it reads through one, and fresh buffers cost zeroing,
// page faults and garbage collection.
var chunkBufs [13]sync.Pool

const minBufShift = 12 // 4 KiB

func bufClass(n int) int {
	if n <= 1<<minBufShift {
		return 0
	}
	return bits.Len(uint(n-1)) - minBufShift
}

// getBuf returns a buffer of length n.
func getBuf(n int) []byte {
	c := bufClass(n)
	if c >= len(chunkBufs) {
		return make([]byte, n)
	}
	if p, ok := chunkBufs[c].Get().(*[]byte); ok {
		return (*p)[:n]
	}
	return make([]byte, n, 1<<(c+minBufShift))
}

// putBuf gives back a buffer from getBuf.
func putBuf(b []byte) {
	c := bufClass(cap(b))
	if c >= len(chunkBufs) || cap(b) != 1<<(c+minBufShift) {
		return
	}
	b = b[:0]
	chunkBufs[c].Put(&b)
}
