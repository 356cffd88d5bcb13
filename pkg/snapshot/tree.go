package snapshot

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"

	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/store"
)

// TreeWriter encodes a manifest straight into the store: the encoded stream
// is cut into small content-defined chunks as it is produced.
type TreeWriter struct {
	enc  *Encoder
	pw   *io.PipeWriter
	done chan struct{}
	// Set by the chunking goroutine before done is closed.
	ids   []chunk.ID
	added int64
	err   error
}

// NewTreeWriter starts a manifest. Call Close to finish it.
func NewTreeWriter(ctx context.Context, w *store.Writer, pol chunk.Polynomial) (*TreeWriter, error) {
	params, err := chunk.ParamsFor(chunk.ClassTransactional)
	if err != nil {
		return nil, err
	}
	pr, pw := io.Pipe()
	t := &TreeWriter{pw: pw, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		c := chunk.New(pr, pol, params)
		buf := make([]byte, params.Max)
		for {
			data, err := c.Next(buf)
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.err = err
				pr.CloseWithError(err)
				return
			}
			id := chunk.Sum(data)
			n, err := w.Put(ctx, id, data)
			if err != nil {
				t.err = err
				pr.CloseWithError(err)
				return
			}
			t.added += int64(n)
			t.ids = append(t.ids, id)
		}
	}()
	if t.enc, err = NewEncoder(pw); err != nil {
		pw.CloseWithError(err)
		<-t.done
		return nil, err
	}
	return t, nil
}

// Add appends one node.
func (t *TreeWriter) Add(n *Node) error {
	if err := t.enc.Encode(n); err != nil {
		return fmt.Errorf("snapshot: write manifest: %w", err)
	}
	return nil
}

// Close finishes the manifest and returns its chunk IDs and the stored
// bytes it added.
func (t *TreeWriter) Close() ([]chunk.ID, int64, error) {
	err := t.enc.Flush()
	t.pw.CloseWithError(err)
	<-t.done
	if err == nil {
		err = t.err
	}
	if err != nil {
		return nil, 0, fmt.Errorf("snapshot: write manifest: %w", err)
	}
	return t.ids, t.added, nil
}

// Abort stops a manifest that will not be used.
func (t *TreeWriter) Abort() {
	t.pw.CloseWithError(errors.New("snapshot: manifest aborted"))
	<-t.done
}

// treeReader concatenates located manifest chunks, each checked against
// its hash.
type treeReader struct {
	ctx  context.Context
	s    *store.Store
	ids  []chunk.ID
	locs []store.Location
	buf  []byte
	pos  int
}

func (r *treeReader) Read(p []byte) (int, error) {
	for r.pos >= len(r.buf) {
		if len(r.ids) == 0 {
			return 0, io.EOF
		}
		b, err := r.s.ReadAt(r.ids[0], r.locs[0], r.buf[:0])
		if errors.Is(err, fs.ErrNotExist) { // moved by a prune since Locate
			b, err = r.s.Get(r.ctx, r.ids[0], r.buf[:0])
		}
		if err != nil {
			return 0, fmt.Errorf("manifest chunk %s: %w", r.ids[0].Short(), err)
		}
		r.ids, r.locs = r.ids[1:], r.locs[1:]
		r.buf, r.pos = b, 0
	}
	n := copy(p, r.buf[r.pos:])
	r.pos += n
	return n, nil
}

// OpenTree returns a decoder over the manifest of rec, read from the store
// as it is consumed. The manifest's chunks are located in one index
// transaction (a large dataset's manifest has hundreds); a chunk the index
// lacks is an error wrapping [ErrIncomplete]. Every chunk's hash is
// checked.
func OpenTree(ctx context.Context, s *store.Store, rec *Record) (*Decoder, error) {
	locs, ok, err := s.Locate(ctx, rec.Tree)
	if err != nil {
		return nil, err
	}
	for i, id := range rec.Tree {
		if !ok[i] {
			return nil, fmt.Errorf("%w: snapshot %s needs %s", ErrIncomplete, ShortID(rec.ID), id.Short())
		}
	}
	d, err := NewDecoder(&treeReader{ctx: ctx, s: s, ids: rec.Tree, locs: locs})
	if err != nil {
		return nil, fmt.Errorf("snapshot %s: %w", ShortID(rec.ID), err)
	}
	return d, nil
}

// Walk calls fn for every node of rec's manifest in order.
func Walk(ctx context.Context, s *store.Store, rec *Record, fn func(*Node) error) error {
	d, err := OpenTree(ctx, s, rec)
	if err != nil {
		return err
	}
	for {
		n, err := d.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("snapshot %s: %w", ShortID(rec.ID), err)
		}
		if err := fn(n); err != nil {
			return err
		}
	}
}
