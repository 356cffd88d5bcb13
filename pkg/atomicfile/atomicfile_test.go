package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	if err := Write(p, []byte("one"), ".tmp-"); err != nil {
		t.Fatal(err)
	}
	// A reader holding the old file keeps the old content.
	old, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	if err := Write(p, []byte("two"), ".tmp-"); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(p)
	buf := make([]byte, 3)
	old.Read(buf)
	if string(b) != "two" || string(buf) != "one" {
		t.Fatalf("new %q, old reader %q", b, buf)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			t.Fatalf("temporary file left: %s", e.Name())
		}
	}
	// A directory that cannot be written to: an error, the old file stays.
	if err := Write(filepath.Join(dir, "missing", "x"), []byte("z"), ".tmp-"); err == nil {
		t.Fatal("write into a missing directory succeeded")
	}
}
