package store

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"
	"golang.org/x/sys/unix"

	"github.com/understudy/understudy/pkg/chunk"
)

// Options open a store.
type Options struct {
	// Key is the master key (see [LoadKeyFile]); required for an encrypted
	// store, refused for a plain one.
	Key []byte
	// Logger receives warnings (damaged index, stale lock); nil discards.
	Logger *slog.Logger
	// Compression overrides the store's own setting for the chunks sealed
	// while it is open; empty keeps the store's.
	Compression Compression
}

// Store is an open store. Its read methods are safe for concurrent use and
// never wait for a writer beyond one index transaction. Writes go through a
// [Writer] from [Store.Lock].
type Store struct {
	dir   string
	id    string
	pol   chunk.Polynomial
	codec *codec
	log   *slog.Logger

	// idxMu serialises index transactions within this process (bbolt's
	// file lock is per open file, so two opens in one process would
	// exclude each other anyway). fallback, guarded by idxMu, is the
	// index rebuilt in memory when the index file is damaged.
	idxMu    sync.Mutex
	fallback *memIndex

	closeOnce sync.Once

	// scratch holds buffers for stored blobs being read (*[]byte).
	scratch sync.Pool

	// files caches open pack files for reading; guarded by filesMu.
	filesMu sync.Mutex
	files   map[PackID]*os.File
}

const maxOpenPacks = 64

// Open opens the store in dir.
func Open(dir string, opts Options) (*Store, error) {
	cfg, err := readConfig(dir)
	if err != nil {
		return nil, err
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	comp := legacyCompression
	if cfg.Compression != "" {
		if comp, err = ParseCompression(cfg.Compression); err != nil {
			return nil, fmt.Errorf("store: config %s: %w", filepath.Join(dir, configFile), err)
		}
	}
	if opts.Compression != "" {
		if comp, err = ParseCompression(string(opts.Compression)); err != nil {
			return nil, err
		}
	}
	s := &Store{dir: dir, id: cfg.ID, log: log, files: map[PackID]*os.File{}}
	switch {
	case cfg.Encryption == "" && opts.Key != nil:
		return nil, ErrKeyUnexpected
	case cfg.Encryption == "":
		if s.codec, err = newCodec(nil); err != nil {
			return nil, err
		}
		if s.pol, err = parsePolynomial(cfg.Polynomial); err != nil {
			s.codec.close()
			return nil, err
		}
	case cfg.Encryption != "aes-256-gcm":
		return nil, fmt.Errorf("store: unknown encryption %q", cfg.Encryption)
	case opts.Key == nil:
		return nil, ErrKeyRequired
	default:
		dataKey, check, err := deriveKeys(opts.Key)
		if err != nil {
			return nil, err
		}
		if check != cfg.KeyCheck {
			return nil, ErrWrongKey
		}
		if s.codec, err = newCodec(dataKey); err != nil {
			return nil, err
		}
		sealed, err := hex.DecodeString(cfg.SealedPolynomial)
		var pt []byte
		if err == nil {
			pt, err = s.codec.openRecord("config/polynomial", sealed)
		}
		if err == nil {
			s.pol, err = parsePolynomial(string(pt))
		}
		if err != nil {
			s.codec.close()
			return nil, fmt.Errorf("store: config polynomial: %w", err)
		}
	}
	s.codec.comp = comp
	return s, nil
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// ID returns the store's random identifier.
func (s *Store) ID() string { return s.id }

// Polynomial returns the chunking polynomial kept in the store's config.
func (s *Store) Polynomial() chunk.Polynomial { return s.pol }

// Encrypted reports whether blobs and records are encrypted.
func (s *Store) Encrypted() bool { return s.codec.aead != nil }

// Close releases open files and the codec. It is idempotent; the Store
// must not be used afterwards.
func (s *Store) Close() error {
	s.filesMu.Lock()
	for p, f := range s.files {
		f.Close()
		delete(s.files, p)
	}
	s.filesMu.Unlock()
	s.closeOnce.Do(s.codec.close)
	return nil
}

// view runs fn against a read-only view of the index. When the index file
// is damaged, it falls back to an index rebuilt in memory from the pack
// trailers (built once and kept; the index file is tried again each time,
// since the next writer repairs it).
func (s *Store) view(fn func(indexView) error) error {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	db, err := openIndex(s.dir, true)
	if err == nil && db == nil {
		return fn(&memIndex{})
	}
	if err == nil {
		err = db.View(func(tx *bolt.Tx) error {
			if err := checkSize(s.dir, tx); err != nil {
				return err
			}
			return fn(boltView{tx})
		})
		db.Close()
		if !errors.Is(err, ErrIndexDamaged) {
			s.fallback = nil
			return err
		}
	}
	if !errors.Is(err, ErrIndexDamaged) {
		return err
	}
	if s.fallback == nil {
		s.log.Warn("index damaged, reading pack trailers instead", "err", err)
		m, bad, rerr := s.codec.rebuildMem(s.dir)
		if rerr != nil {
			return rerr
		}
		for p, e := range bad {
			s.log.Warn("pack unreadable while rebuilding index", "pack", p.String(), "err", e)
		}
		s.fallback = m
	}
	return fn(s.fallback)
}

// Locate returns the locations of ids; ok[i] is false for IDs the index
// does not hold. One index transaction serves the whole batch.
func (s *Store) Locate(ctx context.Context, ids []chunk.ID) (locs []Location, ok []bool, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	locs = make([]Location, len(ids))
	ok = make([]bool, len(ids))
	err = s.view(func(v indexView) error {
		for i, id := range ids {
			locs[i], ok[i] = v.get(id)
		}
		return nil
	})
	return locs, ok, err
}

// Has reports whether the store holds chunk id.
func (s *Store) Has(ctx context.Context, id chunk.ID) (bool, error) {
	_, ok, err := s.Locate(ctx, []chunk.ID{id})
	if err != nil {
		return false, err
	}
	return ok[0], nil
}

// Missing returns the IDs among ids that the store does not hold, in order.
// The mirror asks this of a standby to learn which chunks to send.
func (s *Store) Missing(ctx context.Context, ids []chunk.ID) ([]chunk.ID, error) {
	_, ok, err := s.Locate(ctx, ids)
	if err != nil {
		return nil, err
	}
	var out []chunk.ID
	for i, id := range ids {
		if !ok[i] {
			out = append(out, id)
		}
	}
	return out, nil
}

// ListChunks calls fn for every chunk in the index, in no particular order,
// inside one index transaction: fn must be quick and must not call back
// into s.
func (s *Store) ListChunks(ctx context.Context, fn func(chunk.ID, Location) error) error {
	return s.view(func(v indexView) error {
		return v.forEachChunk(func(id chunk.ID, l Location) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			return fn(id, l)
		})
	})
}

// ListPacks returns the packs the index knows.
func (s *Store) ListPacks(ctx context.Context) (map[PackID]PackInfo, error) {
	out := map[PackID]PackInfo{}
	err := s.view(func(v indexView) error {
		return v.forEachPack(func(p PackID, pi PackInfo) error {
			out[p] = pi
			return nil
		})
	})
	return out, err
}

func (s *Store) packFile(p PackID) (*os.File, error) {
	s.filesMu.Lock()
	defer s.filesMu.Unlock()
	if f, ok := s.files[p]; ok {
		return f, nil
	}
	f, err := os.Open(packPath(s.dir, p))
	if err != nil {
		return nil, err
	}
	if len(s.files) >= maxOpenPacks {
		for k, old := range s.files {
			old.Close()
			delete(s.files, k)
			break
		}
	}
	s.files[p] = f
	return f, nil
}

func (s *Store) dropPackFile(p PackID) {
	s.filesMu.Lock()
	if f, ok := s.files[p]; ok {
		f.Close()
		delete(s.files, p)
	}
	s.filesMu.Unlock()
}

// prefetchGap is the largest gap between two blobs of a pack that
// [Store.Prefetch] reads across rather than asking for two ranges.
const prefetchGap = 256 << 10

// Prefetch asks the kernel to start reading the blobs at locs into the
// page cache, so that reading them one by one afterwards does not wait for
// the disk blob after blob: packs are written around the page cache, and a
// mirror or restore right after a backup would otherwise read every chunk
// from the disk with one synchronous request each. Blobs close together
// in a pack are asked for as one range. It is only advice: errors are
// ignored.
func (s *Store) Prefetch(locs []Location) {
	if len(locs) == 0 {
		return
	}
	ls := slices.Clone(locs)
	slices.SortFunc(ls, Location.Compare)
	advise := func(p PackID, off, end int64) {
		f, err := s.packFile(p)
		if err != nil {
			return
		}
		if rc, err := f.SyscallConn(); err == nil {
			_ = rc.Control(func(fd uintptr) {
				_ = unix.Fadvise(int(fd), off, end-off, unix.FADV_WILLNEED)
			})
		}
	}
	cur := ls[0]
	off, end := int64(cur.Offset), int64(cur.Offset)+int64(cur.Length)
	for _, l := range ls[1:] {
		lo := int64(l.Offset)
		if l.Pack == cur.Pack && lo <= end+prefetchGap {
			end = max(end, lo+int64(l.Length))
			continue
		}
		advise(cur.Pack, off, end)
		cur, off, end = l, lo, lo+int64(l.Length)
	}
	advise(cur.Pack, off, end)
}

// readStored reads a blob's stored bytes at l into buf (grown if needed).
func (s *Store) readStored(l Location, buf []byte) ([]byte, error) {
	f, err := s.packFile(l.Pack)
	if err != nil {
		return nil, err
	}
	if cap(buf) < int(l.Length) {
		buf = make([]byte, l.Length)
	}
	buf = buf[:l.Length]
	if _, err := f.ReadAt(buf, int64(l.Offset)); err != nil {
		if errors.Is(err, fs.ErrClosed) {
			s.dropPackFile(l.Pack)
		}
		return nil, fmt.Errorf("%w: pack %s: read blob at %d: %v", ErrCorrupt, l.Pack, l.Offset, err)
	}
	return buf, nil
}

// ReadAt reads, decodes and checks the chunk id stored at l. The plaintext
// is appended to dst[:0] when it fits. The error wraps [ErrCorrupt] when the
// stored bytes are damaged.
func (s *Store) ReadAt(id chunk.ID, l Location, dst []byte) ([]byte, error) {
	bp, _ := s.scratch.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	defer s.scratch.Put(bp)
	stored, err := s.readStored(l, *bp)
	if err != nil {
		return nil, fmt.Errorf("chunk %s: %w", id.Short(), err)
	}
	*bp = stored[:0]
	plain, err := s.codec.openBuf(dst, id, stored, true, false)
	if err != nil {
		return nil, fmt.Errorf("chunk %s in pack %s: %w", id.Short(), l.Pack, err)
	}
	if len(plain) != int(l.RawLength) {
		return nil, fmt.Errorf("%w: chunk %s in pack %s: length %d, index says %d", ErrCorrupt, id.Short(), l.Pack, len(plain), l.RawLength)
	}
	return plain, nil
}

// ChunkBuf holds one reader's buffers for [Store.ReadChunk], reused from
// chunk to chunk. The zero value is ready to use; it is not safe for
// concurrent use.
type ChunkBuf struct {
	stored, plain []byte
	// run holds the stored bytes of pack runPack from runOff on, read by
	// [Store.ReadRun] and not handed out yet; runBuf is its buffer.
	run, runBuf []byte
	runPack     PackID
	runOff      int64
}

// Holds reports whether the stored bytes at l are in b's run, so that
// [Store.ReadChunk] will not read them from the pack.
func (b *ChunkBuf) Holds(l Location) bool {
	off, end := int64(l.Offset), int64(l.Offset)+int64(l.Length)
	return len(b.run) > 0 && l.Pack == b.runPack && off >= b.runOff && end <= b.runOff+int64(len(b.run))
}

// take hands out the stored bytes at l from the run (see Holds). Bytes
// before and at l leave the run: ReadChunk decrypts them in place.
func (b *ChunkBuf) take(l Location) []byte {
	start := int64(l.Offset) - b.runOff
	stored := b.run[start : start+int64(l.Length)]
	b.run = b.run[start+int64(l.Length):]
	b.runOff = int64(l.Offset) + int64(l.Length)
	return stored
}

// ReadRun reads the stored bytes of pack p from off to end into b with one
// read, for chunks stored back to back there that [Store.ReadChunk] will
// then take from b in order. A restore reads a file's chunks this way:
// database files are made of thousands of small chunks, and a read per
// chunk cost more in system calls than their decoding. It is only a hint:
// on error the run is dropped, and ReadChunk reads (and reports) as usual.
// The run is read into a buffer of end-off bytes kept in b.
func (s *Store) ReadRun(b *ChunkBuf, p PackID, off, end int64) {
	b.run = nil
	f, err := s.packFile(p)
	if err != nil || end <= off {
		return
	}
	if int64(cap(b.runBuf)) < end-off {
		b.runBuf = make([]byte, end-off)
	}
	buf := b.runBuf[:end-off]
	if _, err := f.ReadAt(buf, off); err != nil {
		return
	}
	b.run, b.runPack, b.runOff = buf, p, off
}

// ReadChunk is [Store.ReadAt] with buffers kept in b: an uncompressed
// plaintext (incompressible data: the largest chunks) is returned where it
// was read and decrypted, so a reader holds one chunk-sized buffer rather
// than two. The result is valid until the next ReadChunk or ReadRun with b.
func (s *Store) ReadChunk(id chunk.ID, l Location, b *ChunkBuf) ([]byte, error) {
	var stored []byte
	if b.Holds(l) {
		stored = b.take(l)
	} else {
		var err error
		if stored, err = s.readStored(l, b.stored); err != nil {
			return nil, fmt.Errorf("chunk %s: %w", id.Short(), err)
		}
		b.stored = stored[:0]
	}
	plain, err := s.codec.openBuf(b.plain, id, stored, true, true)
	if err != nil {
		return nil, fmt.Errorf("chunk %s in pack %s: %w", id.Short(), l.Pack, err)
	}
	if len(plain) != int(l.RawLength) {
		return nil, fmt.Errorf("%w: chunk %s in pack %s: length %d, index says %d", ErrCorrupt, id.Short(), l.Pack, len(plain), l.RawLength)
	}
	if cap(plain) > cap(b.plain) && !sameArray(plain, stored) {
		b.plain = plain[:0]
	}
	return plain, nil
}

func sameArray(a, b []byte) bool {
	return cap(a) > 0 && cap(b) > 0 && &a[:cap(a)][cap(a)-1] == &b[:cap(b)][cap(b)-1]
}

// Get returns chunk id's plaintext, checked against its hash. A pack that
// vanished under a concurrent prune is retried once with a fresh lookup.
func (s *Store) Get(ctx context.Context, id chunk.ID, dst []byte) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		locs, ok, err := s.Locate(ctx, []chunk.ID{id})
		if err != nil {
			return nil, err
		}
		if !ok[0] {
			return nil, fmt.Errorf("%w: chunk %s", ErrNotFound, id)
		}
		out, err := s.ReadAt(id, locs[0], dst)
		if err != nil && attempt == 0 && errors.Is(err, fs.ErrNotExist) {
			continue
		}
		return out, err
	}
}

// GetStored returns chunk id's stored bytes as they sit in the pack
// (compressed, encrypted): what the mirror sends to a standby that shares
// the key. It does not check them; [Writer.PutStored] on the receiver does.
func (s *Store) GetStored(ctx context.Context, id chunk.ID) ([]byte, error) {
	locs, ok, err := s.Locate(ctx, []chunk.ID{id})
	if err != nil {
		return nil, err
	}
	if !ok[0] {
		return nil, fmt.Errorf("%w: chunk %s", ErrNotFound, id)
	}
	return s.readStored(locs[0], nil)
}

// GetStoredAt returns the stored bytes of the blob at l (from
// [Store.Locate]), into dst when it fits, unchecked like
// [Store.GetStored]. The mirror locates chunks in batches and reads them
// with it, saving an index transaction per chunk. A pack removed by a
// concurrent prune gives an error wrapping fs.ErrNotExist: look the chunk
// up again.
func (s *Store) GetStoredAt(l Location, dst []byte) ([]byte, error) {
	return s.readStored(l, dst)
}
