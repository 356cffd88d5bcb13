package archive_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/understudy/understudy/agent/internal/archive"
	"github.com/understudy/understudy/agent/internal/backup"
)

// BenchmarkCopy archives a 32 MiB snapshot (incompressible files of 1 MiB)
// into an empty archive, on a directory and on versitygw; every chunk is
// uploaded.
func BenchmarkCopy(b *testing.B) {
	b.Run("fs", func(b *testing.B) { benchmarkCopy(b, newFS) })
	b.Run("s3", func(b *testing.B) {
		benchmarkCopy(b, func(t testing.TB) archive.Backend { return versitygw(t).backend(t) })
	})
}

func benchmarkCopy(b *testing.B, newBackend func(testing.TB) archive.Backend) {
	src := b.TempDir()
	const files, size = 32, 1 << 20
	for i := range files {
		writeFile(b, filepath.Join(src, fmt.Sprintf("assets/a%02d.bin", i)), randBytes(uint64(i), size))
	}
	st := newStore(b, nil)
	if _, err := backup.Run(b.Context(), st, src, backup.Options{Dataset: "grid", Host: "h"}); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(files * size)
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		bk := newBackend(b)
		b.StartTimer()
		if _, err := archive.Copy(b.Context(), st, bk, archive.CopyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
