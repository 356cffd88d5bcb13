#!/bin/sh
# understudy-agent, after removal (deb: remove, purge, upgrade, ...; rpm: 0 on
# erase, 1 on upgrade).
#
# Only a deb purge deletes this daemon's configuration and data directory.
# The understudy user stays: files it owns may remain elsewhere (archives,
# the other Understudy package), and a reused uid would inherit them.
set -e
unit=understudy-agent.service

case "$1" in
purge)
	rm -f /etc/understudy/agent.yaml /etc/understudy/agent.yaml.dpkg-*
	rm -rf /var/lib/understudy/agent
	rm -f /etc/systemd/system/multi-user.target.wants/$unit
	rmdir --ignore-fail-on-non-empty /etc/understudy /var/lib/understudy 2>/dev/null || true
	;;
esac
if [ -d /run/systemd/system ]; then
	systemctl daemon-reload || true
fi
exit 0
