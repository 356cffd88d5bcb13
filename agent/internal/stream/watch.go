package stream

import (
	"context"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/fsnotify/fsnotify"
)

// watch turns fsnotify events into dirty paths for the scanner, adding
// watches on new directories; an overflow asks for a full scan.
func (s *Sender) watch(ctx context.Context, w *fsnotify.Watcher) error {
	s.addWatches(w, s.cfg.Dir)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.Events:
			if !ok {
				return nil
			}
			if ev.Op == fsnotify.Chmod {
				continue
			}
			rel, err := filepath.Rel(s.cfg.Dir, ev.Name)
			if err != nil || rel == "." || strings.HasPrefix(rel, "..") {
				continue
			}
			if ev.Has(fsnotify.Create) {
				if fi, err := os.Lstat(ev.Name); err == nil && fi.IsDir() {
					s.addWatches(w, ev.Name)
				}
			}
			s.markDirty(path.Clean(filepath.ToSlash(rel)))
		case err, ok := <-w.Errors:
			if !ok {
				return nil
			}
			s.log.Warn("stream file watching lost events, rescanning", "dataset", s.cfg.Dataset, "err", err)
			s.mu.Lock()
			if !s.fullScan {
				s.fullScan, s.fullSince = true, time.Now()
			}
			s.mu.Unlock()
			signal(s.dirtyCh)
		}
	}
}

func (s *Sender) markDirty(rel string) {
	s.mu.Lock()
	if _, ok := s.dirty[rel]; !ok {
		s.dirty[rel] = time.Now()
	}
	s.mu.Unlock()
	signal(s.dirtyCh)
}

// addWatches watches dir and the directories under it. Directories that
// cannot be watched (limits) are still covered by the periodic rescan.
func (s *Sender) addWatches(w *fsnotify.Watcher, dir string) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return nil
		}
		if err := w.Add(p); err != nil {
			s.log.Warn("stream cannot watch directory, relying on rescans", "dataset", s.cfg.Dataset, "dir", p, "err", err)
		}
		return nil
	})
}
