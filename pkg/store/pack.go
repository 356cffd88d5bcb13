package store

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/understudy/understudy/pkg/atomicfile"
	"github.com/understudy/understudy/pkg/chunk"
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
// Where the filesystem allows it, the pack is written with O_DIRECT from an
// aligned buffer: a pack is written once, made durable at once and read
// back rarely, so copying it through the page cache only costs CPU (on a
// backup, buffered pack writes were the largest single system-call cost).
// The unaligned tail is written through the page cache when the pack is
// finished.
type packWriter struct {
	id      PackID
	f       *os.File
	tmp     string
	direct  bool
	buf     []byte // write buffer, flushed in whole multiples of directAlign
	size    int64
	entries []packEntry
}

const (
	// directAlign is the alignment O_DIRECT needs of buffers, lengths
	// and offsets (the largest logical block size in common use).
	directAlign = 4096
	packBufSize = 4 << 20
)

func newPackWriter(dir string) (*packWriter, error) {
	id := newPackID()
	tmp := filepath.Join(dir, tmpDir, id.String()+".pack.tmp")
	f, direct, err := createPack(tmp)
	if err != nil {
		return nil, fmt.Errorf("store: new pack: %w", err)
	}
	pw := &packWriter{id: id, f: f, tmp: tmp, direct: direct, buf: alignedBuf(packBufSize)[:0]}
	pw.buf = append(pw.buf, packMagic...)
	pw.size = int64(len(packMagic))
	return pw, nil
}

// createPack creates a new pack file, with O_DIRECT if the filesystem
// supports it.
func createPack(name string) (*os.File, bool, error) {
	const flags = os.O_WRONLY | os.O_CREATE | os.O_EXCL
	f, err := os.OpenFile(name, flags|syscall.O_DIRECT, 0o600)
	if err == nil {
		return f, true, nil
	}
	if !errors.Is(err, syscall.EINVAL) {
		return nil, false, err
	}
	f, err = os.OpenFile(name, flags, 0o600)
	return f, false, err
}

// alignedBuf returns an n-byte slice whose first byte is aligned to
// directAlign.
func alignedBuf(n int) []byte {
	b := make([]byte, n+directAlign)
	off := int(-uintptr(unsafe.Pointer(&b[0])) & (directAlign - 1))
	return b[off : off+n : off+n]
}

func (pw *packWriter) add(id chunk.ID, stored []byte, rawLen int) error {
	pw.entries = append(pw.entries, packEntry{id: id, loc: Location{
		Pack: pw.id, Offset: uint32(pw.size), Length: uint32(len(stored)), RawLength: uint32(rawLen),
	}})
	pw.size += int64(len(stored))
	return pw.appendRaw(stored)
}

// appendRaw copies data into the buffer, writing it out whenever it fills.
func (pw *packWriter) appendRaw(stored []byte) error {
	for len(stored) > 0 {
		n := min(len(stored), cap(pw.buf)-len(pw.buf))
		pw.buf = append(pw.buf, stored[:n]...)
		stored = stored[n:]
		if len(pw.buf) == cap(pw.buf) {
			if err := pw.flush(len(pw.buf)); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush writes the first n bytes of the buffer (a multiple of directAlign
// unless the file is not in direct mode) and keeps the rest.
func (pw *packWriter) flush(n int) error {
	if n == 0 {
		return nil
	}
	if _, err := pw.f.Write(pw.buf[:n]); err != nil {
		return err
	}
	pw.buf = pw.buf[:copy(pw.buf, pw.buf[n:])]
	return nil
}

// flushAll writes what the buffer holds: the aligned part directly, the
// tail after leaving direct mode.
func (pw *packWriter) flushAll() error {
	if pw.direct {
		if err := pw.flush(len(pw.buf) &^ (directAlign - 1)); err != nil {
			return err
		}
		if len(pw.buf) > 0 {
			if err := setDirect(pw.f, false); err != nil {
				return err
			}
			pw.direct = false
		}
	}
	return pw.flush(len(pw.buf))
}

// setDirect turns O_DIRECT on or off for an open file.
func setDirect(f *os.File, on bool) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		if err != nil {
			serr = err
			return
		}
		if on {
			fl |= unix.O_DIRECT
		} else {
			fl &^= unix.O_DIRECT
		}
		_, serr = unix.FcntlInt(fd, unix.F_SETFL, fl)
	})
	if err != nil {
		return err
	}
	return serr
}

// finish writes the trailer, syncs the file, and renames it into packs/.
// After finish returns nil the pack is durable under its final name; only
// then may the index name it.
func (pw *packWriter) finish(c *codec, dir string) (PackInfo, error) {
	sealed := c.sealRecord("pack/"+pw.id.String(), encodeTrailer(pw.entries))
	footer := append(sealed, binary.LittleEndian.AppendUint32(nil, uint32(len(sealed)))...)
	footer = append(footer, packEnd...)
	pw.size += int64(len(footer))
	err := pw.appendRaw(footer)
	if err == nil {
		err = pw.flushAll()
	}
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

func (pw *packWriter) abort() {
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
