#!/bin/sh
# Understudy packages, before unpacking (install and upgrade; deb and rpm):
# create the system user and group the daemons run as, so that the files
# unpacked next can belong to it. Shared by both packages.
set -e

if ! getent group understudy >/dev/null; then
	groupadd --system understudy
fi
if ! getent passwd understudy >/dev/null; then
	useradd --system --gid understudy --home-dir /var/lib/understudy \
		--no-create-home --shell /usr/sbin/nologin \
		--comment "Understudy daemons" understudy
fi
exit 0
