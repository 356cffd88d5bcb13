#!/bin/sh
# understudy-coordinator, after unpacking (install and upgrade; deb and rpm).
#
# Never enables or starts the service: the example configuration is not
# valid until the operator fills it in. On an upgrade a running service,
# which is therefore configured, is restarted on the new binary.
set -e
unit=understudy-coordinator.service

# deb: "configure OLD-VERSION" on upgrade; rpm: $1 counts the installed
# versions, 2 or more on upgrade.
upgrade=no
if [ "$1" = configure ] && [ -n "$2" ]; then
	upgrade=yes
elif [ "$1" -ge 2 ] 2>/dev/null; then
	upgrade=yes
fi

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
	if [ "$upgrade" = yes ]; then
		systemctl try-restart "$unit" || true
	fi
fi
exit 0
