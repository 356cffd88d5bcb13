//go:build packaging

package packaging

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var daemons = []string{"agent", "coordinator"}

// run runs name with args in dir and returns its trimmed stdout, failing the
// test on any error.
func run(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, code, err := runCode(t.Context(), dir, env, name, args...)
	if err != nil || code != 0 {
		t.Fatalf("%s %s: exit %d, %v\n%s", name, strings.Join(args, " "), code, err, out)
	}
	return out
}

// runCode runs name and returns its combined output and exit status; err is
// set only when the program could not be run.
func runCode(ctx context.Context, dir string, env []string, name string, args ...string) (string, int, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Stdin = nil // dpkg must not wait for an answer
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return strings.TrimSpace(out.String()), ee.ExitCode(), nil
	}
	return strings.TrimSpace(out.String()), 0, err
}

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("the packaging test installs packages into a chroot: run it as root")
	}
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (apt-get install -y rpm debootstrap dpkg git make)", tool)
		}
	}
}

// build is one "make package" run.
type build struct {
	describe string // the version the binaries report
	semver   string // what packaging/version.sh made of it
	dir      string // holding the four packages
}

// debVersion is the Debian version nfpm writes for a semver, release 1.
func (b build) debVersion() string { return strings.Replace(b.semver, "-", "~", 1) + "-1" }

func (b build) deb(t *testing.T, daemon string) string {
	return b.glob(t, "understudy-"+daemon+"_*.deb")
}
func (b build) rpm(t *testing.T, daemon string) string {
	return b.glob(t, "understudy-"+daemon+"-*.rpm")
}
func (b build) glob(t *testing.T, pattern string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(b.dir, pattern))
	if len(m) != 1 {
		t.Fatalf("%s in %s: found %v, want one package", pattern, b.dir, m)
	}
	return m[0]
}

// makePackage runs "make package" in src (with VERSION=version unless
// empty) and moves the four packages into a directory of their own.
func makePackage(t *testing.T, src, version string) build {
	t.Helper()
	var args []string
	b := build{describe: version}
	if version == "" {
		b.describe = run(t, src, nil, "git", "describe", "--tags", "--always", "--dirty")
	} else {
		args = append(args, "VERSION="+version)
	}
	b.semver = run(t, src, nil, "packaging/version.sh", b.describe)
	run(t, src, nil, "make", append([]string{"package"}, args...)...)

	b.dir = t.TempDir()
	pkgs, _ := filepath.Glob(filepath.Join(src, "dist", "understudy-*"))
	if len(pkgs) != 4 {
		t.Fatalf("make package built %v, want four packages", pkgs)
	}
	for _, p := range pkgs {
		if err := os.Rename(p, filepath.Join(b.dir, filepath.Base(p))); err != nil {
			t.Fatal(err)
		}
	}
	return b
}

// nextVersion is a release tag that sorts after semver.
func nextVersion(t *testing.T, semver string) string {
	t.Helper()
	m := regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)`).FindStringSubmatch(semver)
	if m == nil {
		t.Fatalf("version %q does not start with N.N.N", semver)
	}
	patch, _ := strconv.Atoi(m[3])
	return fmt.Sprintf("v%s.%s.%d", m[1], m[2], patch+1)
}

func TestPackages(t *testing.T) {
	requireTools(t, "git", "make", "dpkg-deb", "rpm", "chroot", "tar")
	root := repoRoot(t)

	// A clean checkout of HEAD: what is committed is what gets packaged.
	src := filepath.Join(t.TempDir(), "src")
	run(t, "", nil, "git", "clone", "--quiet", root, src)

	v1 := makePackage(t, src, "")
	v2 := makePackage(t, src, nextVersion(t, v1.semver))
	t.Logf("built %s (%s) and %s (%s)", v1.debVersion(), v1.describe, v2.debVersion(), v2.describe)

	t.Run("deb contents", func(t *testing.T) { inspectDeb(t, v1) })
	t.Run("rpm contents", func(t *testing.T) { inspectRPM(t, v1) })
	t.Run("install upgrade purge", func(t *testing.T) { installUpgradePurge(t, v1, v2) })
	// dist/build still holds the second build's programs.
	t.Run("daemons notify systemd", func(t *testing.T) { daemonsNotifySystemd(t, filepath.Join(src, "dist", "build")) })
}

// entry is one line of dpkg-deb --contents.
type entry struct{ mode, owner string }

func inspectDeb(t *testing.T, b build) {
	for _, d := range daemons {
		deb := b.deb(t, d)
		info := run(t, "", nil, "dpkg-deb", "--info", deb)
		t.Logf("dpkg-deb --info %s:\n%s", filepath.Base(deb), info)
		for _, script := range []string{"preinst", "postinst", "prerm", "postrm", "conffiles"} {
			if !regexp.MustCompile(`\s` + script + `\s`).MatchString(info) {
				t.Errorf("%s: no %s in control archive", d, script)
			}
		}
		fields := run(t, "", nil, "dpkg-deb", "--show", "--showformat", "${Package} ${Version} ${Depends}", deb)
		if want := fmt.Sprintf("understudy-%s %s passwd", d, b.debVersion()); fields != want {
			t.Errorf("%s: fields %q, want %q", d, fields, want)
		}
		if got := run(t, "", nil, "dpkg-deb", "--info", deb, "conffiles"); got != "/etc/understudy/"+d+".yaml" {
			t.Errorf("%s: conffiles %q, want only the example config", d, got)
		}

		contents := map[string]entry{}
		for _, line := range strings.Split(run(t, "", nil, "dpkg-deb", "--contents", deb), "\n") {
			f := strings.Fields(line)
			if len(f) >= 6 {
				contents[strings.TrimSuffix(strings.TrimPrefix(f[len(f)-1], "."), "/")] = entry{f[0], f[1]}
			}
		}
		for path, want := range map[string]entry{
			"/usr/bin/understudy-" + d:                             {"-rwxr-xr-x", "root/root"},
			"/usr/lib/systemd/system/understudy-" + d + ".service": {"-rw-r--r--", "root/root"},
			"/etc/understudy":                                      {"drwxr-x---", "root/understudy"},
			"/etc/understudy/" + d + ".yaml":                       {"-rw-r-----", "root/understudy"},
			"/var/lib/understudy":                                  {"drwxr-x---", "understudy/understudy"},
		} {
			if got, ok := contents[path]; !ok {
				t.Errorf("%s: %s missing from the package", d, path)
			} else if got != want {
				t.Errorf("%s: %s is %s %s, want %s %s", d, path, got.mode, got.owner, want.mode, want.owner)
			}
		}
	}
}

func inspectRPM(t *testing.T, b build) {
	for _, d := range daemons {
		rpm := b.rpm(t, d)
		t.Logf("rpm -qp --info %s:\n%s", filepath.Base(rpm), run(t, "", nil, "rpm", "-qp", "--info", rpm))
		rel := strings.Replace(b.semver, "-", "~", 1)
		if got, want := run(t, "", nil, "rpm", "-qp", "--qf", "%{NAME} %{VERSION} %{RELEASE}", rpm),
			fmt.Sprintf("understudy-%s %s 1", d, rel); got != want {
			t.Errorf("%s: rpm header %q, want %q", d, got, want)
		}
		files := run(t, "", nil, "rpm", "-qp", "--qf",
			`[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME}/%{FILEGROUPNAME} %{FILEFLAGS:fflags}\n]`, rpm)
		got := map[string]string{}
		for _, line := range strings.Split(files, "\n") {
			path, rest, _ := strings.Cut(line, " ")
			got[path] = strings.TrimSpace(rest)
		}
		for path, want := range map[string]string{
			"/usr/bin/understudy-" + d:                             "-rwxr-xr-x root/root",
			"/usr/lib/systemd/system/understudy-" + d + ".service": "-rw-r--r-- root/root",
			"/etc/understudy":                                      "drwxr-x--- root/understudy",
			"/etc/understudy/" + d + ".yaml":                       "-rw-r----- root/understudy cn", // %config(noreplace)
			"/var/lib/understudy":                                  "drwxr-x--- understudy/understudy",
		} {
			if got[path] != want {
				t.Errorf("%s: %s is %q, want %q", d, path, got[path], want)
			}
		}
		scripts := run(t, "", nil, "rpm", "-qp", "--scripts", rpm)
		for _, s := range []string{"preinstall", "postinstall", "preuninstall", "postuninstall"} {
			if !strings.Contains(scripts, s+" scriptlet") {
				t.Errorf("%s: no %s scriptlet", d, s)
			}
		}
	}
}

// debianRoot unpacks the cached minimal Debian root into a fresh directory,
// creating the cache with debootstrap on first use (about 150 s).
func debianRoot(t *testing.T) string {
	t.Helper()
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	cacheDir := filepath.Join(home, ".cache", "understudy")
	tarball := filepath.Join(cacheDir, "bookworm-minbase.tar.gz")
	if _, err := os.Stat(tarball); err != nil {
		requireTools(t, "debootstrap")
		if err := os.MkdirAll(cacheDir, 0o755); err != nil {
			t.Fatal(err)
		}
		boot := t.TempDir()
		t.Logf("creating %s with debootstrap", tarball)
		run(t, "", nil, "debootstrap", "--variant=minbase", "bookworm", boot)
		tmp := tarball + ".tmp"
		run(t, "", nil, "tar", "-C", boot, "-czf", tmp, ".")
		if err := os.Rename(tmp, tarball); err != nil {
			t.Fatal(err)
		}
	}
	dir := t.TempDir()
	run(t, "", nil, "tar", "-C", dir, "-xzf", tarball)
	return dir
}

// chrootEnv keeps dpkg from asking questions inside the Debian root.
var chrootEnv = []string{
	"DEBIAN_FRONTEND=noninteractive", "LC_ALL=C",
	"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
}

func installUpgradePurge(t *testing.T, v1, v2 build) {
	dir := debianRoot(t)
	in := func(args ...string) string {
		t.Helper()
		return run(t, "", chrootEnv, "chroot", append([]string{dir}, args...)...)
	}
	exists := func(path string) bool {
		_, err := os.Lstat(filepath.Join(dir, path))
		return err == nil
	}
	read := func(path string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	copyIn := func(b build, name string) []string {
		t.Helper()
		var paths []string
		for _, d := range daemons {
			src := b.deb(t, d)
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join("/tmp", name, filepath.Base(src))
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(dst)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, dst), data, 0o644); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, dst)
		}
		return paths
	}
	checkVersions := func(b build) {
		t.Helper()
		for _, d := range daemons {
			if got, want := in("understudy-"+d, "--version"), "understudy-"+d+" version "+b.describe; got != want {
				t.Errorf("--version: %q, want %q", got, want)
			}
			if got := in("dpkg-query", "-W", "-f", "${Version} ${Status}", "understudy-"+d); got != b.debVersion()+" install ok installed" {
				t.Errorf("dpkg-query understudy-%s: %q, want %s installed", d, got, b.debVersion())
			}
		}
	}

	// Install.
	in(append([]string{"dpkg", "-i"}, copyIn(v1, "v1")...)...)
	checkVersions(v1)
	if got := in("stat", "-c", "%U:%G %a", "/var/lib/understudy", "/etc/understudy", "/etc/understudy/agent.yaml"); got != "understudy:understudy 750\nroot:understudy 750\nroot:understudy 640" {
		t.Errorf("ownership after install:\n%s", got)
	}
	if got := in("getent", "passwd", "understudy"); !strings.Contains(got, ":/var/lib/understudy:/usr/sbin/nologin") {
		t.Errorf("understudy user: %q", got)
	}
	for _, d := range daemons {
		if exists("/etc/systemd/system/multi-user.target.wants/understudy-" + d + ".service") {
			t.Errorf("understudy-%s enabled by the package", d)
		}
	}
	// As shipped, the configs keep the daemons from starting.
	for _, c := range [][]string{
		{"understudy-coordinator", "serve", "--config", "/etc/understudy/coordinator.yaml"},
		{"understudy-agent", "run", "--config", "/etc/understudy/agent.yaml"},
	} {
		out, code, err := runCode(t.Context(), "", chrootEnv, "chroot", append([]string{dir}, c...)...)
		if err != nil || code != 2 || !strings.Contains(out, "must be set") {
			t.Errorf("%s with the example config: exit %d, %v: %s; want exit 2 naming the missing keys", c[0], code, err, out)
		}
	}

	// The operator edits a config and the daemon writes data.
	const edit = "\n# edited by the operator\n"
	agentCfg := read("/etc/understudy/agent.yaml") + edit
	if err := os.WriteFile(filepath.Join(dir, "etc/understudy/agent.yaml"), []byte(agentCfg), 0o640); err != nil {
		t.Fatal(err)
	}
	for _, d := range daemons {
		in("install", "-d", "-o", "understudy", "-g", "understudy", "/var/lib/understudy/"+d)
		in("sh", "-c", "echo state > /var/lib/understudy/"+d+"/state.db")
	}

	// Upgrade: the edit and the data survive, with no conffile prompt.
	in(append([]string{"dpkg", "-i"}, copyIn(v2, "v2")...)...)
	checkVersions(v2)
	if got := read("/etc/understudy/agent.yaml"); got != agentCfg {
		t.Errorf("agent.yaml after upgrade lost the operator's edit:\n%s", got)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "etc/understudy/*.dpkg-*")); len(m) > 0 {
		t.Errorf("upgrade left conffile copies %v", m)
	}
	for _, d := range daemons {
		if !exists("/var/lib/understudy/" + d + "/state.db") {
			t.Errorf("upgrade removed %s's data", d)
		}
	}

	// Remove keeps configuration and data; purge deletes them.
	in("dpkg", "--remove", "understudy-agent")
	if exists("/usr/bin/understudy-agent") || !exists("/etc/understudy/agent.yaml") || !exists("/var/lib/understudy/agent/state.db") {
		t.Error("remove: want the binary gone and the config and data kept")
	}
	in("dpkg", "--purge", "understudy-agent")
	if exists("/etc/understudy/agent.yaml") || exists("/var/lib/understudy/agent") {
		t.Error("purge of the agent left its config or data")
	}
	if !exists("/etc/understudy/coordinator.yaml") || !exists("/var/lib/understudy/coordinator/state.db") {
		t.Error("purge of the agent removed the coordinator's config or data")
	}
	in("dpkg", "--purge", "understudy-coordinator")
	for _, p := range []string{"/etc/understudy", "/var/lib/understudy", "/usr/bin/understudy-coordinator",
		"/usr/lib/systemd/system/understudy-coordinator.service"} {
		if exists(p) {
			t.Errorf("%s left after purging both packages", p)
		}
	}
	if _, code, _ := runCode(t.Context(), "", chrootEnv, "chroot", dir, "getent", "passwd", "understudy"); code != 0 {
		t.Error("purge removed the understudy user; it is kept on purpose")
	}
}
