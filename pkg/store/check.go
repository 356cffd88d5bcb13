package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"

	bolt "go.etcd.io/bbolt"

	"github.com/understudy/understudy/pkg/chunk"
)

// PackProblem describes one damaged pack.
type PackProblem struct {
	Pack PackID
	Err  error
	// Chunks lists the chunks of the pack that cannot be read back.
	Chunks []chunk.ID
}

// CheckResult is what [Store.Check] found.
type CheckResult struct {
	// IndexErr is set when the index file is damaged; the rest of the check
	// then ran against the pack trailers.
	IndexErr   error
	Packs      int
	PacksRead  int
	ChunksRead int
	Problems   []PackProblem
	// Unindexed are complete pack files the index does not name (left by
	// an interrupted writer; the next writer indexes them).
	Unindexed []PackID
	// Bad holds every chunk found damaged or missing.
	Bad map[chunk.ID]PackID
	// Chunks holds every chunk the index (or trailers) name.
	Chunks map[chunk.ID]struct{}
}

// Check compares the index with the pack files and, for packs where
// readData returns true, reads every blob back and checks it against its
// hash. It needs no lock and may run beside a writer; packs a concurrent
// prune deletes may then show up as missing.
func (s *Store) Check(ctx context.Context, readData func(PackID) bool) (*CheckResult, error) {
	res := &CheckResult{Bad: map[chunk.ID]PackID{}, Chunks: map[chunk.ID]struct{}{}}
	res.IndexErr = s.checkIndexFile()
	byPack := map[PackID][]packEntry{}
	packs := map[PackID]PackInfo{}
	err := s.view(func(v indexView) error {
		if err := v.forEachChunk(func(id chunk.ID, l Location) error {
			byPack[l.Pack] = append(byPack[l.Pack], packEntry{id: id, loc: l})
			res.Chunks[id] = struct{}{}
			return nil
		}); err != nil {
			return err
		}
		return v.forEachPack(func(p PackID, pi PackInfo) error {
			packs[p] = pi
			return nil
		})
	})
	if err != nil {
		if !errors.Is(err, ErrIndexDamaged) {
			return nil, err
		}
		if res.IndexErr == nil {
			res.IndexErr = err
		}
	}
	files, err := listPackFiles(s.dir)
	if err != nil {
		return nil, err
	}
	for p := range files {
		if _, ok := packs[p]; !ok && len(byPack[p]) == 0 {
			res.Unindexed = append(res.Unindexed, p)
		}
	}
	ids := make([]PackID, 0, len(byPack))
	for p := range byPack {
		ids = append(ids, p)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].String() < ids[j].String() })
	res.Packs = len(ids)
	for _, p := range ids {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		entries := byPack[p]
		sort.Slice(entries, func(i, j int) bool { return entries[i].loc.Offset < entries[j].loc.Offset })
		prob := s.checkPack(p, files, packs, entries, readData != nil && readData(p), res)
		if prob != nil {
			res.Problems = append(res.Problems, *prob)
			for _, id := range prob.Chunks {
				res.Bad[id] = p
			}
		}
	}
	return res, nil
}

// checkIndexFile runs bbolt's consistency check on the index file.
func (s *Store) checkIndexFile() error {
	s.idxMu.Lock()
	defer s.idxMu.Unlock()
	db, err := openIndex(s.dir, true)
	if err != nil || db == nil {
		return err
	}
	defer db.Close()
	return db.View(func(tx *bolt.Tx) error {
		if err := checkSize(s.dir, tx); err != nil {
			return err
		}
		var errs []error
		for e := range tx.Check() {
			if len(errs) < 10 {
				errs = append(errs, e)
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("%w: %w", ErrIndexDamaged, errors.Join(errs...))
		}
		return nil
	})
}

func (s *Store) checkPack(p PackID, files map[PackID]int64, packs map[PackID]PackInfo, entries []packEntry, readData bool, res *CheckResult) *PackProblem {
	all := func() []chunk.ID {
		out := make([]chunk.ID, len(entries))
		for i, e := range entries {
			out[i] = e.id
		}
		return out
	}
	size, ok := files[p]
	if !ok {
		return &PackProblem{Pack: p, Err: fmt.Errorf("%w: pack file missing", ErrCorrupt), Chunks: all()}
	}
	f, err := os.Open(packPath(s.dir, p))
	if err != nil {
		return &PackProblem{Pack: p, Err: err, Chunks: all()}
	}
	defer f.Close()
	var problems []error
	if pi, ok := packs[p]; ok && pi.Size != size {
		problems = append(problems, fmt.Errorf("%w: size %d, index says %d", ErrCorrupt, size, pi.Size))
	}
	trailer, terr := s.codec.readTrailer(f, p, size)
	if terr != nil {
		problems = append(problems, terr)
	} else {
		inTrailer := make(map[chunk.ID]Location, len(trailer))
		for _, e := range trailer {
			inTrailer[e.id] = e.loc
		}
		for _, e := range entries {
			if l, ok := inTrailer[e.id]; !ok || l != e.loc {
				problems = append(problems, fmt.Errorf("%w: chunk %s: index and pack trailer disagree", ErrCorrupt, e.id.Short()))
				break
			}
		}
	}
	var bad []chunk.ID
	if readData {
		res.PacksRead++
		var buf, plain []byte
		for _, e := range entries {
			res.ChunksRead++
			if int64(e.loc.Offset)+int64(e.loc.Length) > size {
				bad = append(bad, e.id)
				continue
			}
			if cap(buf) < int(e.loc.Length) {
				buf = make([]byte, e.loc.Length)
			}
			buf = buf[:e.loc.Length]
			if _, err := f.ReadAt(buf, int64(e.loc.Offset)); err != nil {
				bad = append(bad, e.id)
				continue
			}
			out, err := s.codec.open(plain, e.id, buf)
			if err != nil || len(out) != int(e.loc.RawLength) {
				bad = append(bad, e.id)
				continue
			}
			plain = out
		}
		if len(bad) > 0 {
			problems = append(problems, fmt.Errorf("%w: %d of %d chunks fail their check", ErrCorrupt, len(bad), len(entries)))
		}
	} else {
		for _, e := range entries {
			if int64(e.loc.Offset)+int64(e.loc.Length) > size {
				bad = append(bad, e.id)
			}
		}
		if len(bad) > 0 {
			problems = append(problems, fmt.Errorf("%w: truncated, %d chunks lost", ErrCorrupt, len(bad)))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return &PackProblem{Pack: p, Err: errors.Join(problems...), Chunks: bad}
}
