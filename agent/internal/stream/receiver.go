package stream

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/understudy/understudy/pkg/atomicfile"
)

// ReceiverConfig configures a [Receiver].
type ReceiverConfig struct {
	// Target returns the directory that receives dataset's stream (the
	// standby's copy), or an error when this host does not accept it
	// (answered 404). Required.
	Target func(dataset string) (dir string, err error)
	// StateDir keeps each dataset's position (a small JSON file per
	// dataset, written atomically). Required; it must not be inside a
	// target directory.
	StateDir string
	// MaxBody bounds an apply request's body; zero means 64 MiB.
	MaxBody int64
	// OnApplied, if set, is called after each apply request made updates
	// durable, with the dataset and its new position (for metrics and the
	// warm copy's freshness). It must not block.
	OnApplied func(dataset string, pos Position)
	Logger    *slog.Logger
}

// Validate reports every problem in c.
func (c ReceiverConfig) Validate() error {
	var errs []error
	if c.Target == nil {
		errs = append(errs, errors.New("stream receiver: no target function"))
	}
	if c.StateDir == "" {
		errs = append(errs, errors.New("stream receiver: state directory is empty"))
	}
	if c.MaxBody < 0 {
		errs = append(errs, errors.New("stream receiver: negative body limit"))
	}
	return errors.Join(errs...)
}

// Position is how far a dataset's stream has been applied on a receiver.
type Position struct {
	// Session is the current sender session; Applied the sequence
	// number of the last update made durable in it (sequence numbers
	// continue across sessions).
	Session string    `json:"session"`
	Applied uint64    `json:"applied"`
	Time    time.Time `json:"time"`
}

// Receiver applies streamed updates to the standby's copy of transactional
// datasets. It is an [http.Handler] answering, under whatever prefix it is
// mounted at (the agent mounts it at /v1/stream/ on the mutual-TLS mirror
// listener):
//
//	POST .../session?dataset=NAME&block=N  start a sender session
//	POST .../apply?dataset=NAME&session=ID apply a batch of updates
//	GET  .../position?dataset=NAME         the dataset's Position (JSON)
//
// Updates are applied strictly in sequence order: an update whose number
// is not the next one is refused (409, "gap") and the sender resends from
// the receiver's position; updates already applied are skipped. At the end
// of every request the touched files and directories are fsynced and only
// then is the position recorded and acknowledged, so an acknowledged
// update survives a crash of the standby.
type Receiver struct {
	cfg ReceiverConfig
	log *slog.Logger

	// mu guards datasets; each dataset's own mutex serialises its
	// requests.
	mu       sync.Mutex
	datasets map[string]*rxDataset
}

type rxDataset struct {
	mu     sync.Mutex
	loaded bool
	pos    Position // guarded by mu
}

// NewReceiver returns a Receiver; it creates cfg.StateDir.
func NewReceiver(cfg ReceiverConfig) (*Receiver, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 64 << 20
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("stream receiver: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Receiver{cfg: cfg, log: log, datasets: map[string]*rxDataset{}}, nil
}

func validDataset(name string) bool {
	if name == "" || len(name) > 128 || name[0] == '.' {
		return false
	}
	for _, c := range []byte(name) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func (r *Receiver) dataset(name string) *rxDataset {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.datasets[name]
	if d == nil {
		d = &rxDataset{}
		r.datasets[name] = d
	}
	return d
}

func (r *Receiver) statePath(dataset string) string {
	return filepath.Join(r.cfg.StateDir, dataset+".stream.json")
}

// load reads the dataset's position once; d.mu is held.
func (r *Receiver) load(dataset string, d *rxDataset) error {
	if d.loaded {
		return nil
	}
	b, err := os.ReadFile(r.statePath(dataset))
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("stream receiver: %w", err)
	default:
		if err := json.Unmarshal(b, &d.pos); err != nil {
			return fmt.Errorf("stream receiver: state of %s: %w", dataset, err)
		}
	}
	d.loaded = true
	return nil
}

// save records the dataset's position durably; d.mu is held.
func (r *Receiver) save(dataset string, d *rxDataset) error {
	b, err := json.Marshal(d.pos)
	if err != nil {
		return err
	}
	return atomicfile.Write(r.statePath(dataset), b, tmpPrefix)
}

// Position returns dataset's position on this receiver (zero when nothing
// was ever applied).
func (r *Receiver) Position(dataset string) (Position, error) {
	if !validDataset(dataset) {
		return Position{}, fmt.Errorf("stream receiver: bad dataset name %q", dataset)
	}
	d := r.dataset(dataset)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := r.load(dataset, d); err != nil {
		return Position{}, err
	}
	return d.pos, nil
}

// ServeHTTP implements [http.Handler].
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	dataset := req.URL.Query().Get("dataset")
	if !validDataset(dataset) {
		http.Error(w, "bad or missing dataset", http.StatusBadRequest)
		return
	}
	action := path.Base(req.URL.Path)
	switch {
	case action == "position" && req.Method == http.MethodGet:
		pos, err := r.Position(dataset)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		writeJSON(w, http.StatusOK, pos)
		return
	case (action == "session" || action == "apply") && req.Method == http.MethodPost:
	default:
		http.Error(w, "unknown stream request", http.StatusNotFound)
		return
	}
	dir, err := r.cfg.Target(dataset)
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer root.Close()
	d := r.dataset(dataset)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := r.load(dataset, d); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if action == "session" {
		r.session(w, req, dataset, d, root)
		return
	}
	r.apply(w, req, dataset, d, root)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// session starts a new sender session: later applies of older sessions are
// refused, and the new sender gets the receiver's copy as block hashes.
func (r *Receiver) session(w http.ResponseWriter, req *http.Request, dataset string, d *rxDataset, root *os.Root) {
	block, err := strconv.Atoi(req.URL.Query().Get("block"))
	if err != nil || block < 4096 || block > 4<<20 {
		http.Error(w, "bad block size", http.StatusBadRequest)
		return
	}
	files, err := hashTree(root, block)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	var sid [8]byte
	_, _ = rand.Read(sid[:])
	d.pos.Session = hex.EncodeToString(sid[:])
	d.pos.Time = time.Now().UTC()
	if err := r.save(dataset, d); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	r.log.Info("stream session started", "dataset", dataset, "session", d.pos.Session, "applied", d.pos.Applied, "files", len(files))
	writeJSON(w, http.StatusOK, sessionResponse{Session: d.pos.Session, Applied: d.pos.Applied, Files: files})
}

// hashTree lists the regular files under root with their block hashes.
func hashTree(root *os.Root, block int) ([]remoteFile, error) {
	var out []remoteFile
	buf := make([]byte, block)
	err := fs.WalkDir(root.FS(), ".", func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !de.Type().IsRegular() || strings.HasPrefix(de.Name(), tmpPrefix) {
			return nil
		}
		f, err := root.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		rf := remoteFile{Path: p}
		for {
			n, err := io.ReadFull(f, buf)
			if n > 0 {
				rf.Blocks = append(rf.Blocks, hashBlock(buf[:n]))
				rf.Size += int64(n)
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				break
			}
			if err != nil {
				return err
			}
		}
		out = append(out, rf)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("stream receiver: hash copy: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// apply applies a batch in order, then makes it durable and records the
// position. Whatever part of the batch was applied before a refusal or a
// broken body is still made durable and acknowledged.
func (r *Receiver) apply(w http.ResponseWriter, req *http.Request, dataset string, d *rxDataset, root *os.Root) {
	if req.URL.Query().Get("session") != d.pos.Session || d.pos.Session == "" {
		writeJSON(w, http.StatusConflict, applyResponse{Applied: d.pos.Applied, Error: conflictSession})
		return
	}
	dec, err := newDecoder(http.MaxBytesReader(w, req.Body, r.cfg.MaxBody))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b := &batch{root: root, files: map[string]*os.File{}, dirs: map[string]bool{}}
	defer b.close()
	applied := d.pos.Applied
	var u update
	var reqErr error
	conflict := false
	for {
		err := dec.next(&u)
		if err == io.EOF {
			break
		}
		if err != nil {
			reqErr = err
			break
		}
		if u.seq <= applied {
			continue // a resend of what is already applied
		}
		if u.seq != applied+1 {
			conflict = true
			break
		}
		if err := b.apply(&u); err != nil {
			reqErr = fmt.Errorf("stream receiver: apply %d to %s: %w", u.seq, u.path, err)
			break
		}
		applied = u.seq
	}
	if applied != d.pos.Applied {
		if err := b.sync(); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		d.pos.Applied = applied
		d.pos.Time = time.Now().UTC()
		if err := r.save(dataset, d); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		if r.cfg.OnApplied != nil {
			r.cfg.OnApplied(dataset, d.pos)
		}
	}
	switch {
	case conflict:
		writeJSON(w, http.StatusConflict, applyResponse{Applied: applied, Error: conflictGap})
	case reqErr != nil:
		r.log.Warn("stream apply stopped", "dataset", dataset, "applied", applied, "err", reqErr)
		writeJSON(w, http.StatusBadRequest, applyResponse{Applied: applied, Error: reqErr.Error()})
	default:
		writeJSON(w, http.StatusOK, applyResponse{Applied: applied})
	}
}

// batch applies updates under root and remembers what to sync.
type batch struct {
	root  *os.Root
	files map[string]*os.File
	dirs  map[string]bool // directories whose entries changed
}

func (b *batch) open(p string) (*os.File, error) {
	if f := b.files[p]; f != nil {
		return f, nil
	}
	f, err := b.root.OpenFile(p, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		dir := path.Dir(p)
		if dir != "." {
			if err := b.root.MkdirAll(dir, 0o700); err != nil {
				return nil, err
			}
		}
		// The file and any directory MkdirAll made need their parent's
		// entry synced.
		for d := dir; ; d = path.Dir(d) {
			b.dirs[d] = true
			if d == "." {
				break
			}
		}
		f, err = b.root.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	}
	if err != nil {
		return nil, err
	}
	b.files[p] = f
	return f, nil
}

func (b *batch) apply(u *update) error {
	switch u.op {
	case opWrite:
		f, err := b.open(u.path)
		if err != nil {
			return err
		}
		_, err = f.WriteAt(u.data, u.off)
		return err
	case opTruncate:
		f, err := b.open(u.path)
		if err != nil {
			return err
		}
		return f.Truncate(u.off)
	case opRemove:
		if f := b.files[u.path]; f != nil {
			f.Close()
			delete(b.files, u.path)
		}
		err := b.root.Remove(u.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		b.dirs[path.Dir(u.path)] = true
		return err
	}
	return fmt.Errorf("unknown operation %d", u.op)
}

func (b *batch) sync() error {
	for p, f := range b.files {
		if err := f.Sync(); err != nil {
			return fmt.Errorf("stream receiver: sync %s: %w", p, err)
		}
	}
	for d := range b.dirs {
		f, err := b.root.Open(d)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("stream receiver: sync %s: %w", d, err)
		}
		err = f.Sync()
		f.Close()
		if err != nil {
			return fmt.Errorf("stream receiver: sync %s: %w", d, err)
		}
	}
	return nil
}

func (b *batch) close() {
	for _, f := range b.files {
		f.Close()
	}
}

const tmpPrefix = ".understudy-tmp-"
