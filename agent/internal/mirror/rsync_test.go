//go:build bench

package mirror_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/agent/internal/backup"
	"github.com/understudy/understudy/agent/internal/mirror"
	"github.com/understudy/understudy/pkg/snapshot"
)

// The grid-like dataset of the mirror benchmark: region archives
// (incompressible), database files (pages of records, rewritten in
// place), assets and server logs.
const (
	gridArchives   = 16
	gridArchiveLen = 16 << 20
	gridDBs        = 12
	gridDBLen      = 16 << 20
	gridAssets     = 2000
	gridAssetLen   = 40 << 10
	gridLogs       = 8
	gridLogLen     = 10 << 20
	gridPage       = 16 << 10
)

func randBytes(r *rand.Rand, b []byte) {
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], r.Uint64())
	}
}

// page fills b with a database page: records of words and numbers.
func page(r *rand.Rand, b []byte) {
	words := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "inventory", "asset", "parcel", "region"}
	var s strings.Builder
	for s.Len() < len(b) {
		fmt.Fprintf(&s, "%08x|%s|%s|%d;", r.Uint32(), words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(1e6))
	}
	copy(b, s.String())
}

func logLines(r *rand.Rand, n int) []byte {
	var s strings.Builder
	for s.Len() < n {
		fmt.Fprintf(&s, "2026-11-22 01:%02d:%02d INFO region %d: agent %08x teleported to <%d,%d,%d>\n",
			r.IntN(60), r.IntN(60), r.IntN(64), r.Uint32(), r.IntN(256), r.IntN(256), r.IntN(4096))
	}
	return []byte(s.String()[:n])
}

func genGrid(t *testing.T, root string) int64 {
	r := rand.New(rand.NewPCG(42, 42))
	write := func(rel string, b []byte) {
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var total int64
	buf := make([]byte, gridArchiveLen)
	for i := range gridArchives {
		randBytes(r, buf)
		write(fmt.Sprintf("regions/region-%02d.oar", i), buf)
		total += int64(len(buf))
	}
	db := make([]byte, gridDBLen)
	for i := range gridDBs {
		for off := 0; off < len(db); off += gridPage {
			page(r, db[off:off+gridPage])
		}
		write(fmt.Sprintf("db/table-%02d.db", i), db)
		total += int64(len(db))
	}
	asset := make([]byte, gridAssetLen)
	for i := range gridAssets {
		if i%2 == 0 {
			randBytes(r, asset)
		} else {
			page(r, asset)
		}
		write(fmt.Sprintf("assets/%02x/%04d.asset", i%64, i), asset)
		total += int64(len(asset))
	}
	for i := range gridLogs {
		write(fmt.Sprintf("logs/region-%d.log", i), logLines(r, gridLogLen))
		total += gridLogLen
	}
	return total
}

// mutateGrid changes about 3% of the dataset: one region archive
// replaced, 2% of the database pages rewritten in place, logs appended,
// a few assets added. It returns the bytes written.
func mutateGrid(t *testing.T, root string) int64 {
	r := rand.New(rand.NewPCG(7, 7))
	var n int64
	buf := make([]byte, gridArchiveLen)
	randBytes(r, buf)
	os.WriteFile(filepath.Join(root, "regions/region-03.oar"), buf, 0o644)
	n += int64(len(buf))
	pg := make([]byte, gridPage)
	pages := gridDBs * gridDBLen / gridPage
	for range pages * 2 / 100 {
		f, err := os.OpenFile(filepath.Join(root, fmt.Sprintf("db/table-%02d.db", r.IntN(gridDBs))), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		page(r, pg)
		f.WriteAt(pg, int64(r.IntN(gridDBLen/gridPage))*gridPage)
		f.Close()
		n += gridPage
	}
	for i := range gridLogs {
		f, _ := os.OpenFile(filepath.Join(root, fmt.Sprintf("logs/region-%d.log", i)), os.O_WRONLY|os.O_APPEND, 0)
		b := logLines(r, 256<<10)
		f.Write(b)
		f.Close()
		n += int64(len(b))
	}
	asset := make([]byte, gridAssetLen)
	for i := range 40 {
		randBytes(r, asset)
		os.WriteFile(filepath.Join(root, fmt.Sprintf("assets/new/%04d.asset", i)), asset, 0o644)
		n += int64(len(asset))
	}
	return n
}

// rsyncd runs an rsync daemon on loopback with one module, "grid", at dir.
func rsyncd(t *testing.T, dir string) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	conf := filepath.Join(t.TempDir(), "rsyncd.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("use chroot = no\nuid = %d\ngid = %d\npid file = %s\n[grid]\npath = %s\nread only = no\n",
		os.Getuid(), os.Getgid(), filepath.Join(t.TempDir(), "pid"), dir)), 0o644)
	cmd := exec.Command("rsync", "--daemon", "--no-detach", "--config", conf, "--port", strconv.Itoa(port), "--address", "127.0.0.1")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatal("rsync daemon did not start")
		}
	}
}

type measure struct {
	name     string
	wall     time.Duration
	up, down int64
	extra    string
}

// TestMirrorVersusRsync measures the mirror against rsync -a to an rsync
// daemon, both through a counting TCP proxy on loopback, on the grid-like
// dataset, initially and after a ~3% mutation. Run with `make bench-mirror`.
func TestMirrorVersusRsync(t *testing.T) {
	if _, err := exec.LookPath("rsync"); err != nil {
		t.Skip("rsync not installed")
	}
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "grid")
	size := genGrid(t, src)
	t.Logf("dataset: %.0f MiB", float64(size)/(1<<20))

	c := newCA(t)
	a := openStore(t, t.TempDir())
	b := openStore(t, t.TempDir())
	warm := filepath.Join(t.TempDir(), "warm")
	var warmTook time.Duration // set by the receiver while the sender waits for its answer
	warmUp := warmCopy(b, warm)
	addr := receiver(t, b, c, "host-b", mirror.ServerConfig{Logger: nopLogger(), OnCommit: func(ctx context.Context, rec *snapshot.Record) error {
		t0 := time.Now()
		err := warmUp(ctx, rec)
		warmTook = time.Since(t0)
		return err
	}}, nil)
	tc := c.creds(t, "host-a").ClientTLS("host-b")
	rdir, fdir := t.TempDir(), t.TempDir()
	raddr, faddr := rsyncd(t, rdir), rsyncd(t, fdir)

	var rows []measure
	round := func(label string) {
		t0 := time.Now()
		rec, err := backup.Run(ctx, a, src, backup.Options{Dataset: "grid", Host: "host-a"})
		if err != nil {
			t.Fatal(err)
		}
		backupTook := time.Since(t0)

		p := newProxy(t, addr, 0)
		var chunksAt, transferDone time.Time
		t1 := time.Now()
		cl := mirror.NewClient(p.addr(), mirror.ClientOptions{TLS: tc, OnPhase: func(ph string, _ int) {
			switch ph {
			case "chunks":
				chunksAt = time.Now()
			case "commit":
				transferDone = time.Now()
			}
		}})
		res, err := cl.Send(ctx, a, rec)
		if err != nil {
			t.Fatal(err)
		}
		total := time.Since(t1)
		cl.Close()
		mirrorTook := total - warmTook
		commitTook := mirrorTook - transferDone.Sub(t1)
		p.close()
		rows = append(rows,
			measure{label + ": Understudy mirror (offers, chunks, commit)", mirrorTook, p.up.Load(), p.down.Load(),
				fmt.Sprintf("%s; %d sent; walk and offers %.2fs, chunks %.2fs, commit %.2fs", offered(res), res.Sent,
					chunksAt.Sub(t1).Seconds(), transferDone.Sub(chunksAt).Seconds(), commitTook.Seconds())},
			measure{label + ": Understudy mirror + warm copy", total, p.up.Load(), p.down.Load(), "receiver's files equal the snapshot"},
			measure{label + ": Understudy backup + mirror + warm copy", backupTook + total, p.up.Load(), p.down.Load(),
				fmt.Sprintf("backup %.2fs", backupTook.Seconds())})

		rp := newProxy(t, raddr, 0)
		t2 := time.Now()
		out, err := exec.Command("rsync", "-a", "--delete", src+"/", "rsync://"+rp.addr()+"/grid/").CombinedOutput()
		if err != nil {
			t.Fatalf("rsync: %v\n%s", err, out)
		}
		rows = append(rows, measure{label + ": rsync -a", time.Since(t2), rp.up.Load(), rp.down.Load(), "to an rsync daemon"})
		rp.close()
		// The mirror makes what it receives durable (fsync) before it
		// answers; rsync only does with --fsync.
		fp := newProxy(t, faddr, 0)
		t3 := time.Now()
		out, err = exec.Command("rsync", "-a", "--delete", "--fsync", src+"/", "rsync://"+fp.addr()+"/grid/").CombinedOutput()
		if err != nil {
			t.Fatalf("rsync --fsync: %v\n%s", err, out)
		}
		rows = append(rows, measure{label + ": rsync -a --fsync", time.Since(t3), fp.up.Load(), fp.down.Load(), "durable like the mirror"})
		fp.close()
		if d := treeDiff(src, warm); d != "" {
			t.Fatalf("warm copy: %s", d)
		}
		if d := treeDiff(src, rdir); d != "" {
			t.Fatalf("rsync copy: %s", d)
		}
	}
	round("initial")
	changed := mutateGrid(t, src)
	t.Logf("mutation: %.1f MiB written (%.1f%%)", float64(changed)/(1<<20), 100*float64(changed)/float64(size))
	round("after ~3% mutation")

	fmt.Printf("\n| run | wall time | MiB/s of dataset | bytes sender→receiver | bytes receiver→sender | note |\n| --- | --- | --- | --- | --- | --- |\n")
	for _, m := range rows {
		fmt.Printf("| %s | %.2f s | %.0f | %.1f MiB | %.2f MiB | %s |\n", m.name, m.wall.Seconds(),
			float64(size)/(1<<20)/m.wall.Seconds(), float64(m.up)/(1<<20), float64(m.down)/(1<<20), m.extra)
	}
}

// treeDiff compares two trees by file hashes and returns the first
// difference, or "".
func treeDiff(a, b string) string {
	ha, hb := hashTree(a), hashTree(b)
	for p, x := range ha {
		if y, ok := hb[p]; !ok || x != y {
			return p + " differs or is missing"
		}
	}
	for p := range hb {
		if _, ok := ha[p]; !ok {
			return p + " is extra"
		}
	}
	return ""
}

func hashTree(root string) map[string][32]byte {
	m := map[string][32]byte{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		io.Copy(h, f)
		m[rel] = [32]byte(h.Sum(nil))
		return nil
	})
	return m
}

// offered says how many chunk IDs a send offered, and against what.
func offered(res *mirror.Result) string {
	if res.Base != "" {
		return fmt.Sprintf("%d chunks offered (what changed since the parent)", res.Chunks)
	}
	return fmt.Sprintf("%d chunks offered", res.Chunks)
}
