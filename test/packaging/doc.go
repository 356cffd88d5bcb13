// Package packaging tests what operators install: the systemd units in
// systemd/, the example configurations in packaging/config/, and the .deb and
// .rpm packages that "make package" builds.
//
// It has no code of its own and imports only the daemons' config packages.
//
// Without build tags, go test checks the units with systemd-analyze verify
// and scores them with systemd-analyze security (skipped when
// systemd-analyze is missing), and checks that the example configurations
// are refused until their REQUIRED lines are filled in and valid afterwards.
//
// With -tags packaging (make test-packaging) it also builds the packages
// from a clean clone of the repository's HEAD (so commit first), inspects
// them with dpkg-deb and rpm, installs, upgrades, removes and purges the .deb
// packages in a throwaway Debian root made by debootstrap, and runs the
// packaged programs with NOTIFY_SOCKET and WATCHDOG_USEC set, as systemd
// does, to see READY=1, watchdog pings and STOPPING=1 on SIGTERM. That needs
// root and the tools apt-get install -y rpm debootstrap; the Debian root is
// cached as a tarball under $HOME/.cache/understudy/.
package packaging
