//go:build bench

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	var (
		agent = flag.String("agent", "bin/understudy-agent", "understudy-agent binary to measure")
		size  = flag.Int64("size", 1<<30, "dataset size in bytes (at least)")
		seed  = flag.Uint64("seed", 2026, "dataset seed")
		reps  = flag.Int("reps", 3, "repetitions of each measurement (medians are reported)")
		only  = flag.String("tools", "understudy,understudy-s2,understudy-zstd,borg,restic", "tools to measure, comma-separated (understudy-s2 and understudy-zstd are stores created with that compression setting)")
		base  = flag.String("dir", "", "parent of the work directory (default $TMPDIR or /tmp)")
		keep  = flag.Bool("keep", false, "keep the work directory")
		out   = flag.String("out", "", "also write the report to this file")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	report, err := bench(ctx, config{agent: *agent, size: *size, seed: *seed, reps: *reps,
		tools: strings.Split(*only, ","), base: *base, keep: *keep})
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench-backup:", err)
		os.Exit(1)
	}
	fmt.Print(report)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(report), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "bench-backup:", err)
			os.Exit(1)
		}
	}
}

type config struct {
	agent string
	size  int64
	seed  uint64
	reps  int
	tools []string
	base  string
	keep  bool
}

// results are one tool's measurements, one entry per repetition.
type results struct {
	first, second, restore []measure
	firstSize, added       []int64
	// index is the size of understudy's index.db after the second backup.
	index []int64
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func bench(ctx context.Context, c config) (string, error) {
	agent, err := filepath.Abs(c.agent)
	if err != nil {
		return "", err
	}
	var ts []*tool
	for _, t := range tools(agent, "") {
		if slices.Contains(c.tools, t.name) {
			ts = append(ts, t)
		}
	}
	for _, t := range ts {
		if _, err := exec.LookPath(t.init("")[0]); err != nil {
			return "", fmt.Errorf("%s not found (apt-get install restic borgbackup; make build): %w", t.name, err)
		}
	}
	if _, err := os.Stat("/usr/bin/time"); err != nil {
		return "", errors.New("/usr/bin/time not found (apt-get install time)")
	}
	if c.base == "" {
		c.base = os.TempDir()
	}
	// The dataset, and one store and one restore per tool and repetition.
	need := c.size * int64(3+2*len(ts)*c.reps) * 11 / 10
	free, err := freeSpace(c.base)
	if err != nil {
		return "", err
	}
	if free < need {
		return "", fmt.Errorf("%s has %d MiB free, the benchmark needs about %d MiB", c.base, free>>20, need>>20)
	}
	work, err := os.MkdirTemp(c.base, "understudy-bench-backup-")
	if err != nil {
		return "", err
	}
	if !c.keep {
		defer os.RemoveAll(work)
	}
	ts = nil
	for _, t := range tools(agent, work) {
		if slices.Contains(c.tools, t.name) {
			ts = append(ts, t)
		}
	}
	lf, err := os.Create(filepath.Join(work, "commands.log"))
	if err != nil {
		return "", err
	}
	defer lf.Close()
	logf("work directory %s (%d MiB free)", work, free>>20)

	src := filepath.Join(work, "data")
	start := time.Now()
	ds, err := generate(src, c.size, c.seed)
	if err != nil {
		return "", fmt.Errorf("generate: %w", err)
	}
	logf("generated %d files, %d MiB in %.1fs", ds.files, ds.size>>20, time.Since(start).Seconds())
	res := map[string]*results{}
	repo := func(t *tool, rep int) string { return filepath.Join(work, fmt.Sprintf("%s-%d", t.name, rep)) }
	// order rotates the tools so that none always runs first.
	order := func(rep int) []*tool {
		o := slices.Clone(ts)
		k := rep % len(o)
		return append(o[k:], o[:k]...)
	}
	for rep := range c.reps {
		for _, t := range order(rep) {
			r := res[t.name]
			if r == nil {
				r = &results{}
				res[t.name] = r
			}
			if _, err := run(ctx, t, repo(t, rep), "", t.init(repo(t, rep)), lf); err != nil {
				return "", err
			}
			syscall.Sync()
			args, dir := t.backup(repo(t, rep), src, 1)
			m, err := run(ctx, t, repo(t, rep), dir, args, lf)
			if err != nil {
				return "", err
			}
			syscall.Sync()
			du, err := diskUsage(repo(t, rep))
			if err != nil {
				return "", err
			}
			r.first, r.firstSize = append(r.first, m), append(r.firstSize, du)
			logf("%-10s rep %d: initial backup %.1fs (%.1fs CPU), %d MiB peak RSS, store %d MiB", t.name, rep+1, m.Seconds, m.CPU, m.RSS>>20, du>>20)
		}
	}
	before, _, _, err := treeDigest(src)
	if err != nil {
		return "", err
	}
	mut, err := ds.mutate(c.size)
	if err != nil {
		return "", fmt.Errorf("mutate: %w", err)
	}
	want, files, total, err := treeDigest(src)
	if err != nil {
		return "", err
	}
	if want == before {
		return "", errors.New("mutation changed nothing")
	}
	logf("mutated: %d bytes changed (%.1f%% of %d MiB)", mut.Changed, 100*float64(mut.Changed)/float64(total), total>>20)
	for rep := range c.reps {
		for _, t := range order(rep) {
			r := res[t.name]
			syscall.Sync()
			args, dir := t.backup(repo(t, rep), src, 2)
			m, err := run(ctx, t, repo(t, rep), dir, args, lf)
			if err != nil {
				return "", err
			}
			syscall.Sync()
			du, err := diskUsage(repo(t, rep))
			if err != nil {
				return "", err
			}
			r.second, r.added = append(r.second, m), append(r.added, du-r.firstSize[rep])
			if fi, err := os.Stat(filepath.Join(repo(t, rep), "index.db")); err == nil && t.name == "understudy" {
				r.index = append(r.index, fi.Size())
			}
			logf("%-10s rep %d: second backup %.1fs (%.1fs CPU), %d MiB peak RSS, added %.1f MB", t.name, rep+1, m.Seconds, m.CPU, m.RSS>>20, float64(du-r.firstSize[rep])/1e6)
		}
	}
	// Every restore gets a directory of its own, removed only with the
	// work directory: on ext4 without a journal, creating files within
	// seconds of deleting many others costs a scan of the recently deleted
	// inodes in the kernel, which grew with every removed restore and fell
	// on whichever tool came next.
	for rep := range c.reps {
		for _, t := range order(rep) {
			r := res[t.name]
			dst := filepath.Join(work, fmt.Sprintf("restore-%s-%d", t.name, rep))
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return "", err
			}
			syscall.Sync()
			args, dir := t.restore(repo(t, rep), dst, 2)
			m, err := run(ctx, t, repo(t, rep), dir, args, lf)
			if err != nil {
				return "", err
			}
			root, err := findRoot(dst)
			if err != nil {
				return "", fmt.Errorf("%s restore: %w", t.name, err)
			}
			got, _, _, err := treeDigest(root)
			if err != nil {
				return "", err
			}
			if got != want {
				return "", fmt.Errorf("%s restore differs from the source", t.name)
			}
			r.restore = append(r.restore, m)
			logf("%-10s rep %d: restore %.1fs (%.1fs CPU), %d MiB peak RSS, matches the source", t.name, rep+1, m.Seconds, m.CPU, m.RSS>>20)
		}
	}
	for _, t := range ts {
		os.RemoveAll(repo(t, 0) + ".home")
	}
	return format(c, mut, files, total, ts, res, loadAvg()), nil
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func medianF(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func secs(ms []measure) float64 {
	var xs []float64
	for _, m := range ms {
		xs = append(xs, m.Seconds)
	}
	return medianF(xs)
}

func cpu(ms []measure) float64 {
	var xs []float64
	for _, m := range ms {
		xs = append(xs, m.CPU)
	}
	return medianF(xs)
}

func rss(ms ...[]measure) float64 {
	var xs []float64
	for i := range ms[0] {
		var peak int64
		for _, m := range ms {
			peak = max(peak, m[i].RSS)
		}
		xs = append(xs, float64(peak))
	}
	return medianF(xs)
}

func medianI(xs []int64) float64 {
	var f []float64
	for _, x := range xs {
		f = append(f, float64(x))
	}
	return medianF(f)
}

func format(c config, mut mutation, files int, total int64, ts []*tool, res map[string]*results, load string) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	mb := func(x float64) float64 { return x / 1e6 }
	mib := func(x float64) float64 { return x / (1 << 20) }
	w("Dataset: %d files, %.0f MB (seed %d); second generation changes %.1f MB (%.1f%%): %d database pages (%.1f MB), logs appended %.1f MB, one archive replaced %.1f MB, assets %.1f MB, configs %d B; the changed content compresses to %.1f MB with zstd.\n\n",
		files, mb(float64(total)), c.seed, mb(float64(mut.Changed)), 100*float64(mut.Changed)/float64(total), mut.Pages, mb(float64(mut.PageBytes)),
		mb(float64(mut.LogBytes)), mb(float64(mut.ArchiveBytes)), mb(float64(mut.AssetBytes)), mut.ConfigBytes, mb(float64(mut.ChangedZstd)))
	w("Medians of %d runs; %d CPUs, load average at the end %s.\n\n", c.reps, runtime.NumCPU(), load)
	w("| |")
	for _, t := range ts {
		w(" %s |", t.name)
	}
	row := func(name string, f func(r *results) string) {
		w("\n| %s |", name)
		for _, t := range ts {
			w(" %s |", f(res[t.name]))
		}
	}
	w("\n|---|")
	for range ts {
		w("---|")
	}
	row("initial backup", func(r *results) string {
		return fmt.Sprintf("%.1f s (%.0f MB/s)", secs(r.first), mb(float64(total))/secs(r.first))
	})
	row("initial backup, CPU time", func(r *results) string { return fmt.Sprintf("%.1f s", cpu(r.first)) })
	row("second backup", func(r *results) string { return fmt.Sprintf("%.2f s", secs(r.second)) })
	row("second backup, CPU time", func(r *results) string { return fmt.Sprintf("%.2f s", cpu(r.second)) })
	row("store after initial backup", func(r *results) string { return fmt.Sprintf("%.0f MB", mb(medianI(r.firstSize))) })
	row("added by second backup", func(r *results) string {
		return fmt.Sprintf("%.1f MB (%.2f× changed)", mb(medianI(r.added)), medianI(r.added)/float64(mut.Changed))
	})
	row("restore", func(r *results) string {
		return fmt.Sprintf("%.1f s (%.0f MB/s)", secs(r.restore), mb(float64(total))/secs(r.restore))
	})
	row("restore, CPU time", func(r *results) string { return fmt.Sprintf("%.1f s", cpu(r.restore)) })
	row("peak RSS, backup", func(r *results) string { return fmt.Sprintf("%.0f MiB", mib(rss(r.first, r.second))) })
	row("peak RSS, restore", func(r *results) string { return fmt.Sprintf("%.0f MiB", mib(rss(r.restore))) })
	w("\n\n")
	us := res["understudy"]
	if us == nil {
		return b.String()
	}
	if len(ts) == 1 {
		w("Bytes added by understudy's second backup / bytes truly changed: %.2f× (target ≤ 1.5×). Understudy's index (index.db) after two backups: %.1f MB.\n",
			medianI(us.added)/float64(mut.Changed), mb(medianI(us.index)))
		return b.String()
	}
	// One column per understudy variant and peer.
	type pair struct{ u, o string }
	var pairs []pair
	for _, u := range ts {
		for _, o := range ts {
			if isUnderstudy(u.name) && !isUnderstudy(o.name) {
				pairs = append(pairs, pair{u.name, o.name})
			}
		}
	}
	if len(pairs) == 0 {
		return b.String()
	}
	w("| ratio | target |")
	for _, p := range pairs {
		w(" %s / %s |", p.u, p.o)
	}
	w("\n|---|---|")
	for range pairs {
		w("---|")
	}
	ratio := func(name, target string, f func(u, o *results) float64) {
		w("\n| %s | %s |", name, target)
		for _, p := range pairs {
			w(" %.2f× |", f(res[p.u], res[p.o]))
		}
	}
	ratio("initial backup throughput", "≥ 2× borg", func(u, o *results) float64 { return secs(o.first) / secs(u.first) })
	ratio("initial backup CPU time", "", func(u, o *results) float64 { return cpu(u.first) / cpu(o.first) })
	ratio("second backup throughput", "", func(u, o *results) float64 { return secs(o.second) / secs(u.second) })
	ratio("restore throughput", "≥ 2× borg", func(u, o *results) float64 { return secs(o.restore) / secs(u.restore) })
	ratio("bytes added by second backup", "", func(u, o *results) float64 { return medianI(u.added) / medianI(o.added) })
	ratio("peak RSS, backup", "≤ 1× restic", func(u, o *results) float64 { return rss(u.first, u.second) / rss(o.first, o.second) })
	ratio("peak RSS, restore", "", func(u, o *results) float64 { return rss(u.restore) / rss(o.restore) })
	w("\n\nBytes added by understudy's second backup / bytes truly changed: %.2f× (target ≤ 1.5×). Understudy's index (index.db) after two backups: %.1f MB.\n",
		medianI(us.added)/float64(mut.Changed), mb(medianI(us.index)))
	return b.String()
}
