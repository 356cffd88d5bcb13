#!/bin/sh
# understudy-agent, before removal (deb: remove, upgrade, ...; rpm: 0 on
# erase, 1 on upgrade). Stops the service only when the package goes away;
# an upgrade restarts it from postinstall instead.
set -e
unit=understudy-agent.service

case "$1" in
remove | 0)
	if [ -d /run/systemd/system ]; then
		systemctl stop "$unit" || true
	fi
	if [ "$1" = 0 ] && command -v systemctl >/dev/null; then
		systemctl --no-reload disable "$unit" >/dev/null 2>&1 || true
	fi
	;;
esac
exit 0
