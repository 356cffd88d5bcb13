package sdnotify

import (
	"fmt"
	"strings"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/sys/unix"
)

// notify sends one state message to the socket named by NOTIFY_SOCKET. It
// keeps the variable set so that later messages reach systemd too.
func notify(state string) error {
	if _, err := daemon.SdNotify(false, state); err != nil {
		return fmt.Errorf("sd_notify %s: %w", strings.SplitN(state, "\n", 2)[0], err)
	}
	return nil
}

// Ready tells systemd that start-up is finished: listeners are bound and the
// daemon serves. With Type=notify, systemctl start returns only after this.
func Ready() error { return notify(daemon.SdNotifyReady) }

// Stopping tells systemd that the daemon is shutting down on request, so
// that the time until exit counts against TimeoutStopSec and not as a hang.
func Stopping() error { return notify(daemon.SdNotifyStopping) }

// Reloading tells systemd that the daemon is reloading its configuration;
// send [Ready] when the reload is done. The message carries MONOTONIC_USEC,
// which Type=notify-reload requires.
func Reloading() error {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		return fmt.Errorf("sd_notify RELOADING=1: read monotonic clock: %w", err)
	}
	usec := ts.Nano() / 1000
	return notify(fmt.Sprintf("%s\nMONOTONIC_USEC=%d", daemon.SdNotifyReloading, usec))
}

// Status sets the one-line status shown by systemctl status. Newlines in s
// are replaced by spaces, as the protocol is line based.
func Status(s string) error {
	return notify("STATUS=" + strings.ReplaceAll(s, "\n", " "))
}
