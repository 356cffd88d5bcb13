package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/understudy/understudy/pkg/atomicfile"
	"github.com/understudy/understudy/pkg/chunk"
)

// The index is a bbolt file with two buckets: chunks (ID → location) and
// packs (pack ID → size and blob count). It is a cache of what the pack
// trailers say and can always be rebuilt from them.
//
// bbolt allows one read-write opener at a time across processes (flock), so
// the index is opened only for the duration of one transaction: readers
// batch their lookups, and a writer commits once per finished pack. Neither
// holds it across slow work, so readers never wait for a backup.
var (
	bucketChunks = []byte("chunks")
	bucketPacks  = []byte("packs")
)

const locSize = 16 + 12

func encodeLoc(l Location) []byte {
	b := make([]byte, locSize)
	copy(b, l.Pack[:])
	binary.LittleEndian.PutUint32(b[16:], l.Offset)
	binary.LittleEndian.PutUint32(b[20:], l.Length)
	binary.LittleEndian.PutUint32(b[24:], l.RawLength)
	return b
}

func decodeLoc(b []byte) (Location, bool) {
	var l Location
	if len(b) != locSize {
		return l, false
	}
	copy(l.Pack[:], b)
	l.Offset = binary.LittleEndian.Uint32(b[16:])
	l.Length = binary.LittleEndian.Uint32(b[20:])
	l.RawLength = binary.LittleEndian.Uint32(b[24:])
	return l, true
}

func encodePackInfo(p PackInfo) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(p.Size))
	return binary.LittleEndian.AppendUint32(b, uint32(p.Blobs))
}

func decodePackInfo(b []byte) (PackInfo, bool) {
	if len(b) != 12 {
		return PackInfo{}, false
	}
	return PackInfo{Size: int64(binary.LittleEndian.Uint64(b)), Blobs: int(binary.LittleEndian.Uint32(b[8:]))}, true
}

// indexView is a read-only view of the index, backed by a bbolt transaction
// or, when the index file is damaged, by an index rebuilt in memory from the
// pack trailers.
type indexView interface {
	get(id chunk.ID) (Location, bool)
	forEachChunk(fn func(chunk.ID, Location) error) error
	forEachPack(fn func(PackID, PackInfo) error) error
}

type boltView struct{ tx *bolt.Tx }

func (v boltView) get(id chunk.ID) (Location, bool) {
	b := v.tx.Bucket(bucketChunks)
	if b == nil {
		return Location{}, false
	}
	return decodeLoc(b.Get(id[:]))
}

func (v boltView) forEachChunk(fn func(chunk.ID, Location) error) error {
	b := v.tx.Bucket(bucketChunks)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, val []byte) error {
		var id chunk.ID
		if len(k) != len(id) {
			return fmt.Errorf("%w: bad chunk key", ErrIndexDamaged)
		}
		copy(id[:], k)
		l, ok := decodeLoc(val)
		if !ok {
			return fmt.Errorf("%w: bad location for chunk %s", ErrIndexDamaged, id.Short())
		}
		return fn(id, l)
	})
}

func (v boltView) forEachPack(fn func(PackID, PackInfo) error) error {
	b := v.tx.Bucket(bucketPacks)
	if b == nil {
		return nil
	}
	return b.ForEach(func(k, val []byte) error {
		var p PackID
		if len(k) != len(p) {
			return fmt.Errorf("%w: bad pack key", ErrIndexDamaged)
		}
		copy(p[:], k)
		pi, ok := decodePackInfo(val)
		if !ok {
			return fmt.Errorf("%w: bad info for pack %s", ErrIndexDamaged, p)
		}
		return fn(p, pi)
	})
}

// memIndex is an index held in memory.
type memIndex struct {
	chunks map[chunk.ID]Location
	packs  map[PackID]PackInfo
}

func (m *memIndex) get(id chunk.ID) (Location, bool) { l, ok := m.chunks[id]; return l, ok }
func (m *memIndex) forEachChunk(fn func(chunk.ID, Location) error) error {
	for id, l := range m.chunks {
		if err := fn(id, l); err != nil {
			return err
		}
	}
	return nil
}
func (m *memIndex) forEachPack(fn func(PackID, PackInfo) error) error {
	for p, pi := range m.packs {
		if err := fn(p, pi); err != nil {
			return err
		}
	}
	return nil
}

// indexLockTimeout bounds how long an index transaction waits for another
// process's transaction; those last milliseconds.
const indexLockTimeout = 2 * time.Minute

// openIndex opens the bbolt file. A missing file with readOnly yields
// (nil, nil): an empty index.
func openIndex(dir string, readOnly bool) (*bolt.DB, error) {
	path := filepath.Join(dir, indexFile)
	if readOnly {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	if err := precheckIndex(path); err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: readOnly, Timeout: indexLockTimeout})
	if err != nil {
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("store: index busy: %w", err)
		}
		return nil, fmt.Errorf("%w: %v", ErrIndexDamaged, err)
	}
	return db, nil
}

// precheckIndex reads bbolt's meta pages itself and refuses a file shorter
// than the pages its newest valid meta names: bbolt maps the file and would
// die of SIGBUS reading past its end. A missing file is fine (bbolt creates
// it).
func precheckIndex(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%w: %v", ErrIndexDamaged, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("%w: %v", ErrIndexDamaged, err)
	}
	if st.Size() == 0 {
		return fmt.Errorf("%w: empty file", ErrIndexDamaged)
	}
	type meta struct {
		ok         bool
		pageSize   uint32
		pgid, txid uint64
	}
	read := func(off int64) meta {
		var b [16 + 64]byte
		if _, err := f.ReadAt(b[:], off); err != nil {
			return meta{}
		}
		m := b[16:]
		if binary.LittleEndian.Uint32(m[0:]) != 0xED0CDAED {
			return meta{}
		}
		h := fnv.New64a()
		h.Write(m[:56])
		if h.Sum64() != binary.LittleEndian.Uint64(m[56:]) {
			return meta{}
		}
		return meta{ok: true, pageSize: binary.LittleEndian.Uint32(m[8:]), pgid: binary.LittleEndian.Uint64(m[40:]), txid: binary.LittleEndian.Uint64(m[48:])}
	}
	m0 := read(0)
	ps := int64(4096)
	if m0.ok {
		ps = int64(m0.pageSize)
	}
	m1 := read(ps)
	best := m0
	if m1.ok && (!m0.ok || m1.txid > m0.txid) {
		best = m1
	}
	if !best.ok {
		return fmt.Errorf("%w: no valid meta page", ErrIndexDamaged)
	}
	if need := int64(best.pgid) * int64(best.pageSize); st.Size() < need {
		return fmt.Errorf("%w: file is %d bytes, its pages need %d (truncated)", ErrIndexDamaged, st.Size(), need)
	}
	return nil
}

// checkSize guards against a truncated index file, which bbolt would map
// and fault on: the file must hold every page the meta page names.
func checkSize(dir string, tx *bolt.Tx) error {
	st, err := os.Stat(filepath.Join(dir, indexFile))
	if err != nil {
		return fmt.Errorf("%w: %v", ErrIndexDamaged, err)
	}
	if st.Size() < tx.Size() {
		return fmt.Errorf("%w: file is %d bytes, its pages need %d (truncated)", ErrIndexDamaged, st.Size(), tx.Size())
	}
	return nil
}

// rebuildMem builds an index from the pack trailers. Packs whose trailer
// cannot be read are returned in bad.
func (c *codec) rebuildMem(dir string) (*memIndex, map[PackID]error, error) {
	files, err := listPackFiles(dir)
	if err != nil {
		return nil, nil, err
	}
	m := &memIndex{chunks: map[chunk.ID]Location{}, packs: map[PackID]PackInfo{}}
	bad := map[PackID]error{}
	for pid, size := range files {
		f, err := os.Open(packPath(dir, pid))
		if err != nil {
			bad[pid] = err
			continue
		}
		entries, err := c.readTrailer(f, pid, size)
		f.Close()
		if err != nil {
			bad[pid] = err
			continue
		}
		for _, e := range entries {
			m.chunks[e.id] = e.loc
		}
		m.packs[pid] = PackInfo{Size: size, Blobs: len(entries)}
	}
	return m, bad, nil
}

// writeIndex replaces the index file with the contents of m.
func writeIndex(dir string, m *memIndex) error {
	path := filepath.Join(dir, indexFile)
	tmp := path + ".rebuild"
	os.Remove(tmp)
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: indexLockTimeout})
	if err != nil {
		return fmt.Errorf("store: rebuild index: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		cb, err := tx.CreateBucketIfNotExists(bucketChunks)
		if err != nil {
			return err
		}
		pb, err := tx.CreateBucketIfNotExists(bucketPacks)
		if err != nil {
			return err
		}
		for id, l := range m.chunks {
			if err := cb.Put(id[:], encodeLoc(l)); err != nil {
				return err
			}
		}
		for p, pi := range m.packs {
			if err := pb.Put(p[:], encodePackInfo(pi)); err != nil {
				return err
			}
		}
		return nil
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("store: rebuild index: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("store: rebuild index: %w", err)
	}
	return atomicfile.SyncDir(dir)
}
