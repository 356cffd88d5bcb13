package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// newLogger returns a text logger on stderr at the named level, and the
// level variable that SIGHUP reloads.
func newLogger(level string) (*slog.Logger, *slog.LevelVar, error) {
	lv := new(slog.LevelVar)
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, nil, fmt.Errorf("log level %q is not debug, info, warn or error", level)
	}
	lv.Set(lvl)
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv})), lv, nil
}

// reloadOnHUP re-reads the configuration on SIGHUP until ctx is done and
// applies what can change without a restart: the log level. Other changes
// are reported as needing a restart.
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
		lvl.UnmarshalText([]byte(level)) // validated by load
		lv.Set(lvl)
		logger.Info("reload: log level applied; other changes take effect on restart", "log_level", level)
	}
}
