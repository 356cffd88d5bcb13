package snapshot

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecoder feeds arbitrary bytes to the manifest decoder: it must never
// panic, and every node it returns must have a safe path.
func FuzzDecoder(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join("testdata", "manifest-v1.golden")); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"understudy_manifest":1}` + "\n" + `{"path":"../x","type":"file"}`))
	f.Add([]byte(`{"understudy_manifest":1}` + "\n" + `{"path":"","path_b64":"Li4vZXNj","type":"dir"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := NewDecoder(bytes.NewReader(data))
		if err != nil {
			return
		}
		for range 1000 {
			n, err := d.Next()
			if errors.Is(err, io.EOF) || err != nil {
				return
			}
			if ValidPath(n.Path) != nil {
				t.Fatalf("decoder returned unsafe path %q", n.Path)
			}
		}
	})
}
