package wire_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/wire"
)

var update = flag.Bool("update", false, "rewrite golden files")

func id(b byte) chunk.ID {
	var x chunk.ID
	for i := range x {
		x[i] = b + byte(i)
	}
	return x
}

// TestGolden pins the JSON of every message.
func TestGolden(t *testing.T) {
	rec := &snapshot.Record{
		Version: snapshot.RecordVersion, ID: "0123456789abcdef0123456789abcdef", Dataset: "robust-db",
		Host: "host-a", Class: chunk.ClassTransactional, Time: time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC),
		Parent: "fedcba9876543210fedcba9876543210", Source: "/var/lib/mysql", Tree: []chunk.ID{id(1)},
		Stats: snapshot.Stats{Files: 3, Bytes: 4096},
	}
	cases := []struct {
		name string
		msg  any
		zero any
	}{
		{"hello", wire.Hello{Version: wire.Version, Host: "host-b", Polynomial: 0x3DA3358B4DC173, Encrypted: true}, &wire.Hello{}},
		{"offer", wire.Offer{Version: wire.Version, Dataset: "robust-db", Snapshot: rec.ID, Chunks: []chunk.ID{id(1), id(2)}}, &wire.Offer{}},
		{"offer-base", wire.Offer{Version: wire.Version, Dataset: "robust-db", Snapshot: rec.ID, Base: rec.Parent, Chunks: []chunk.ID{id(2)}}, &wire.Offer{}},
		{"want", wire.Want{Missing: []chunk.ID{id(2)}}, &wire.Want{}},
		{"want-base-missing", wire.Want{Missing: []chunk.ID{}, BaseMissing: true}, &wire.Want{}},
		{"received", wire.Received{Chunks: 1, Bytes: 1234}, &wire.Received{}},
		{"commit", wire.Commit{Version: wire.Version, Record: rec}, &wire.Commit{}},
		{"committed", wire.Committed{Snapshot: rec.ID, WarmCopy: true}, &wire.Committed{}},
		{"pull", wire.Pull{Version: wire.Version, Dataset: "robust-db", Host: "host-a"}, &wire.Pull{}},
		{"error", wire.Error{Error: "snapshot 01234567 needs 01020304", Code: wire.CodeIncomplete}, &wire.Error{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := json.MarshalIndent(c.msg, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, '\n')
			path := filepath.Join("testdata", c.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s changed:\n%s\nwant:\n%s", c.name, got, want)
			}
			// The golden file decodes back to the message.
			if err := json.Unmarshal(want, c.zero); err != nil {
				t.Fatal(err)
			}
			again, _ := json.MarshalIndent(c.zero, "", "  ")
			if !bytes.Equal(append(again, '\n'), want) {
				t.Errorf("%s does not round-trip:\n%s", c.name, again)
			}
		})
	}
}

func TestFrames(t *testing.T) {
	var buf bytes.Buffer
	blobs := [][]byte{[]byte("first"), {}, bytes.Repeat([]byte{7}, 70000)}
	for i, b := range blobs {
		if err := wire.WriteFrame(&buf, id(byte(i+1)), b); err != nil {
			t.Fatal(err)
		}
	}
	if err := wire.WriteEnd(&buf, len(blobs)); err != nil {
		t.Fatal(err)
	}
	full := buf.Bytes()

	fr := wire.NewFrameReader(bytes.NewReader(full))
	for i, want := range blobs {
		gotID, got, err := fr.Next()
		if err != nil || gotID != id(byte(i+1)) || !bytes.Equal(got, want) {
			t.Fatalf("frame %d: id %s, %d bytes, err %v", i, gotID.Short(), len(got), err)
		}
	}
	if _, _, err := fr.Next(); err != io.EOF {
		t.Fatalf("after the end frame: %v, want io.EOF", err)
	}

	t.Run("cut", func(t *testing.T) {
		for _, cut := range []int{0, 10, wire.FrameHeaderSize + 2, len(full) - wire.FrameHeaderSize, len(full) - 1} {
			fr := wire.NewFrameReader(bytes.NewReader(full[:cut]))
			var err error
			for err == nil {
				_, _, err = fr.Next()
			}
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("stream cut at %d: %v, want unexpected EOF", cut, err)
			}
		}
	})
	t.Run("count", func(t *testing.T) {
		var b bytes.Buffer
		wire.WriteFrame(&b, id(1), []byte("x"))
		wire.WriteEnd(&b, 2)
		fr := wire.NewFrameReader(&b)
		fr.Next()
		if _, _, err := fr.Next(); !errors.Is(err, wire.ErrFrameCount) {
			t.Errorf("wrong count: %v", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		h := make([]byte, wire.FrameHeaderSize)
		h[0] = 1
		h[chunk.Size] = 0xff
		if _, _, err := wire.NewFrameReader(bytes.NewReader(h)).Next(); !errors.Is(err, wire.ErrFrameTooLarge) {
			t.Errorf("huge frame: %v", err)
		}
	})
}
