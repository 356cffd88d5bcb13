package backup

import "testing"

func TestBufPool(t *testing.T) {
	for _, n := range []int{0, 1, 4096, 4097, 65536, 1<<20 + 1, 16 << 20, 16<<20 + 1} {
		b := getBuf(n)
		if len(b) != n {
			t.Fatalf("getBuf(%d) has length %d", n, len(b))
		}
		if n <= 16<<20 && (cap(b) < n || cap(b) >= 2*n && cap(b) > 4096) {
			t.Errorf("getBuf(%d) has capacity %d", n, cap(b))
		}
		for i := range b {
			b[i] = 1
		}
		putBuf(b)
		if c := getBuf(n); len(c) != n {
			t.Fatalf("recycled getBuf(%d) has length %d", n, len(c))
		}
	}
}
