#!/bin/sh
# Turns a "git describe --tags --always --dirty" string into the semver nfpm
# wants; nfpm then writes it in deb and rpm form (a semver pre-release
# "-x" becomes "~x", which sorts before the release in both).
#
#   v1.2.3                 1.2.3
#   v1.2.3-rc.1            1.2.3-rc.1           (package 1.2.3~rc.1)
#   v1.2.3-4-gabc1234      1.2.3+4.gabc1234     (after 1.2.3, before 1.2.4)
#   abc1234                0.0.0-gabc1234       (package 0.0.0~gabc1234)
#   ...-dirty              ... with ".dirty" appended to the last part
#   dev, or anything else  0.0.0-dev
#
# Untagged builds (0.0.0~g<hash>) do not sort among themselves: tag
# releases so that upgrades go the right way.
set -eu

d=${1:-}
dirty=
case "$d" in *-dirty) d=${d%-dirty} dirty=dirty ;; esac
d=${d#v}

# join SEP A B prints A, SEP and B, leaving out SEP when either is empty.
join() { if [ -n "$2" ] && [ -n "$3" ]; then echo "$2$1$3"; else echo "$2$3"; fi; }

semver='[0-9][0-9]*\.[0-9][0-9]*\.[0-9][0-9]*'
if echo "$d" | grep -Eq "^$semver(-[0-9A-Za-z.-]+)?-[0-9]+-g[0-9a-f]+\$"; then
	# A tag plus commits: N.N.N[-pre]-COUNT-gHASH.
	hash=${d##*-}
	rest=${d%-*}
	count=${rest##*-}
	tag=${rest%-*}
	echo "$tag+$(join . "$count.$hash" "$dirty")"
elif echo "$d" | grep -Eq "^$semver(-[0-9A-Za-z.-]+)?\$"; then
	if [ -n "$dirty" ]; then echo "$d+$dirty"; else echo "$d"; fi
elif echo "$d" | grep -Eq '^[0-9a-f]{4,}$'; then
	echo "0.0.0-$(join . "g$d" "$dirty")"
else
	echo "0.0.0-$(join . dev "$dirty")"
fi
