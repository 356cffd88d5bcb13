package stream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"
	"golang.org/x/sync/errgroup"
)

// SenderConfig configures a [Sender]. Zero tunables take the values of
// [DefaultSenderConfig].
type SenderConfig struct {
	// Dataset names the stream on the receiver.
	Dataset string
	// Dir is the dataset directory to protect.
	Dir string
	// URL is the receiver's base URL, e.g.
	// "https://standby-1:8400/v1/stream/"; Client (with the mutual-TLS
	// configuration) sends to it. Client should have no overall timeout
	// shorter than a batch takes; nil means http.DefaultClient.
	URL    string
	Client *http.Client
	// BlockSize is the unit in which files modified in place are compared
	// and resent.
	BlockSize int
	// Rescan is the period of the full rescan that backs up file watching
	// (fsnotify has no recursive watch and can overflow).
	Rescan time.Duration
	// VerifyBytes is how much of the files taken for append-only each
	// rescan re-reads and compares with what was shipped, continuing
	// where the previous rescan stopped, to catch an in-place change the
	// append check (last block and first block of the old content) did
	// not see. A full pass over the append-only files takes their size
	// divided by VerifyBytes rescan periods.
	VerifyBytes int64
	// MaxInFlight bounds the bytes of updates not yet acknowledged; when
	// reached, the sender stops reading files until the receiver catches
	// up (changes coalesce meanwhile).
	MaxInFlight int64
	// MaxBatch bounds one apply request.
	MaxBatch int64
	// RequestTimeout bounds one apply request (a hung standby is then
	// retried rather than waited on forever).
	RequestTimeout time.Duration
	// InPlace names files (slash-separated, relative to Dir) never to be
	// treated as append-only: every change of theirs is found by
	// comparing all their blocks. Nil means [PageFile].
	InPlace func(rel string) bool
	Logger  *slog.Logger
}

// DefaultSenderConfig returns the default tunables.
func DefaultSenderConfig() SenderConfig {
	return SenderConfig{
		BlockSize:   16 << 10,
		Rescan:      2 * time.Second,
		VerifyBytes: 32 << 20,
		MaxInFlight: 32 << 20,
		MaxBatch:    4 << 20,

		RequestTimeout: 30 * time.Second,
	}
}

// Validate reports every problem in c.
func (c SenderConfig) Validate() error {
	var errs []error
	if !validDataset(c.Dataset) {
		errs = append(errs, fmt.Errorf("stream: dataset name %q is not valid (letters, digits, '.', '_', '-')", c.Dataset))
	}
	if c.Dir == "" {
		errs = append(errs, errors.New("stream: dataset directory is empty"))
	}
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("stream: receiver URL %q is not an http or https URL", c.URL))
	}
	if c.BlockSize != 0 && (c.BlockSize < 4096 || c.BlockSize > 4<<20) {
		errs = append(errs, fmt.Errorf("stream: block size %d is outside 4 KiB..4 MiB", c.BlockSize))
	}
	if c.Rescan < 0 || c.VerifyBytes < 0 || c.MaxInFlight < 0 || c.MaxBatch < 0 || c.RequestTimeout < 0 {
		errs = append(errs, errors.New("stream: rescan, verify, in-flight, batch and timeout limits must not be negative"))
	}
	return errors.Join(errs...)
}

// PageFile reports whether a file looks like a database page file, written
// in place and growing (SQLite, InnoDB and MyISAM tables, LMDB,
// WiredTiger), judging by its base name. Logs and journals are not page
// files: they are shipped as appends.
func PageFile(rel string) bool {
	n := strings.ToLower(path.Base(rel))
	for _, s := range []string{".db", ".db3", ".sqlite", ".sqlite3", ".ibd", ".myd", ".myi", ".mdb", ".wt"} {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return strings.HasPrefix(n, "ibdata") || strings.HasPrefix(n, "undo_")
}

// ErrSuperseded is returned by [Sender.Run] when another sender session
// for the same dataset took over on the receiver (this sender's applies
// are refused).
var ErrSuperseded = errors.New("stream: another sender took over the dataset on the receiver")

// errResync makes Run open a new session and compare the whole copy again.
var errResync = errors.New("stream: resynchronise")

// Lag is a sender's replication lag.
type Lag struct {
	// Time is the age of the oldest change the receiver has not
	// acknowledged yet (seen by the sender, queued or in flight); zero
	// when the receiver is up to date.
	Time time.Duration `json:"lag_ns"`
	// Bytes are the update bytes queued or in flight, not yet
	// acknowledged.
	Bytes int64 `json:"lag_bytes"`
	// Applied is the receiver's acknowledged position; Sequence the last
	// sequence number assigned.
	Applied  uint64 `json:"applied"`
	Sequence uint64 `json:"sequence"`
	// LastAck is when the receiver last acknowledged (zero: never).
	LastAck time.Time `json:"last_ack"`
	// Connected reports whether a session with the receiver is open.
	Connected bool `json:"connected"`
	// Shipped counts the file bytes the receiver acknowledged since the
	// sender started (a counter for metrics).
	Shipped int64 `json:"shipped_bytes"`
	// FullScans counts the complete comparisons of the directory with the
	// receiver's copy since the sender started; with Bytes zero and
	// Applied equal to Sequence after one, the copy was complete when that
	// scan began (a final sync waits for this).
	FullScans uint64 `json:"full_scans"`
}

// Sender ships a dataset directory's changes to a [Receiver] continuously.
// Create it with [NewSender] and call [Sender.Run]; [Sender.Lag] may be
// called at any time from any goroutine.
type Sender struct {
	cfg    SenderConfig
	log    *slog.Logger
	client *http.Client
	base   string // URL with a trailing slash

	// mu guards the fields below it.
	mu        sync.Mutex
	queue     []*update // not yet acknowledged, in sequence order
	queued    int64     // bytes in queue
	next      uint64    // next sequence number
	applied   uint64
	session   string
	lastAck   time.Time
	shipped   int64
	dirty     map[string]time.Time // paths to scan → when first seen changed
	fullScan  bool
	fullSince time.Time // when the pending full scan was asked for
	fullScans uint64    // completed full scans
	scanning  time.Time // oldest change being scanned right now (zero: none)

	dataCh  chan struct{} // the queue gained updates
	spaceCh chan struct{} // the queue lost updates
	dirtyCh chan struct{} // dirty paths or a full scan are pending

	// model is the receiver's copy as it will be once the queue is
	// applied; verifyPath and verifyBlock are where the next verification
	// step starts. Only the scanning goroutine touches them (and the
	// session loop while no scanner runs).
	model       map[string]*fileModel
	verifyPath  string
	verifyBlock int64
}

// NewSender returns a Sender for cfg.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	def := DefaultSenderConfig()
	if cfg.BlockSize == 0 {
		cfg.BlockSize = def.BlockSize
	}
	if cfg.Rescan == 0 {
		cfg.Rescan = def.Rescan
	}
	if cfg.VerifyBytes == 0 {
		cfg.VerifyBytes = def.VerifyBytes
	}
	if cfg.MaxInFlight == 0 {
		cfg.MaxInFlight = def.MaxInFlight
	}
	if cfg.MaxBatch == 0 {
		cfg.MaxBatch = def.MaxBatch
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = def.RequestTimeout
	}
	if cfg.InPlace == nil {
		cfg.InPlace = PageFile
	}
	client := cfg.Client
	if client == nil {
		client = http.DefaultClient
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	base := cfg.URL
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	return &Sender{
		cfg: cfg, log: log, client: client, base: base,
		dirty:  map[string]time.Time{},
		dataCh: make(chan struct{}, 1), spaceCh: make(chan struct{}, 1), dirtyCh: make(chan struct{}, 1),
	}, nil
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Lag returns the current replication lag.
func (s *Sender) Lag() Lag {
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	l := Lag{Bytes: s.queued, Applied: s.applied, Sequence: s.next - 1, LastAck: s.lastAck, Connected: s.session != "", Shipped: s.shipped,
		FullScans: s.fullScans}
	if s.next == 0 {
		l.Sequence = 0
	}
	oldest := s.scanning
	older := func(t time.Time) {
		if !t.IsZero() && (oldest.IsZero() || t.Before(oldest)) {
			oldest = t
		}
	}
	for _, u := range s.queue {
		older(u.observed)
	}
	for _, t := range s.dirty {
		older(t)
	}
	if s.fullScan {
		older(s.fullSince)
	}
	if !oldest.IsZero() {
		l.Time = now.Sub(oldest)
	}
	return l
}

// Run watches the directory and ships its changes until ctx is done (then
// it returns nil). It retries a receiver that is down or unreachable
// forever, with backoff, and resynchronises (compares block hashes of the
// whole copy) when it starts and whenever the receiver lost track. It
// returns [ErrSuperseded] when another sender took over the dataset.
func (s *Sender) Run(ctx context.Context) error {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("stream: watch %s: %w", s.cfg.Dir, err)
	}
	defer w.Close()
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.watch(gctx, w) })
	g.Go(func() error { return s.sessions(gctx) })
	err = g.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// sessions opens a session, then scans and ships until the session ends.
func (s *Sender) sessions(ctx context.Context) error {
	for {
		resp, err := s.openSession(ctx)
		if err != nil {
			return err
		}
		s.reset(resp)
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return s.scanLoop(gctx) })
		g.Go(func() error { return s.shipLoop(gctx) })
		err = g.Wait()
		s.mu.Lock()
		s.session = ""
		s.mu.Unlock()
		if !errors.Is(err, errResync) {
			return err
		}
		s.log.Warn("stream resynchronising with the receiver", "dataset", s.cfg.Dataset)
	}
}

// openSession asks the receiver for a new session, retrying with backoff.
func (s *Sender) openSession(ctx context.Context) (*sessionResponse, error) {
	u := s.base + "session?dataset=" + url.QueryEscape(s.cfg.Dataset) + "&block=" + strconv.Itoa(s.cfg.BlockSize)
	pause := 50 * time.Millisecond
	for {
		resp, err := s.trySession(ctx, u)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		s.log.Warn("stream receiver unreachable", "dataset", s.cfg.Dataset, "err", err)
		if err := sleep(ctx, pause); err != nil {
			return nil, err
		}
		pause = min(2*pause, 2*time.Second)
	}
}

func (s *Sender) trySession(ctx context.Context, u string) (*sessionResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return nil, fmt.Errorf("session: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var sr sessionResponse
	if err := json.NewDecoder(resp.Body).Decode(&sr); err != nil {
		return nil, fmt.Errorf("session: %w", err)
	}
	if sr.Session == "" {
		return nil, errors.New("session: receiver gave no session id")
	}
	return &sr, nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// reset starts a session: the model becomes the receiver's copy, the
// queue empties, numbering continues after the receiver's position, and a
// full scan compares everything.
func (s *Sender) reset(sr *sessionResponse) {
	s.model = make(map[string]*fileModel, len(sr.Files))
	for _, f := range sr.Files {
		s.model[f.Path] = &fileModel{size: f.Size, blocks: f.Blocks, appendOnly: true}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue, s.queued = nil, 0
	s.applied, s.next = sr.Applied, sr.Applied+1
	s.session = sr.Session
	if !s.fullScan {
		s.fullScan, s.fullSince = true, time.Now()
	}
	signal(s.dirtyCh)
	s.log.Info("stream session open", "dataset", s.cfg.Dataset, "session", sr.Session, "applied", sr.Applied, "files", len(sr.Files))
}

// enqueue numbers u and queues it, waiting while the queue is full (but
// always accepting into an empty queue).
func (s *Sender) enqueue(ctx context.Context, u *update) error {
	for {
		s.mu.Lock()
		if len(s.queue) == 0 || s.queued+u.size() <= s.cfg.MaxInFlight {
			u.seq = s.next
			s.next++
			s.queue = append(s.queue, u)
			s.queued += u.size()
			s.mu.Unlock()
			signal(s.dataCh)
			return nil
		}
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-s.spaceCh:
		}
	}
}

// ack drops what the receiver applied. It reports false when the receiver
// needs an update the queue no longer holds.
func (s *Sender) ack(applied uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := 0
	for i < len(s.queue) && s.queue[i].seq <= applied {
		s.queued -= s.queue[i].size()
		s.shipped += int64(len(s.queue[i].data))
		s.queue[i] = nil
		i++
	}
	s.queue = s.queue[i:]
	if applied > s.applied {
		s.applied = applied
	}
	s.lastAck = time.Now()
	signal(s.spaceCh)
	return len(s.queue) == 0 || s.queue[0].seq == applied+1
}

// shipLoop sends the queue's head to the receiver, one request at a time,
// until ctx ends or the session does.
func (s *Sender) shipLoop(ctx context.Context) error {
	applyURL := s.base + "apply?dataset=" + url.QueryEscape(s.cfg.Dataset)
	pause := 50 * time.Millisecond
	for {
		s.mu.Lock()
		sess := s.session
		var n int64
		// A fresh buffer each time: the transport may still read a
		// failed request's body after Do returned.
		body := []byte(bodyMagic)
		count := 0
		for _, u := range s.queue {
			if count > 0 && n+u.size() > s.cfg.MaxBatch {
				break
			}
			body = appendUpdate(body, u)
			n += u.size()
			count++
		}
		s.mu.Unlock()
		if count == 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-s.dataCh:
			}
			continue
		}
		ar, code, err := s.post(ctx, applyURL+"&session="+url.QueryEscape(sess), body)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s.log.Warn("stream apply failed, retrying", "dataset", s.cfg.Dataset, "err", err)
			if err := sleep(ctx, pause); err != nil {
				return err
			}
			pause = min(2*pause, 2*time.Second)
			continue
		}
		pause = 50 * time.Millisecond
		switch {
		case code == http.StatusOK:
			if !s.ack(ar.Applied) {
				return errResync
			}
		case code == http.StatusConflict && ar.Error == conflictSession:
			return ErrSuperseded
		case code == http.StatusConflict:
			// The receiver wants applied+1: resend from there if we still
			// hold it.
			if !s.ack(ar.Applied) {
				return errResync
			}
		default:
			s.log.Error("stream receiver refused an update", "dataset", s.cfg.Dataset, "status", code, "err", ar.Error)
			s.ack(ar.Applied)
			return errResync
		}
	}
}

// post sends one apply request and decodes the answer.
func (s *Sender) post(ctx context.Context, u string, body []byte) (applyResponse, int, error) {
	var ar applyResponse
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return ar, 0, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := s.client.Do(req)
	if err != nil {
		return ar, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return ar, 0, err
	}
	if err := json.Unmarshal(b, &ar); err != nil {
		return ar, 0, fmt.Errorf("apply: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	return ar, resp.StatusCode, nil
}
