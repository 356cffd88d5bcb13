// Package sdnotify tells systemd how an Understudy daemon is doing: ready,
// reloading, stopping, a free-form status line, and watchdog keep-alives.
//
// It is the one package that wraps github.com/coreos/go-systemd/v22/daemon.
// It imports nothing from agent/ or coordinator/.
//
// Everything here is a no-op when NOTIFY_SOCKET is unset, so the daemons call
// it unconditionally: under systemd with Type=notify the messages reach the
// service manager, anywhere else (a terminal, a test, a container) nothing
// happens. The mains use [Supervise], which sends READY=1 once the daemon
// runs, keeps the watchdog fed while it runs and sends STOPPING=1 when asked
// to stop.
//
// The watchdog proves that the process is scheduled and its runtime alive; it
// is fed from its own goroutine, so it does not prove that every loop of the
// daemon makes progress.
package sdnotify
