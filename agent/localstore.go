package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/understudy/understudy/agent/internal/restore"
	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/command"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
)

// Shared plumbing of the standalone store commands (backup, restore,
// snapshots, verify, forget, drill, init): flags, opening the store, error
// classification, JSON and progress output.

type storeFlags struct {
	dir     string
	keyFile string
	json    bool
	// compression overrides the store's setting (backup's --compression).
	compression string
}

func (f *storeFlags) register(cmd *cobra.Command, withJSON bool) {
	cmd.Flags().StringVar(&f.dir, "store", "", "store directory (required)")
	cmd.Flags().StringVar(&f.keyFile, "key-file", "", "key file of an encrypted store")
	if withJSON {
		cmd.Flags().BoolVar(&f.json, "json", false, "print JSON")
	}
}

func (f *storeFlags) key() ([]byte, error) {
	if f.keyFile == "" {
		return nil, nil
	}
	k, err := store.LoadKeyFile(f.keyFile)
	if err != nil {
		return nil, command.Usage(err)
	}
	return k, nil
}

// open opens the store named by --store.
func (f *storeFlags) open() (*store.Store, error) {
	if f.dir == "" {
		return nil, command.Usagef("--store is required")
	}
	k, err := f.key()
	if err != nil {
		return nil, err
	}
	st, err := store.Open(f.dir, store.Options{Key: k, Logger: newCLILogger(), Compression: store.Compression(f.compression)})
	if err != nil {
		return nil, classify(err)
	}
	return st, nil
}

// classify turns errors caused by what the user typed into usage errors
// (exit status 2).
func classify(err error) error {
	for _, e := range []error{
		store.ErrNotStore, store.ErrExists, store.ErrKeyRequired, store.ErrWrongKey, store.ErrKeyUnexpected, store.ErrBadCompression,
		snapshot.ErrNotFound, snapshot.ErrAmbiguous, chunk.ErrUnknownClass,
		restore.ErrPathNotFound,
	} {
		if errors.Is(err, e) {
			return command.Usage(err)
		}
	}
	return err
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// limitMemory caps the heap of the data-path commands unless the operator
// set GOMEMLIMIT.
func limitMemory() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(80 << 20)
	}
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// progressLine redraws one status line on a terminal twice a second; on
// anything else it prints nothing.
type progressLine struct {
	out   *os.File
	stop  chan struct{}
	wg    sync.WaitGroup
	start time.Time
}

// counters returns files done/total, bytes done/total and whether the
// totals are final.
type counters func() (files, filesTotal, bytes, bytesTotal int64)

func startProgress(out *os.File, verb string, c counters) *progressLine {
	p := &progressLine{out: out, stop: make(chan struct{}), start: time.Now()}
	if !isTerminal(out) {
		return p
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				fmt.Fprint(out, "\r\033[K")
				return
			case <-t.C:
				fmt.Fprint(out, "\r\033[K"+p.format(verb, c))
			}
		}
	}()
	return p
}

func (p *progressLine) format(verb string, c counters) string {
	files, filesTotal, bytes, bytesTotal := c()
	el := time.Since(p.start)
	rate := float64(bytes) / el.Seconds()
	s := fmt.Sprintf("%s: %d", verb, files)
	if filesTotal > 0 {
		s += fmt.Sprintf("/%d", filesTotal)
	}
	s += " files, " + humanBytes(bytes)
	if bytesTotal > 0 {
		s += "/" + humanBytes(bytesTotal)
	}
	s += fmt.Sprintf(", %s/s", humanBytes(int64(rate)))
	if bytesTotal > bytes && rate > 0 {
		eta := time.Duration(float64(bytesTotal-bytes) / rate * float64(time.Second))
		s += ", ETA " + eta.Round(time.Second).String()
	}
	return s
}

func (p *progressLine) done() {
	close(p.stop)
	p.wg.Wait()
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// parseTime reads --at: RFC 3339, or "2006-01-02 15:04[:05]" and
// "2006-01-02" in local time.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, command.Usagef("--at %q: want RFC 3339 (2026-01-02T15:04:05Z) or \"2026-01-02 15:04:05\"", s)
}

// newCLILogger reports warnings (stale locks, damaged files) on stderr.
func newCLILogger() *slog.Logger {
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
}
