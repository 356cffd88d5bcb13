// Package command is what the two programs' command lines share: usage
// errors and exit statuses, the root context cancelled by SIGINT and
// SIGTERM, the stderr logger whose level SIGHUP reloads, and running a
// daemon under systemd's notification protocol.
//
// Exit statuses: 0 success, 1 failure, 2 a usage or configuration error.
// Errors are printed as one line, prefixed with the program's name.
package command
