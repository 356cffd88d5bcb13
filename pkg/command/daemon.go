package command

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/understudy/understudy/pkg/sdnotify"
)

// NewLogger returns a text logger on stderr at the named level, and the
// level variable that Daemon's SIGHUP reload sets.
func NewLogger(level string) (*slog.Logger, *slog.LevelVar, error) {
	lv := new(slog.LevelVar)
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, nil, fmt.Errorf("log level %q is not debug, info, warn or error", level)
	}
	lv.Set(lvl)
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv})), lv, nil
}

// Daemon runs run(ctx) under systemd's notification protocol (see
// sdnotify.Supervise) and, until run returns, re-reads the configuration
// on SIGHUP with reload, which returns the configured log level: the level
// is applied at once, other changes are reported as needing a restart, and
// a file that does not load is reported and changes nothing.
func Daemon(ctx context.Context, logger *slog.Logger, lv *slog.LevelVar, reload func() (string, error), run func(context.Context) error) error {
	// The reload goroutine ends when run returns (cancel runs before
	// wg.Wait: defers run last-in first-out).
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Go(func() { reloadOnHUP(ctx, logger, lv, reload) })
	return sdnotify.Supervise(ctx, logger, run)
}

func reloadOnHUP(ctx context.Context, logger *slog.Logger, lv *slog.LevelVar, load func() (string, error)) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		level, err := load()
		if err != nil {
			logger.Error("reload: configuration rejected, keeping the running one", "err", err)
			continue
		}
		var lvl slog.Level
		if err := lvl.UnmarshalText([]byte(level)); err != nil {
			logger.Error("reload: configuration rejected, keeping the running one", "err", err)
			continue
		}
		lv.Set(lvl)
		logger.Info("reload: log level applied; other changes take effect on restart", "log_level", level)
	}
}
