package mirror_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/understudy/understudy/agent/internal/backup"
	"github.com/understudy/understudy/agent/internal/mirror"
	"github.com/understudy/understudy/agent/internal/restore"
	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
	"github.com/understudy/understudy/pkg/wire"
)

// sameTree fails unless dirs a and b hold the same files with the same bytes.
func sameTree(t testing.TB, a, b string) {
	t.Helper()
	files := func(root string) map[string][]byte {
		m := map[string][]byte{}
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(root, p)
			if d.Type().IsRegular() {
				m[rel], _ = os.ReadFile(p)
			} else {
				m[rel] = nil
			}
			return nil
		})
		return m
	}
	fa, fb := files(a), files(b)
	for p, x := range fa {
		y, ok := fb[p]
		if !ok {
			t.Errorf("%s missing from %s", p, b)
		} else if !bytes.Equal(x, y) {
			t.Errorf("%s differs", p)
		}
	}
	for p := range fb {
		if _, ok := fa[p]; !ok {
			t.Errorf("%s only in %s", p, b)
		}
	}
}

func snap(t testing.TB, st *store.Store, dir string) *snapshot.Record {
	t.Helper()
	rec, err := backup.Run(context.Background(), st, dir, backup.Options{Dataset: "world", Host: "host-a", WaitLock: true})
	if err != nil {
		t.Fatal(err)
	}
	return rec
}

// warmCopy is the standby side of the tests: it materialises every
// committed snapshot into dir.
func warmCopy(st *store.Store, dir string) func(context.Context, *snapshot.Record) error {
	return func(ctx context.Context, rec *snapshot.Record) error {
		_, err := restore.Run(ctx, st, rec, dir, restore.Options{Atomic: true, QuickCheck: true})
		return err
	}
}

func TestMirrorKeepsWarmCopy(t *testing.T) {
	t.Parallel()
	c := newCA(t)
	src := t.TempDir()
	genTree(t, src, 1, 6<<20)
	a := openStore(t, t.TempDir())
	b := openStore(t, t.TempDir())
	warm := filepath.Join(t.TempDir(), "warm")
	addr := receiver(t, b, c, "host-b", mirror.ServerConfig{OnCommit: warmCopy(b, warm)}, nil)
	cl := mirror.NewClient(addr, mirror.ClientOptions{TLS: c.creds(t, "host-a").ClientTLS("host-b"), Logger: testLogger(t)})
	defer cl.Close()

	rec := snap(t, a, src)
	res, err := cl.Send(t.Context(), a, rec)
	if err != nil {
		t.Fatal(err)
	}
	if !res.Committed.WarmCopy || res.Sent != res.Chunks || res.Base != "" {
		t.Fatalf("first mirror: %+v", res)
	}
	all := res.Chunks
	sameTree(t, src, warm)

	// Change a little: one file rewritten in part, one added, one removed.
	f, _ := os.OpenFile(filepath.Join(src, "regiona", "filea.bin"), os.O_RDWR, 0)
	f.WriteAt(bytes.Repeat([]byte("changed"), 1000), 4096)
	f.Close()
	os.WriteFile(filepath.Join(src, "new.txt"), []byte("new file"), 0o644)
	os.Remove(filepath.Join(src, "regionb", "filea.bin"))
	rec2 := snap(t, a, src)
	res, err = cl.Send(t.Context(), a, rec2)
	if err != nil {
		t.Fatal(err)
	}
	if res.Base != rec.ID || res.Sent == 0 || res.Sent > res.Chunks || res.Chunks >= all {
		t.Errorf("second mirror offered %d chunks against base %q and sent %d, want only the changed ones against %s", res.Chunks, res.Base, res.Sent, rec.ID)
	}
	sameTree(t, src, warm)

	// A receiver without the parent gets every chunk offered.
	fresh := openStore(t, t.TempDir())
	addr2 := receiver(t, fresh, c, "host-b", mirror.ServerConfig{}, nil)
	cl2 := mirror.NewClient(addr2, mirror.ClientOptions{TLS: c.creds(t, "host-a").ClientTLS("host-b"), Logger: testLogger(t)})
	defer cl2.Close()
	res, err = cl2.Send(t.Context(), a, rec2)
	if err != nil {
		t.Fatal(err)
	}
	if res.Base != "" || res.Sent != res.Chunks {
		t.Errorf("mirror to a receiver without the parent: %+v, want every chunk offered and sent", res)
	}
	if err := mirror.Complete(t.Context(), fresh, rec2); err != nil {
		t.Error(err)
	}

	// Sending again changes nothing and sends nothing.
	res, err = cl.Send(t.Context(), a, rec2)
	if err != nil || res.Sent != 0 || !res.Committed.Existed {
		t.Errorf("resend: %+v, %v", res, err)
	}
	recs, err := snapshot.List(t.Context(), b, "world")
	if err != nil || len(recs) != 2 {
		t.Fatalf("receiver lists %d snapshots (%v), want 2", len(recs), err)
	}
	if chk, err := b.Check(t.Context(), func(store.PackID) bool { return true }); err != nil || len(chk.Problems) > 0 || len(chk.Bad) > 0 {
		t.Errorf("receiver store check: %v %+v", err, chk)
	}
}

func TestCutTransferResumes(t *testing.T) {
	t.Parallel()
	c := newCA(t)
	src := t.TempDir()
	genTree(t, src, 2, 12<<20)
	a := openStore(t, t.TempDir())
	b := openStore(t, t.TempDir())
	addr := receiver(t, b, c, "host-b", mirror.ServerConfig{}, nil)
	tc := c.creds(t, "host-a").ClientTLS("host-b")
	rec := snap(t, a, src)

	p1 := newProxy(t, addr, 5<<20)
	cl1 := mirror.NewClient(p1.addr(), mirror.ClientOptions{TLS: tc})
	defer cl1.Close()
	res1, err := cl1.Send(t.Context(), a, rec)
	if err == nil {
		t.Fatalf("transfer through a cut link succeeded: %+v", res1)
	}
	if recs, _ := snapshot.List(t.Context(), b, ""); len(recs) != 0 {
		t.Fatalf("receiver shows %d snapshots after a cut transfer", len(recs))
	}

	// The receiver makes what arrived durable once it sees the stream
	// break; a sender retries after that (here: as soon as it shows).
	var ids []chunk.ID
	a.ListChunks(t.Context(), func(id chunk.ID, _ store.Location) error { ids = append(ids, id); return nil })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		m, err := b.Missing(t.Context(), ids)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) < len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("nothing of the cut transfer became durable on the receiver")
		}
	}

	p2 := newProxy(t, addr, 0)
	cl2 := mirror.NewClient(p2.addr(), mirror.ClientOptions{TLS: tc})
	defer cl2.Close()
	res2, err := cl2.Send(t.Context(), a, rec)
	if err != nil {
		t.Fatal(err)
	}
	var total int64
	a.ListChunks(t.Context(), func(_ chunk.ID, l store.Location) error { total += int64(l.Length); return nil })
	t.Logf("first attempt %d bytes up before the cut; second %d bytes up, %d of %d chunks; store holds %d bytes",
		p1.up.Load(), p2.up.Load(), res2.Sent, res2.Chunks, total)
	if res2.Sent >= res2.Chunks || p2.up.Load() >= total {
		t.Errorf("resumed transfer resent what had arrived: %d of %d chunks, %d bytes of %d", res2.Sent, res2.Chunks, p2.up.Load(), total)
	}
	warm := t.TempDir()
	latest, err := restore.Select(t.Context(), b, "world", "", time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restore.Run(t.Context(), b, latest, warm, restore.Options{}); err != nil {
		t.Fatal(err)
	}
	sameTree(t, src, warm)
}

// TestRefusedPeers checks that certificates the receiver must not trust
// are refused during the handshake, before anything is written.
func TestRefusedPeers(t *testing.T) {
	t.Parallel()
	good := newCA(t)
	other := newCA(t)
	src := t.TempDir()
	genTree(t, src, 3, 1<<20)
	a := openStore(t, t.TempDir())
	rec := snap(t, a, src)
	cred := func(c *ca, host string, from, until time.Time) *mirror.Credentials {
		cp, kp := c.issue(t, host, from, until)
		cr, err := mirror.NewCredentials(good.pem, cp, kp)
		if err != nil {
			t.Fatal(err)
		}
		return cr
	}
	now := time.Now()
	cases := []struct {
		name   string
		client *mirror.Credentials
		expect string // the host the sender expects
	}{
		{"client cert from another CA", cred(other, "host-a", now.Add(-time.Hour), now.Add(time.Hour)), "host-b"},
		{"expired client cert", cred(good, "host-a", now.Add(-48*time.Hour), now.Add(-time.Hour)), "host-b"},
		{"not yet valid client cert", cred(good, "host-a", now.Add(time.Hour), now.Add(2*time.Hour)), "host-b"},
		{"client not a cluster host", cred(good, "intruder", now.Add(-time.Hour), now.Add(time.Hour)), "host-b"},
		{"receiver is not the expected host", cred(good, "host-a", now.Add(-time.Hour), now.Add(time.Hour)), "host-c"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := openStore(t, t.TempDir())
			known := map[string]bool{"host-a": true, "host-b": true}
			addr := receiver(t, b, good, "host-b", mirror.ServerConfig{}, mirror.AllowHosts(func(h string) bool { return known[h] }))
			cl := mirror.NewClient(addr, mirror.ClientOptions{TLS: tc.client.ClientTLS(tc.expect)})
			defer cl.Close()
			if res, err := cl.Send(t.Context(), a, rec); err == nil {
				t.Fatalf("mirror accepted: %+v", res)
			} else {
				t.Logf("refused: %v", err)
			}
			packs, _ := b.ListPacks(t.Context())
			recs, _ := b.ListRecords(t.Context(), "snapshots")
			if len(packs) != 0 || len(recs) != 0 {
				t.Errorf("receiver wrote %d packs and %d records", len(packs), len(recs))
			}
		})
	}
}

func TestPolynomialMismatch(t *testing.T) {
	t.Parallel()
	other, err := chunk.RandomPolynomial()
	if err != nil {
		t.Fatal(err)
	}
	for other == testPol {
		other, _ = chunk.RandomPolynomial()
	}
	dir := t.TempDir()
	if err := store.Init(dir, store.InitOptions{Polynomial: other}); err != nil {
		t.Fatal(err)
	}
	if _, err := mirror.OpenStore(dir, testPol, store.Options{}); !errors.Is(err, mirror.ErrPolynomial) {
		t.Fatalf("open with the wrong polynomial: %v", err)
	} else {
		t.Log(err)
	}

	c := newCA(t)
	src := t.TempDir()
	genTree(t, src, 4, 256<<10)
	oddStore, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer oddStore.Close()
	rec := snap(t, oddStore, src)
	b := openStore(t, t.TempDir())
	addr := receiver(t, b, c, "host-b", mirror.ServerConfig{}, nil)
	cl := mirror.NewClient(addr, mirror.ClientOptions{TLS: c.creds(t, "host-a").ClientTLS("host-b")})
	defer cl.Close()
	if _, err := cl.Send(t.Context(), oddStore, rec); !errors.Is(err, mirror.ErrPolynomial) {
		t.Fatalf("send between stores of different polynomials: %v", err)
	}
}

// TestCommitWithoutChunksRefused sends a record whose chunks never came.
func TestCommitWithoutChunksRefused(t *testing.T) {
	t.Parallel()
	c := newCA(t)
	src := t.TempDir()
	genTree(t, src, 5, 512<<10)
	a := openStore(t, t.TempDir())
	rec := snap(t, a, src)
	b := openStore(t, t.TempDir())
	addr := receiver(t, b, c, "host-b", mirror.ServerConfig{}, nil)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: c.creds(t, "host-a").ClientTLS("host-b")}}
	body, _ := json.Marshal(wire.Commit{Version: wire.Version, Record: rec})
	resp, err := hc.Post("https://"+addr+wire.PathCommit, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var we wire.Error
	json.NewDecoder(resp.Body).Decode(&we)
	if resp.StatusCode != http.StatusConflict || we.Code != wire.CodeIncomplete {
		t.Errorf("commit without chunks: %d %+v", resp.StatusCode, we)
	}
	if recs, _ := b.ListRecords(t.Context(), "snapshots"); len(recs) != 0 {
		t.Errorf("receiver saved %v", recs)
	}
}

// TestDeltaOffers checks what a send against the parent offers: the new
// chunks of changed files and nothing of unchanged ones, each chunk the
// full walk would offer and the parent lacks; and every chunk when the
// parent's manifest cannot be read.
func TestDeltaOffers(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	src := t.TempDir()
	genTree(t, src, 3, 4<<20)
	st := openStore(t, t.TempDir())
	rec1 := snap(t, st, src)
	f, err := os.OpenFile(filepath.Join(src, "regiona", "filea.bin"), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(bytes.Repeat([]byte("changed"), 1000), 4096)
	f.Close()
	rec2 := snap(t, st, src)

	collect := func(each func(func([]chunk.ID) error) error) map[chunk.ID]bool {
		got := map[chunk.ID]bool{}
		if err := each(func(ids []chunk.ID) error {
			for _, id := range ids {
				if got[id] {
					t.Errorf("chunk %s offered twice", id.Short())
				}
				got[id] = true
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	old := collect(func(fn func([]chunk.ID) error) error { return mirror.ForEachBatch(ctx, st, rec1, fn) })
	all := collect(func(fn func([]chunk.ID) error) error { return mirror.ForEachBatch(ctx, st, rec2, fn) })
	delta := collect(func(fn func([]chunk.ID) error) error { return mirror.ForEachDelta(ctx, st, rec1, rec2, fn) })
	want := map[chunk.ID]bool{}
	for id := range all {
		if !old[id] {
			want[id] = true
		}
	}
	if len(want) == 0 || len(delta) < len(want) || len(delta) >= len(all) {
		t.Fatalf("delta offered %d of %d chunks; %d are new", len(delta), len(all), len(want))
	}
	for id := range want {
		if !delta[id] {
			t.Errorf("new chunk %s not offered", id.Short())
		}
	}
	for id := range delta {
		if !all[id] {
			t.Errorf("chunk %s offered but not in the snapshot", id.Short())
		}
	}

	broken := *rec1
	broken.Tree = []chunk.ID{chunk.Sum([]byte("no such manifest chunk"))}
	full := collect(func(fn func([]chunk.ID) error) error { return mirror.ForEachDelta(ctx, st, &broken, rec2, fn) })
	if len(full) != len(all) {
		t.Errorf("against an unreadable parent %d chunks were offered, want all %d", len(full), len(all))
	}
}
