package store

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/understudy/understudy/pkg/atomicfile"
	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/directio"
)

// A pack file is
//
//	"USPACK1\n" | blob ... | trailer | uint32 LE trailer length | "USPKEND\n"
//
// The trailer lists the pack's blobs (ID, offset, stored length, plaintext
// length) and is sealed like a record, with the pack's name as additional
// data. Packs are self-describing, so the index can always be rebuilt from
// them.
var (
	packMagic = []byte("USPACK1\n")
	packEnd   = []byte("USPKEND\n")
)

const (
	packFooterSize = 4 + 8
	entrySize      = chunk.Size + 12
	// DefaultPackSize is the size at which a pack is closed.
	DefaultPackSize = 32 << 20
)

// PackID names a pack file: 16 random bytes.
type PackID [16]byte

func (p PackID) String() string { return hex.EncodeToString(p[:]) }

func newPackID() PackID {
	var p PackID
	if _, err := rand.Read(p[:]); err != nil {
		panic("store: no randomness for pack id: " + err.Error())
	}
	return p
}

func parsePackID(s string) (PackID, bool) {
	var p PackID
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(p) {
		return p, false
	}
	copy(p[:], b)
	return p, true
}

// Location says where a chunk's stored blob lives.
type Location struct {
	Pack      PackID
	Offset    uint32 // of the blob in the pack
	Length    uint32 // stored bytes
	RawLength uint32 // plaintext bytes
}

// Compare orders locations by pack and offset: the order in which packs
// are read front to back.
func (l Location) Compare(o Location) int {
	if c := bytes.Compare(l.Pack[:], o.Pack[:]); c != 0 {
		return c
	}
	return cmp.Compare(l.Offset, o.Offset)
}

// PackInfo is what the index records about a pack.
type PackInfo struct {
	Size  int64 // bytes of the whole file
	Blobs int
}

func packPath(dir string, p PackID) string {
	s := p.String()
	return filepath.Join(dir, packsDir, s[:2], s+".pack")
}

type packEntry struct {
	id  chunk.ID
	loc Location
}

func encodeTrailer(entries []packEntry) []byte {
	b := make([]byte, 4, 4+len(entries)*entrySize)
	binary.LittleEndian.PutUint32(b, uint32(len(entries)))
	for _, e := range entries {
		b = append(b, e.id[:]...)
		b = binary.LittleEndian.AppendUint32(b, e.loc.Offset)
		b = binary.LittleEndian.AppendUint32(b, e.loc.Length)
		b = binary.LittleEndian.AppendUint32(b, e.loc.RawLength)
	}
	return b
}

// readTrailer reads and checks a pack's trailer. size is the file size.
func (c *codec) readTrailer(f io.ReaderAt, pid PackID, size int64) ([]packEntry, error) {
	if size < int64(len(packMagic)+packFooterSize) {
		return nil, fmt.Errorf("%w: pack %s: truncated (%d bytes)", ErrCorrupt, pid, size)
	}
	var head [8]byte
	if _, err := f.ReadAt(head[:], 0); err != nil || !bytes.Equal(head[:], packMagic) {
		return nil, fmt.Errorf("%w: pack %s: bad header", ErrCorrupt, pid)
	}
	var foot [packFooterSize]byte
	if _, err := f.ReadAt(foot[:], size-packFooterSize); err != nil {
		return nil, fmt.Errorf("%w: pack %s: read footer: %v", ErrCorrupt, pid, err)
	}
	if !bytes.Equal(foot[4:], packEnd) {
		return nil, fmt.Errorf("%w: pack %s: truncated or bad footer", ErrCorrupt, pid)
	}
	tlen := int64(binary.LittleEndian.Uint32(foot[:4]))
	tstart := size - packFooterSize - tlen
	if tlen < 1 || tstart < int64(len(packMagic)) {
		return nil, fmt.Errorf("%w: pack %s: bad trailer length", ErrCorrupt, pid)
	}
	sealed := make([]byte, tlen)
	if _, err := f.ReadAt(sealed, tstart); err != nil {
		return nil, fmt.Errorf("%w: pack %s: read trailer: %v", ErrCorrupt, pid, err)
	}
	t, err := c.openRecord("pack/"+pid.String(), sealed)
	if err != nil {
		return nil, fmt.Errorf("pack %s trailer: %w", pid, err)
	}
	if len(t) < 4 {
		return nil, fmt.Errorf("%w: pack %s: short trailer", ErrCorrupt, pid)
	}
	n := int(binary.LittleEndian.Uint32(t))
	if len(t) != 4+n*entrySize {
		return nil, fmt.Errorf("%w: pack %s: trailer length mismatch", ErrCorrupt, pid)
	}
	entries := make([]packEntry, n)
	for i := range entries {
		r := t[4+i*entrySize:]
		copy(entries[i].id[:], r)
		entries[i].loc = Location{
			Pack:      pid,
			Offset:    binary.LittleEndian.Uint32(r[32:]),
			Length:    binary.LittleEndian.Uint32(r[36:]),
			RawLength: binary.LittleEndian.Uint32(r[40:]),
		}
		if int64(entries[i].loc.Offset)+int64(entries[i].loc.Length) > tstart {
			return nil, fmt.Errorf("%w: pack %s: trailer entry beyond data", ErrCorrupt, pid)
		}
	}
	return entries, nil
}

// packWriter appends blobs to a temporary pack file.
//
// The pack is written with O_DIRECT where the filesystem allows it
// ([directio.AsyncWriter]): a pack is written once, made durable at once
// and read back rarely, so copying it through the page cache only costs
// CPU (on a backup, buffered pack writes were the largest single
// system-call cost). Its buffers are written in the background, so that
// the putter adding a chunk does not wait for the device (with the
// writer's lock held, every other putter would wait too).
type packWriter struct {
	id      PackID
	f       *os.File
	tmp     string
	w       *directio.AsyncWriter
	bufs    []*[]byte
	size    int64
	entries []packEntry
}

// packBufSize is the size of a pack's direct writes; packBufs is how many
// buffers a pack being written holds.
const (
	packBufSize = 2 << 20
	packBufs    = 2
)

// packBufPool recycles pack write buffers from pack to pack.
var packBufPool = sync.Pool{New: func() any {
	b := directio.AlignedBuf(packBufSize)
	return &b
}}

func newPackWriter(dir string) (*packWriter, error) {
	id := newPackID()
	tmp := filepath.Join(dir, tmpDir, id.String()+".pack.tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: new pack: %w", err)
	}
	pw := &packWriter{id: id, f: f, tmp: tmp}
	bufs := make([][]byte, packBufs)
	for i := range bufs {
		bp := packBufPool.Get().(*[]byte)
		pw.bufs = append(pw.bufs, bp)
		bufs[i] = *bp
	}
	pw.w = directio.NewAsyncWriter(f, bufs...)
	if _, err := pw.w.Write(packMagic); err != nil {
		pw.abort()
		return nil, fmt.Errorf("store: new pack: %w", err)
	}
	pw.size = int64(len(packMagic))
	return pw, nil
}

func (pw *packWriter) add(id chunk.ID, stored []byte, rawLen int) error {
	pw.entries = append(pw.entries, packEntry{id: id, loc: Location{
		Pack: pw.id, Offset: uint32(pw.size), Length: uint32(len(stored)), RawLength: uint32(rawLen),
	}})
	pw.size += int64(len(stored))
	_, err := pw.w.Write(stored)
	return err
}

// finish writes the trailer, syncs the file, and renames it into packs/.
// After finish returns nil the pack is durable under its final name; only
// then may the index name it.
func (pw *packWriter) finish(c *codec, dir string) (PackInfo, error) {
	sealed := c.sealRecord("pack/"+pw.id.String(), encodeTrailer(pw.entries))
	footer := append(sealed, binary.LittleEndian.AppendUint32(nil, uint32(len(sealed)))...)
	footer = append(footer, packEnd...)
	pw.size += int64(len(footer))
	_, err := pw.w.Write(footer)
	if err == nil {
		err = pw.w.Flush()
	}
	pw.release()
	if err == nil {
		err = pw.f.Sync()
	}
	if cerr := pw.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(pw.tmp)
		return PackInfo{}, fmt.Errorf("store: write pack %s: %w", pw.id, err)
	}
	final := packPath(dir, pw.id)
	if err := os.MkdirAll(filepath.Dir(final), 0o700); err != nil {
		return PackInfo{}, fmt.Errorf("store: pack dir: %w", err)
	}
	if err := os.Rename(pw.tmp, final); err != nil {
		return PackInfo{}, fmt.Errorf("store: rename pack %s: %w", pw.id, err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(final)); err != nil {
		return PackInfo{}, fmt.Errorf("store: sync pack dir: %w", err)
	}
	return PackInfo{Size: pw.size, Blobs: len(pw.entries)}, nil
}

// release waits for the pack's background writes and gives its buffers
// back to the pool.
func (pw *packWriter) release() {
	if pw.w != nil {
		pw.w.Wait()
	}
	for _, bp := range pw.bufs {
		packBufPool.Put(bp)
	}
	pw.bufs = nil
}

func (pw *packWriter) abort() {
	pw.release()
	pw.f.Close()
	os.Remove(pw.tmp)
}

// listPackFiles returns every pack file present under packs/.
func listPackFiles(dir string) (map[PackID]int64, error) {
	out := map[PackID]int64{}
	subs, err := os.ReadDir(filepath.Join(dir, packsDir))
	if err != nil {
		return nil, fmt.Errorf("store: list packs: %w", err)
	}
	for _, sd := range subs {
		if !sd.IsDir() {
			continue
		}
		ents, err := os.ReadDir(filepath.Join(dir, packsDir, sd.Name()))
		if err != nil {
			return nil, fmt.Errorf("store: list packs: %w", err)
		}
		for _, e := range ents {
			name, ok := strings.CutSuffix(e.Name(), ".pack")
			if !ok {
				continue
			}
			pid, ok := parsePackID(name)
			if !ok {
				continue
			}
			info, err := e.Info()
			if err != nil {
				continue
			}
			out[pid] = info.Size()
		}
	}
	return out, nil
}
