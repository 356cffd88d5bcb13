package snapshot

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/understudy/understudy/pkg/chunk"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s changed: the format is pinned; bump its version and update deliberately.\ngot:\n%s\nwant:\n%s", name, got, want)
	}
}

func sampleNodes() []*Node {
	id1 := chunk.Sum([]byte("one"))
	id2 := chunk.Sum([]byte("two"))
	return []*Node{
		{Path: ".", Type: TypeDir, Mode: 0o755, UID: 0, GID: 0, MTime: 1700000000123456789},
		{Path: "db", Type: TypeDir, Mode: 0o2750, UID: 27, GID: 27, MTime: 1700000001000000000},
		{Path: "db/ibdata1", Type: TypeFile, Mode: 0o640, UID: 27, GID: 27, MTime: 1700000002000000000, Size: 1 << 30,
			Chunks: []ChunkRef{{ID: id1, Offset: 0, Length: 3}, {ID: id2, Offset: 1 << 29, Length: 3}}, Inode: 1234, CTime: 1700000002500000000},
		{Path: "db/link", Type: TypeHardlink, Mode: 0o640, UID: 27, GID: 27, MTime: 1700000002000000000, Link: "db/ibdata1"},
		{Path: "empty", Type: TypeFile, Mode: 0o600, MTime: 1700000003000000000, Inode: 99, CTime: 1700000003000000000},
		{Path: "odd \\ name\n\xff", Type: TypeSymlink, Mode: 0o777, MTime: 1700000004000000000, Target: "../\xfe target"},
	}
}

func TestManifestGolden(t *testing.T) {
	var buf bytes.Buffer
	enc, err := NewEncoder(&buf)
	if err != nil {
		t.Fatal(err)
	}
	nodes := sampleNodes()
	for _, n := range nodes {
		if err := enc.Encode(n); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Flush(); err != nil {
		t.Fatal(err)
	}
	golden(t, "manifest-v1.golden", buf.Bytes())

	dec, err := NewDecoder(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		n, err := dec.Next()
		if err == io.EOF {
			if i != len(nodes) {
				t.Fatalf("decoded %d nodes, want %d", i, len(nodes))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(n, nodes[i]) {
			t.Errorf("node %d: got %+v, want %+v", i, n, nodes[i])
		}
	}
}

func TestRecordGolden(t *testing.T) {
	r := Record{
		Version: RecordVersion, ID: "0123456789abcdef0123456789abcdef", Dataset: "robust-db", Host: "host-a",
		Class: chunk.ClassTransactional, Time: time.Date(2026, 11, 22, 1, 2, 3, 4, time.UTC),
		Parent: "fedcba9876543210fedcba9876543210", Tags: []string{"hourly"}, Source: "/var/lib/mysql",
		Tree:  []chunk.ID{chunk.Sum([]byte("tree"))},
		Stats: Stats{Files: 10, Dirs: 2, Bytes: 1 << 30, FilesUnchanged: 8, FilesRead: 2, BytesRead: 1 << 20, ChunksNew: 3, BytesNew: 3 << 16, BytesAdded: 100000, Seconds: 1.5},
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "record-v1.golden", append(b, '\n'))
	var back Record
	if err := json.Unmarshal(b, &back); err != nil || !reflect.DeepEqual(back, r) {
		t.Errorf("record round trip: %v\n%+v", err, back)
	}
}

func TestCompareAndValidPath(t *testing.T) {
	ordered := []string{".", "a", "a/b", "a/b/c", "a/c", "a-b", "a.b", "a0", "b", "b/a"}
	for i := range ordered {
		for j := range ordered {
			got := Compare(ordered[i], ordered[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got != want {
				t.Errorf("Compare(%q, %q) = %d, want %d", ordered[i], ordered[j], got, want)
			}
		}
	}
	for _, p := range []string{"", "/", "/a", "a/", "a//b", "..", "a/..", "./a", "a/./b", "a\x00"} {
		if ValidPath(p) == nil {
			t.Errorf("ValidPath(%q) accepted", p)
		}
	}
	for _, p := range []string{".", "a", "a/b", "..a", "a..", ".hidden/x", "sp ace/\\"} {
		if err := ValidPath(p); err != nil {
			t.Errorf("ValidPath(%q) = %v", p, err)
		}
	}
}
