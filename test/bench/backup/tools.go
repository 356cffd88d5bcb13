//go:build bench

package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// passphrase encrypts the restic and borg repositories; understudy uses a
// key file.
const passphrase = "understudy-bench-passphrase"

// tool drives one backup program. Each command runs with dir as its
// working directory and env added to the environment.
type tool struct {
	name    string
	env     func(repo string) []string
	init    func(repo string) []string
	backup  func(repo, src string, gen int) (args []string, dir string)
	restore func(repo, dst string, gen int) (args []string, dir string)
}

// understudyTools are the understudy variants: the default settings, then
// each other compression setting (the store's, chosen at init).
var understudyTools = []struct{ name, compression string }{
	{"understudy", ""}, {"understudy-s2", "s2"}, {"understudy-zstd", "zstd"},
}

func tools(agent, work string) []*tool {
	key := filepath.Join(work, "understudy.key")
	var ts []*tool
	for _, u := range understudyTools {
		ts = append(ts, &tool{
			name: u.name,
			env:  func(string) []string { return nil },
			init: func(repo string) []string {
				args := []string{agent, "init", "--store", repo, "--key-file", key}
				if u.compression != "" {
					args = append(args, "--compression", u.compression)
				}
				return args
			},
			backup: func(repo, src string, _ int) ([]string, string) {
				return []string{agent, "backup", "--store", repo, "--key-file", key, "--dataset", "grid", src}, ""
			},
			restore: func(repo, dst string, _ int) ([]string, string) {
				return []string{agent, "restore", "--store", repo, "--key-file", key, "--dataset", "grid", "--to", dst}, ""
			},
		})
	}
	return append(ts, []*tool{
		{
			name: "borg",
			env: func(repo string) []string {
				return []string{"BORG_PASSPHRASE=" + passphrase, "BORG_BASE_DIR=" + repo + ".home",
					"BORG_RELOCATED_REPO_ACCESS_IS_OK=yes", "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes"}
			},
			init: func(repo string) []string { return []string{"borg", "init", "-e", "repokey", repo} },
			backup: func(repo, src string, gen int) ([]string, string) {
				return []string{"borg", "create", fmt.Sprintf("%s::gen%d", repo, gen), "."}, src
			},
			restore: func(repo, dst string, gen int) ([]string, string) {
				return []string{"borg", "extract", fmt.Sprintf("%s::gen%d", repo, gen)}, dst
			},
		},
		{
			name: "restic",
			env: func(repo string) []string {
				return []string{"RESTIC_PASSWORD=" + passphrase, "RESTIC_REPOSITORY=" + repo, "RESTIC_CACHE_DIR=" + repo + ".cache"}
			},
			init: func(string) []string { return []string{"restic", "init"} },
			backup: func(_, src string, _ int) ([]string, string) {
				return []string{"restic", "backup", src}, ""
			},
			restore: func(_, dst string, _ int) ([]string, string) {
				return []string{"restic", "restore", "latest", "--target", dst}, ""
			},
		},
	}...)
}

// isUnderstudy reports whether a tool name is an understudy variant.
func isUnderstudy(name string) bool { return strings.HasPrefix(name, "understudy") }

// measure is one timed command.
type measure struct {
	Seconds float64
	CPU     float64 // user and system CPU seconds
	RSS     int64   // peak resident set, bytes
}

// run runs args under /usr/bin/time -v and returns its wall time and peak
// RSS. Output goes to logf; a failure returns the output's tail.
func run(ctx context.Context, t *tool, repo, dir string, args []string, logf *os.File) (measure, error) {
	rusage, err := os.CreateTemp("", "bench-time-*")
	if err != nil {
		return measure{}, err
	}
	rusage.Close()
	defer os.Remove(rusage.Name())
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/time", append([]string{"-v", "-o", rusage.Name()}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), t.env(repo)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	fmt.Fprintf(logf, "$ %s\n", strings.Join(args, " "))
	start := time.Now()
	err = cmd.Run()
	secs := time.Since(start).Seconds()
	logf.Write(out.Bytes())
	if err != nil {
		tail := out.String()
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return measure{}, fmt.Errorf("%s: %w\n%s", strings.Join(args, " "), err, tail)
	}
	m := measure{Seconds: secs}
	err = parseTime(rusage.Name(), &m)
	return m, err
}

// parseTime reads the CPU times and the peak RSS from the output of
// /usr/bin/time -v.
func parseTime(path string, m *measure) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	found := false
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ": ")
		if !ok {
			continue
		}
		switch k {
		case "User time (seconds)", "System time (seconds)":
			s, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return fmt.Errorf("%s in %s: %w", k, path, err)
			}
			m.CPU += s
		case "Maximum resident set size (kbytes)":
			kb, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("%s in %s: %w", k, path, err)
			}
			m.RSS, found = kb<<10, true
		}
	}
	if !found {
		return fmt.Errorf("no maximum resident set size in %s", path)
	}
	return nil
}

// diskUsage is the space a tree takes on disk (allocated blocks, like du),
// so that space a file has reserved but not written is not counted.
func diskUsage(root string) (int64, error) {
	var n int64
	err := filepath.WalkDir(root, func(_ string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := e.Info()
		if err != nil {
			return err
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			n += st.Blocks * 512
		}
		return nil
	})
	return n, err
}

func freeSpace(dir string) (int64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), nil
}
