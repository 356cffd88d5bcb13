package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// The writer lock is an flock on the file "lock" in the store. The kernel
// drops it when its holder dies, however it dies, so a lock left behind by
// a killed process is detected as stale the moment another writer tries
// it. The file also names its holder (host, pid, since) for messages.

type lockInfo struct {
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
}

// lockPoll is how often a waiting writer retries the lock.
const lockPoll = 100 * time.Millisecond

func (s *Store) acquireLock(ctx context.Context, wait bool) (*os.File, error) {
	path := filepath.Join(s.dir, lockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store: lock: %w", err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("store: lock: %w", err)
		}
		if !wait {
			var li lockInfo
			b, _ := os.ReadFile(path)
			_ = json.Unmarshal(b, &li)
			f.Close()
			return nil, fmt.Errorf("%w (pid %d on %s since %s)", ErrLocked, li.PID, li.Host, li.Since.Format(time.RFC3339))
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("%w: %w", ErrLocked, ctx.Err())
		case <-t.C:
		}
	}
	var prev lockInfo
	if b, _ := os.ReadFile(path); len(b) > 0 && json.Unmarshal(b, &prev) == nil && prev.PID != 0 {
		s.log.Warn("stale store lock removed", "pid", prev.PID, "host", prev.Host, "since", prev.Since)
	}
	host, _ := os.Hostname()
	b, _ := json.Marshal(lockInfo{Host: host, PID: os.Getpid(), Since: time.Now().UTC()})
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(b, 0)
	}
	return f, nil
}

func releaseLock(f *os.File) {
	// Emptying the file tells the next writer the lock was released cleanly.
	_ = f.Truncate(0)
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	f.Close()
}
