package chunk

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// testPol is a fixed polynomial for known-answer tests only; stores always
// pick a random one.
const testPol = Polynomial(0x3DA3358B4DC173)

func testData(n int) []byte {
	r := rand.New(rand.NewPCG(1, 2))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for k := 0; k < 8 && i+k < n; k++ {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b
}

func cut(t testing.TB, data []byte, p Params) []string {
	t.Helper()
	c := New(bytes.NewReader(data), testPol, p)
	buf := make([]byte, p.Max)
	var out []string
	off := 0
	for {
		b, err := c.Next(buf)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%d %d %s", off, len(b), Sum(b)))
		off += len(b)
	}
	return out
}

func TestBoundariesGolden(t *testing.T) {
	data := testData(12 << 20)
	var got bytes.Buffer
	user, _ := ParamsFor(ClassUser)
	tx, _ := ParamsFor(ClassTransactional)
	for _, bc := range []struct {
		class string
		p     Params
	}{{"user", user}, {"transactional", tx}, {"database", DatabaseParams}} {
		class, p := bc.class, bc.p
		cs := cut(t, data, p)
		fmt.Fprintf(&got, "# %s: %d chunks\n", class, len(cs))
		total := 0
		for i, line := range cs {
			var off, n int
			fmt.Sscanf(line, "%d %d", &off, &n)
			total += n
			if i < len(cs)-1 && (n < int(p.Min) || n > int(p.Max)) {
				t.Errorf("%s chunk %d has %d bytes, outside [%d, %d]", class, i, n, p.Min, p.Max)
			}
			fmt.Fprintln(&got, line)
		}
		if total != len(data) {
			t.Errorf("%s chunks cover %d bytes of %d", class, total, len(data))
		}
	}
	path := filepath.Join("testdata", "boundaries.golden")
	if *update {
		os.WriteFile(path, got.Bytes(), 0o644)
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("chunk boundaries changed: existing stores would stop deduplicating against new data")
	}
}

func TestDatabaseChunksArePageSized(t *testing.T) {
	t.Parallel()
	cs := cut(t, testData(16<<20), DatabaseParams)
	avg := (16 << 20) / len(cs)
	if avg < 8<<10 || avg > 24<<10 {
		t.Errorf("database average chunk %d bytes, want about 12 KiB", avg)
	}
}

// TestDatabasePageRewriteIsCheap rewrites scattered 16 KiB pages of a file
// in place and checks that the chunks the new version does not share with
// the old one add up to a few pages' worth per rewritten page, not to the
// 64 KiB and more of the transactional chunks.
func TestDatabasePageRewriteIsCheap(t *testing.T) {
	t.Parallel()
	const page = 16 << 10
	old := testData(8 << 20)
	next := bytes.Clone(old)
	r := rand.New(rand.NewPCG(3, 4))
	pages := r.Perm(len(old) / page)[:10]
	for _, pg := range pages {
		for i := pg * page; i < (pg+1)*page; i++ {
			next[i] = byte(r.Uint32())
		}
	}
	newBytes := func(p Params) int {
		have := map[string]bool{}
		for _, l := range cut(t, old, p) {
			have[l[strings.LastIndexByte(l, ' ')+1:]] = true
		}
		n := 0
		for _, l := range cut(t, next, p) {
			var off, size int
			fmt.Sscanf(l, "%d %d", &off, &size)
			if !have[l[strings.LastIndexByte(l, ' ')+1:]] {
				n += size
			}
		}
		return n
	}
	tx, _ := ParamsFor(ClassTransactional)
	db, txn := newBytes(DatabaseParams), newBytes(tx)
	t.Logf("%d rewritten pages: %d new bytes with database chunks, %d with transactional ones", len(pages), db, txn)
	if per := db / len(pages); per > 4*page {
		t.Errorf("a rewritten 16 KiB page costs %d new bytes with database chunks, want at most %d", per, 4*page)
	}
	if db >= txn {
		t.Errorf("database chunks store %d bytes for the rewrites, transactional ones %d", db, txn)
	}
}

func TestTransactionalChunksAreSmall(t *testing.T) {
	t.Parallel()
	p, _ := ParamsFor(ClassTransactional)
	cs := cut(t, testData(16<<20), p)
	avg := (16 << 20) / len(cs)
	if avg < 32<<10 || avg > 128<<10 {
		t.Errorf("transactional average chunk %d bytes, want about 64 KiB", avg)
	}
}

func TestPolynomial(t *testing.T) {
	t.Parallel()
	p, err := RandomPolynomial()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Error(err)
	}
	if p == testPol {
		t.Error("random polynomial equals the test constant")
	}
	for _, bad := range []Polynomial{0, 1, 0x3DA3358B4DC172} {
		if bad.Validate() == nil {
			t.Errorf("polynomial %#x accepted", uint64(bad))
		}
	}
	if _, err := ParamsFor("nope"); !errors.Is(err, ErrUnknownClass) {
		t.Errorf("ParamsFor(nope) = %v", err)
	}
}

func TestIDText(t *testing.T) {
	t.Parallel()
	id := Sum([]byte("x"))
	back, err := ParseID(id.String())
	if err != nil || back != id {
		t.Errorf("ParseID(String()) = %v, %v", back, err)
	}
	for _, bad := range []string{"", "zz", id.String()[:63], id.String() + "0"} {
		if _, err := ParseID(bad); !errors.Is(err, ErrBadID) {
			t.Errorf("ParseID(%q) = %v", bad, err)
		}
	}
}

func BenchmarkChunk(b *testing.B) {
	data := testData(32 << 20)
	user, _ := ParamsFor(ClassUser)
	tx, _ := ParamsFor(ClassTransactional)
	for _, bc := range []struct {
		name string
		p    Params
	}{{"user", user}, {"transactional", tx}, {"database", DatabaseParams}} {
		b.Run(bc.name, func(b *testing.B) {
			p := bc.p
			c := New(nil, testPol, p)
			buf := make([]byte, p.Max)
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for b.Loop() {
				c.Reset(bytes.NewReader(data))
				for {
					_, err := c.Next(buf)
					if err != nil {
						break
					}
				}
			}
		})
	}
	b.Run("sha256", func(b *testing.B) {
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			Sum(data)
		}
	})
}

func TestParamsForFile(t *testing.T) {
	t.Parallel()
	small, _ := ParamsFor(ClassTransactional)
	large, _ := ParamsFor(ClassUser)
	for _, tc := range []struct {
		class Class
		name  string
		want  Params
	}{
		{ClassUser, "inventory.db", DatabaseParams},
		{ClassState, "Region.SQLITE", DatabaseParams},
		{ClassUser, "ibdata1", DatabaseParams},
		{ClassUser, "assets.db-wal", DatabaseParams},
		{ClassTransactional, "players.ibd", DatabaseParams},
		{ClassUser, "texture.j2k", large},
		{ClassLog, "opensim.log", large},
		{ClassTransactional, "anything", small},
	} {
		got, err := ParamsForFile(tc.class, tc.name)
		if err != nil || got != tc.want {
			t.Errorf("ParamsForFile(%s, %q) = %+v, %v; want %+v", tc.class, tc.name, got, err, tc.want)
		}
	}
}
