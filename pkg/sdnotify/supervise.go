package sdnotify

import (
	"context"
	"log/slog"
	"sync"
)

// Supervise runs run(ctx) and keeps systemd informed about it: READY=1 as
// run starts, watchdog keep-alives while it runs (see [Watchdog])
// and STOPPING=1 when ctx is cancelled. It returns run's error after its own
// goroutines have exited.
//
// Call it after the daemon's New has bound its listeners, so that READY=1
// means the daemon accepts connections. A failed notification does not stop
// the daemon; it is logged on logger at warn level.
func Supervise(ctx context.Context, logger *slog.Logger, run func(context.Context) error) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// notifyCtx ends when ctx is cancelled or run returns on its own,
	// whichever comes first, so that the goroutines below always exit.
	notifyCtx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()

	wg.Go(func() {
		if err := Ready(); err != nil {
			logger.Warn("systemd notification failed", "err", err)
		}
		<-notifyCtx.Done()
		if ctx.Err() != nil {
			if err := Stopping(); err != nil {
				logger.Warn("systemd notification failed", "err", err)
			}
		}
	})
	wg.Go(func() {
		if err := Watchdog(notifyCtx); err != nil {
			logger.Warn("systemd watchdog stopped", "err", err)
		}
	})
	return run(ctx)
}
