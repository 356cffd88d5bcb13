package restore_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/understudy/understudy/agent/internal/backup"
	"github.com/understudy/understudy/agent/internal/restore"
)

// genDataset writes a deterministic dataset of about size bytes: 8 MiB
// incompressible archives, 4 MiB compressible tables, and 40 KiB assets.
func genDataset(tb testing.TB, dir string, size int64) int64 {
	tb.Helper()
	r := rand.New(rand.NewPCG(2026, 11))
	fill := func(b []byte, compressible bool) {
		for i := 0; i < len(b); i += 8 {
			v := r.Uint64()
			if compressible {
				v &= 0x0f0f0f0f0f0f0f0f
			}
			for k := 0; k < 8 && i+k < len(b); k++ {
				b[i+k] = byte(v >> (8 * k))
			}
		}
	}
	var total int64
	put := func(name string, data []byte) {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			tb.Fatal(err)
		}
		total += int64(len(data))
	}
	for i := 0; total < size; i++ {
		switch i % 4 {
		case 0:
			d := make([]byte, 8<<20)
			fill(d, false)
			put(fmt.Sprintf("regions/r%03d.oar", i), d)
		case 1:
			d := make([]byte, 4<<20)
			fill(d, true)
			put(fmt.Sprintf("db/t%03d.ibd", i), d)
		default:
			d := make([]byte, 40<<10)
			for j := range 32 {
				fill(d, j%2 == 0)
				put(fmt.Sprintf("assets/%03d/%02d.bin", i, j), d)
			}
		}
	}
	return total
}

func BenchmarkRestore(b *testing.B) {
	src := filepath.Join(b.TempDir(), "src")
	n := genDataset(b, src, 128<<20)
	st := newStore(b, []byte("0123456789abcdef0123456789abcdef"))
	rec, err := backup.Run(b.Context(), st, src, backup.Options{Dataset: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		dst := filepath.Join(b.TempDir(), "dst")
		b.StartTimer()
		if _, err := restore.Run(b.Context(), st, rec, dst, restore.Options{}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.RemoveAll(dst)
		b.StartTimer()
	}
}
