package sdnotify

import (
	"context"
	"fmt"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// WatchdogInterval is systemd's watchdog timeout for this process, from
// WATCHDOG_USEC (and WATCHDOG_PID, when set, naming this process), or 0 when
// no watchdog is configured.
func WatchdogInterval() (time.Duration, error) {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0, fmt.Errorf("sd_notify watchdog: %w", err)
	}
	return d, nil
}

// Watchdog sends WATCHDOG=1 at once and then every half watchdog timeout
// until ctx is done, when it returns nil. It returns at once, with nil, when
// no watchdog is configured. It returns an error when the watchdog settings
// cannot be read or a keep-alive cannot be sent; systemd then kills and
// restarts the service once the timeout passes.
func Watchdog(ctx context.Context) error {
	timeout, err := WatchdogInterval()
	if err != nil || timeout == 0 {
		return err
	}
	tick := time.NewTicker(timeout / 2)
	defer tick.Stop()
	for {
		if err := notify(daemon.SdNotifyWatchdog); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}
