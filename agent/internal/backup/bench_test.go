package backup_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/understudy/understudy/agent/internal/backup"
	"github.com/understudy/understudy/pkg/store"
)

// genDataset writes a deterministic grid-like dataset of about size bytes:
// incompressible region archives, compressible database-like files, and
// many small assets with duplicates. It returns the bytes written.
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
	asset := make([]byte, 40<<10)
	for i := 0; total < size; i++ {
		var data []byte
		var name string
		switch i % 4 {
		case 0:
			data = make([]byte, 8<<20)
			fill(data, false)
			name = fmt.Sprintf("regions/r%03d.oar", i)
		case 1:
			data = make([]byte, 4<<20)
			fill(data, true)
			name = fmt.Sprintf("db/table%03d.ibd", i)
		default:
			for j := range 32 {
				if j%4 != 0 {
					fill(asset, j%2 == 0)
				}
				p := filepath.Join(dir, fmt.Sprintf("assets/%03d/%02d.bin", i, j))
				os.MkdirAll(filepath.Dir(p), 0o755)
				if err := os.WriteFile(p, asset, 0o644); err != nil {
					tb.Fatal(err)
				}
				total += int64(len(asset))
			}
			continue
		}
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			tb.Fatal(err)
		}
		total += int64(len(data))
	}
	return total
}

func BenchmarkBackup(b *testing.B) {
	src := filepath.Join(b.TempDir(), "src")
	n := genDataset(b, src, 128<<20)
	for _, tc := range []struct {
		name string
		key  []byte
	}{{"plain", nil}, {"encrypted", []byte("0123456789abcdef0123456789abcdef")}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(n)
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				dir := filepath.Join(b.TempDir(), "store")
				store.Init(dir, store.InitOptions{Key: tc.key})
				st, err := store.Open(dir, store.Options{Key: tc.key})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := backup.Run(b.Context(), st, src, backup.Options{Dataset: "bench"}); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				st.Close()
				os.RemoveAll(dir)
				b.StartTimer()
			}
		})
	}
}
