package snapshot

import (
	"bufio"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/understudy/understudy/pkg/chunk"
)

// ManifestVersion is the version of the manifest format this build writes
// and reads.
const ManifestVersion = 1

// NodeType is the kind of a manifest entry.
type NodeType string

// Node types.
const (
	TypeDir      NodeType = "dir"
	TypeFile     NodeType = "file"
	TypeSymlink  NodeType = "symlink"
	TypeHardlink NodeType = "hardlink" // another name for an earlier file
)

// ChunkRef places one chunk in a file. Bytes of the file not covered by any
// chunk are holes (zeros) and are restored sparse.
type ChunkRef struct {
	ID     chunk.ID `json:"id"`
	Offset int64    `json:"off"`
	Length int64    `json:"len"`
}

// UnmarshalJSON reads a chunk reference. References make up most of a
// large manifest, so the exact form the encoder writes,
// {"id":"<64 hex digits>","off":N,"len":N}, is parsed directly; anything
// else goes through encoding/json.
func (c *ChunkRef) UnmarshalJSON(b []byte) error {
	if ok := c.parseFast(b); ok {
		return nil
	}
	type plain ChunkRef
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*c = ChunkRef(p)
	return nil
}

func (c *ChunkRef) parseFast(b []byte) bool {
	const idPrefix, offKey, lenKey = `{"id":"`, `","off":`, `,"len":`
	if len(b) < len(idPrefix)+2*chunk.Size+len(offKey)+1+len(lenKey)+2 || string(b[:len(idPrefix)]) != idPrefix {
		return false
	}
	b = b[len(idPrefix):]
	if _, err := hex.Decode(c.ID[:], b[:2*chunk.Size]); err != nil {
		return false
	}
	b = b[2*chunk.Size:]
	if string(b[:len(offKey)]) != offKey {
		return false
	}
	off, b, ok := parseInt(b[len(offKey):])
	if !ok || len(b) < len(lenKey) || string(b[:len(lenKey)]) != lenKey {
		return false
	}
	n, b, ok := parseInt(b[len(lenKey):])
	if !ok || string(b) != "}" {
		return false
	}
	c.Offset, c.Length = off, n
	return true
}

// parseInt reads a non-negative decimal integer as encoding/json writes it
// (no sign, no leading zeros) and returns the rest of b.
func parseInt(b []byte) (int64, []byte, bool) {
	var v int64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if i == 18 {
			return 0, nil, false // leave large values to encoding/json
		}
		v = v*10 + int64(b[i]-'0')
	}
	if i == 0 || (i > 1 && b[0] == '0') {
		return 0, nil, false
	}
	return v, b[i:], true
}

// Node is one manifest entry.
type Node struct {
	// Path is relative to the dataset root, slash-separated; the root
	// itself is ".".
	Path string   `json:"path"`
	Type NodeType `json:"type"`
	// Mode holds the permission bits plus setuid, setgid and sticky
	// (Unix 07777).
	Mode  uint32 `json:"mode"`
	UID   uint32 `json:"uid"`
	GID   uint32 `json:"gid"`
	MTime int64  `json:"mtime"` // Unix nanoseconds
	// Size is the file size, holes included (files only).
	Size   int64      `json:"size,omitempty"`
	Chunks []ChunkRef `json:"chunks,omitempty"`
	// Target is a symlink's target, as stored in the link.
	Target string `json:"target,omitempty"`
	// Link is, for a hard link, the Path of the file node it shares data
	// with; that node comes earlier in the manifest.
	Link string `json:"link,omitempty"`
	// Inode and CTime (Unix nanoseconds) let the next backup see that a
	// file is unchanged without reading it.
	Inode uint64 `json:"inode,omitempty"`
	CTime int64  `json:"ctime,omitempty"`
}

type header struct {
	Manifest int `json:"understudy_manifest"`
}

// ErrBadManifest is returned for manifests that cannot be decoded or hold
// entries this build refuses (unknown types, unsafe paths).
var ErrBadManifest = errors.New("snapshot: bad manifest")

// Encoder writes a manifest.
type Encoder struct {
	bw  *bufio.Writer
	enc *json.Encoder
}

// NewEncoder writes the manifest header to w and returns an Encoder.
func NewEncoder(w io.Writer) (*Encoder, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	e := &Encoder{bw: bw, enc: json.NewEncoder(bw)}
	e.enc.SetEscapeHTML(false)
	if err := e.enc.Encode(header{Manifest: ManifestVersion}); err != nil {
		return nil, err
	}
	return e, nil
}

// Encode appends one node.
func (e *Encoder) Encode(n *Node) error { return e.enc.Encode(n) }

// Flush writes buffered output.
func (e *Encoder) Flush() error { return e.bw.Flush() }

// Decoder reads a manifest.
type Decoder struct {
	dec *json.Decoder
}

// NewDecoder reads and checks the header.
func NewDecoder(r io.Reader) (*Decoder, error) {
	d := &Decoder{dec: json.NewDecoder(bufio.NewReaderSize(r, 64<<10))}
	var h header
	if err := d.dec.Decode(&h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrBadManifest, err)
	}
	if h.Manifest != ManifestVersion {
		return nil, fmt.Errorf("%w: version %d, this build reads %d", ErrBadManifest, h.Manifest, ManifestVersion)
	}
	return d, nil
}

// Next returns the next node, or io.EOF after the last one. Each node's type
// and path are checked ([ValidPath]).
func (d *Decoder) Next() (*Node, error) {
	// Decoding into the alias directly reads each line once; going
	// through Node.UnmarshalJSON would scan it twice.
	var c nodeAlias
	j := nodeJSON{nodeAlias: &c}
	if err := d.dec.Decode(&j); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("%w: %v", ErrBadManifest, err)
	}
	if err := errors.Join(fromB64(j.PathB64, &c.Path), fromB64(j.TargetB64, &c.Target), fromB64(j.LinkB64, &c.Link)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadManifest, err)
	}
	n := Node(c)
	switch n.Type {
	case TypeDir, TypeFile, TypeSymlink, TypeHardlink:
	default:
		return nil, fmt.Errorf("%w: %q has unknown type %q", ErrBadManifest, n.Path, n.Type)
	}
	if err := ValidPath(n.Path); err != nil {
		return nil, err
	}
	if n.Type == TypeHardlink {
		if err := ValidPath(n.Link); err != nil || n.Link == "." {
			return nil, fmt.Errorf("%w: hard link %q to %q", ErrUnsafePath, n.Path, n.Link)
		}
	}
	return &n, nil
}

// ErrUnsafePath is returned for a manifest path that could escape the
// restore target or is otherwise not a plain relative path.
var ErrUnsafePath = fmt.Errorf("%w: unsafe path", ErrBadManifest)

// ValidPath checks a manifest path: "." or slash-separated names, none
// empty, ".", ".." or holding a NUL byte, not absolute.
func ValidPath(p string) error {
	if p == "." {
		return nil
	}
	if p == "" || strings.HasPrefix(p, "/") || len(p) > 64<<10 {
		return fmt.Errorf("%w: %q", ErrUnsafePath, p)
	}
	for name := range strings.SplitSeq(p, "/") {
		if name == "" || name == "." || name == ".." || strings.IndexByte(name, 0) >= 0 {
			return fmt.Errorf("%w: %q", ErrUnsafePath, p)
		}
	}
	return nil
}

// Compare orders manifest paths in walk order: the root first, a directory
// before its contents, siblings sorted bytewise by name.
func Compare(a, b string) int {
	if a == b {
		return 0
	}
	if a == "." {
		return -1
	}
	if b == "." {
		return 1
	}
	for {
		an, arest, aok := strings.Cut(a, "/")
		bn, brest, bok := strings.Cut(b, "/")
		if c := strings.Compare(an, bn); c != 0 {
			return c
		}
		switch {
		case !aok && !bok:
			return 0
		case !aok:
			return -1
		case !bok:
			return 1
		}
		a, b = arest, brest
	}
}

// Join returns the manifest path of name inside directory dir.
func Join(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

// JSON strings hold only UTF-8, but Unix names are arbitrary bytes. Names
// (and symlink targets) that are not valid UTF-8 are written base64-encoded
// in a parallel field instead, so that every name round-trips exactly.
type nodeAlias Node

type nodeJSON struct {
	*nodeAlias
	PathB64   string `json:"path_b64,omitempty"`
	TargetB64 string `json:"target_b64,omitempty"`
	LinkB64   string `json:"link_b64,omitempty"`
}

func toB64(s *string, b64 *string) {
	if !utf8.ValidString(*s) {
		*b64 = base64.StdEncoding.EncodeToString([]byte(*s))
		*s = ""
	}
}

func fromB64(b64 string, s *string) error {
	if b64 == "" {
		return nil
	}
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		return err
	}
	*s = string(b)
	return nil
}

// MarshalJSON writes the node, base64-encoding names that are not UTF-8.
func (n *Node) MarshalJSON() ([]byte, error) {
	c := nodeAlias(*n)
	j := nodeJSON{nodeAlias: &c}
	toB64(&c.Path, &j.PathB64)
	toB64(&c.Target, &j.TargetB64)
	toB64(&c.Link, &j.LinkB64)
	return json.Marshal(j)
}

// UnmarshalJSON reads a node written by MarshalJSON.
func (n *Node) UnmarshalJSON(b []byte) error {
	var c nodeAlias
	j := nodeJSON{nodeAlias: &c}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	if err := errors.Join(fromB64(j.PathB64, &c.Path), fromB64(j.TargetB64, &c.Target), fromB64(j.LinkB64, &c.Link)); err != nil {
		return err
	}
	*n = Node(c)
	return nil
}

// Cursor looks up the nodes of one manifest while another is walked in
// the same order: each Find moves forward only. A read error ends the
// lookups (what follows is then not found), so a damaged manifest costs
// only what it would have saved.
type Cursor struct {
	next func() (*Node, error)
	cur  *Node
	done bool
}

// NewCursor returns a cursor over the nodes next yields, in manifest
// order, until it returns an error (io.EOF at the end).
func NewCursor(next func() (*Node, error)) *Cursor { return &Cursor{next: next} }

// Find returns the node at path, or nil. Calls must come in manifest
// order ([Compare]). A nil cursor finds nothing.
func (c *Cursor) Find(path string) *Node {
	if c == nil {
		return nil
	}
	for !c.done {
		if c.cur == nil {
			n, err := c.next()
			if err != nil {
				c.done = true
				return nil
			}
			c.cur = n
		}
		switch cmp := Compare(c.cur.Path, path); {
		case cmp < 0:
			c.cur = nil
		case cmp == 0:
			n := c.cur
			c.cur = nil
			return n
		default:
			return nil
		}
	}
	return nil
}
