//go:build bench

package main

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"github.com/klauspost/compress/zstd"
)

// markerFile sits at the dataset's root, so a restored copy can be found
// whatever path prefix a tool restores it under.
const markerFile = "GRID-DATASET"

// pageSize is the database page size: pages are rewritten whole, in place.
const pageSize = 16 << 10

// Shares of the dataset's size by kind of data.
const (
	archiveSize  = 16 << 20 // one region archive
	dbFileSize   = 32 << 20
	shareArchive = 0.40
	shareDB      = 0.30
	shareAssets  = 0.16
	shareLogs    = 0.13
)

// Shares of the dataset's size changed by [dataset.mutate], besides one
// region archive replaced and 2% of the database pages rewritten.
const (
	dbPageShare      = 0.02
	shareLogAppend   = 0.015
	shareNewAssets   = 0.005
	shareChangedAsst = 0.002
	configsEdited    = 20
)

var (
	dbNames = []string{"world.db", "assets.db", "inventory.sqlite", "ibdata1", "players.ibd",
		"estates.db", "groups.ibd", "friends.sqlite3", "land.db", "economy.ibd", "search.db", "mutes.db"}
	words = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
		"mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "zoe"}
	actions = []string{"login", "logout", "teleport", "move", "chat", "rez", "derez", "buy", "sell", "sit", "stand", "attach"}
	levels  = []string{"INFO", "INFO", "INFO", "DEBUG", "WARN", "INFO", "DEBUG", "ERROR"}
)

// dataset is a generated grid-like tree and what the mutation needs to
// know about it.
type dataset struct {
	root     string
	rng      *rand.Rand
	fill     *rand.ChaCha8 // fast random bytes
	size     int64         // bytes of file content written
	files    int
	regions  []string
	archives []string
	dbFiles  []string
	logs     []string
	logSeq   map[string]int64 // next line number per log
	assets   []string         // region-unique assets (candidates for change)
	configs  []string
	zenc     *zstd.Encoder
}

// mutation is what [dataset.mutate] changed.
type mutation struct {
	Changed      int64 // bytes new or different at the same offset
	ChangedZstd  int64 // the changed content compressed with zstd (default level)
	Pages        int
	PageBytes    int64
	LogBytes     int64
	ArchiveBytes int64
	AssetBytes   int64
	ConfigBytes  int64
}

func newDataset(root string, seed uint64) (*dataset, error) {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	return &dataset{root: root, rng: rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)), fill: rand.NewChaCha8(key),
		logSeq: map[string]int64{}, zenc: enc}, nil
}

func (d *dataset) write(rel string, data []byte) error {
	p := filepath.Join(d.root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return err
	}
	d.size += int64(len(data))
	d.files++
	return nil
}

// generate writes a dataset of at least target bytes under root.
func generate(root string, target int64, seed uint64) (*dataset, error) {
	d, err := newDataset(root, seed)
	if err != nil {
		return nil, err
	}
	if err := d.write(markerFile, []byte("understudy backup benchmark dataset\n")); err != nil {
		return nil, err
	}
	nRegions := max(4, int(math.Ceil(shareArchive*float64(target)/archiveSize)))
	for i := range nRegions {
		d.regions = append(d.regions, fmt.Sprintf("regions/r%03d", i))
	}
	// Region archives: incompressible.
	buf := make([]byte, archiveSize)
	for _, r := range d.regions {
		rel := r + "/terrain.oar"
		d.fill.Read(buf)
		if err := d.write(rel, buf); err != nil {
			return nil, err
		}
		d.archives = append(d.archives, rel)
	}
	// Database files of 16 KiB pages.
	nDB := max(2, int(math.Ceil(shareDB*float64(target)/dbFileSize)))
	for i := range nDB {
		name := dbNames[i%len(dbNames)]
		if i >= len(dbNames) {
			name = fmt.Sprintf("%d-%s", i/len(dbNames), name)
		}
		rel := "db/" + name
		data := make([]byte, dbFileSize)
		for pg := range dbFileSize / pageSize {
			d.page(data[pg*pageSize:(pg+1)*pageSize], pg, 1)
		}
		if err := d.write(rel, data); err != nil {
			return nil, err
		}
		d.dbFiles = append(d.dbFiles, rel)
	}
	// Assets: half drawn from a shared pool (duplicates across regions).
	pool := make([][]byte, 200)
	for i := range pool {
		pool[i] = d.asset()
	}
	perRegion := int64(shareAssets * float64(target) / float64(nRegions))
	for _, r := range d.regions {
		var n int64
		for k := 0; n < perRegion; k++ {
			var data []byte
			unique := d.rng.IntN(2) == 0
			if unique {
				data = d.asset()
			} else {
				data = pool[d.rng.IntN(len(pool))]
			}
			rel := fmt.Sprintf("%s/assets/%04d.%s", r, k, assetExt(data))
			if err := d.write(rel, data); err != nil {
				return nil, err
			}
			if unique {
				d.assets = append(d.assets, rel)
			}
			n += int64(len(data))
		}
	}
	// Config files with fixed-width values (edited in place later).
	if err := d.write("config/grid.ini", d.config("grid")); err != nil {
		return nil, err
	}
	d.configs = append(d.configs, "config/grid.ini")
	for _, r := range d.regions {
		for _, f := range []string{"region.ini", "estate.ini", "physics.yaml", "scripts.yaml", "permissions.yaml", "terrain.ini"} {
			rel := r + "/config/" + f
			if err := d.write(rel, d.config(rel)); err != nil {
				return nil, err
			}
			d.configs = append(d.configs, rel)
		}
	}
	// Append-only logs, then top the dataset up to target with the grid log.
	d.logs = append(d.logs, "logs/grid.log")
	for _, r := range d.regions {
		d.logs = append(d.logs, "logs/"+filepath.Base(r)+".log")
	}
	perLog := int64(shareLogs * float64(target) / float64(len(d.logs)))
	for _, l := range d.logs {
		data := d.logLines(l, perLog)
		if err := d.write(l, data); err != nil {
			return nil, err
		}
	}
	if d.size < target {
		if _, err := d.appendLog("logs/grid.log", target-d.size); err != nil {
			return nil, err
		}
		d.size = max(d.size, target)
	}
	return d, nil
}

func assetExt(data []byte) string {
	if data[0] == '{' {
		return "json"
	}
	return "dds"
}

// asset returns a new asset of 4 KiB–256 KiB (log-uniform): a texture
// (random bytes) or a mesh description (compressible text).
func (d *dataset) asset() []byte {
	n := int(4096 * math.Pow(64, d.rng.Float64()))
	b := make([]byte, 0, n+64)
	if d.rng.IntN(2) == 0 {
		b = b[:n]
		d.fill.Read(b)
		b[0] = 'D'
		return b
	}
	b = append(b, '{')
	for len(b) < n {
		b = append(b, `"v":[`...)
		for k := range 3 {
			if k > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendFloat(b, d.rng.NormFloat64()*8, 'f', 3, 64)
		}
		b = append(b, `],"uv":[`...)
		b = strconv.AppendFloat(b, d.rng.Float64(), 'f', 4, 64)
		b = append(b, ',')
		b = strconv.AppendFloat(b, d.rng.Float64(), 'f', 4, 64)
		b = append(b, "],\n"...)
	}
	return b[:n]
}

// page fills p with database page pg of generation gen: a header, rows of
// mixed binary and text fields, and free space.
func (d *dataset) page(p []byte, pg, gen int) {
	clear(p)
	binary.LittleEndian.PutUint32(p[0:], uint32(pg))
	binary.LittleEndian.PutUint64(p[8:], uint64(gen)<<32|uint64(d.rng.Uint32()))
	binary.LittleEndian.PutUint16(p[16:], 0x45bf)
	const rowSize = 128
	rows := (len(p) - 64) / rowSize
	rows = rows * (70 + d.rng.IntN(31)) / 100 // fill factor 70–100%
	for i := range rows {
		r := p[64+i*rowSize : 64+(i+1)*rowSize]
		binary.LittleEndian.PutUint64(r[0:], uint64(pg*rows+i))
		copy(r[8:24], words[d.rng.IntN(len(words))])
		for k := range 3 {
			binary.LittleEndian.PutUint32(r[24+4*k:], math.Float32bits(d.rng.Float32()*256))
		}
		for k := range 4 {
			binary.LittleEndian.PutUint32(r[36+4*k:], uint32(d.rng.IntN(1000)))
		}
		d.fill.Read(r[52:100]) // inventory, keys, hashes
		copy(r[100:], actions[d.rng.IntN(len(actions))])
	}
	binary.LittleEndian.PutUint32(p[4:], crc(p[8:]))
}

func crc(b []byte) uint32 {
	s := sha256.Sum256(b)
	return binary.LittleEndian.Uint32(s[:])
}

func (d *dataset) config(name string) []byte {
	b := []byte("# " + name + "\n[" + filepath.Base(filepath.Dir(name)) + "]\n")
	for i := range 40 + d.rng.IntN(40) {
		b = fmt.Appendf(b, "%s_%s_%02d = %08d\n", words[d.rng.IntN(len(words))], actions[d.rng.IntN(len(actions))], i, d.rng.IntN(1e8))
	}
	return b
}

func (d *dataset) logLines(name string, n int64) []byte {
	b := make([]byte, 0, n+256)
	seq := d.logSeq[name]
	for int64(len(b)) < n {
		seq++
		b = fmt.Appendf(b, "2026-11-%02dT%02d:%02d:%02d.%03dZ %-5s [%s] seq=%d player=%s%04d action=%s x=%.1f y=%.1f z=%.1f latency_ms=%d\n",
			1+seq/86400000%28, seq/3600000%24, seq/60000%60, seq/1000%60, seq%1000,
			levels[d.rng.IntN(len(levels))], filepath.Base(name), seq, words[d.rng.IntN(len(words))], d.rng.IntN(10000),
			actions[d.rng.IntN(len(actions))], d.rng.Float64()*256, d.rng.Float64()*256, d.rng.Float64()*64, d.rng.IntN(400))
	}
	d.logSeq[name] = seq
	return b
}

func (d *dataset) appendLog(rel string, n int64) ([]byte, error) {
	data := d.logLines(rel, n)
	f, err := os.OpenFile(filepath.Join(d.root, rel), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return nil, err
	}
	d.size += int64(len(data))
	return data, f.Close()
}

// diff counts the bytes of next that are new or differ from prev at the
// same offset.
func diff(prev, next []byte) int64 {
	n := int64(max(0, len(next)-len(prev)))
	for i := range min(len(prev), len(next)) {
		if prev[i] != next[i] {
			n++
		}
	}
	return n
}

func (d *dataset) compressed(b []byte) int64 {
	return int64(len(d.zenc.EncodeAll(b, nil)))
}

// mutate changes about 4% of the dataset the way a running grid does and
// counts the bytes that truly changed.
func (d *dataset) mutate(target int64) (mutation, error) {
	var m mutation
	// Database pages rewritten in place, scattered.
	old := make([]byte, pageSize)
	nw := make([]byte, pageSize)
	for _, rel := range d.dbFiles {
		f, err := os.OpenFile(filepath.Join(d.root, rel), os.O_RDWR, 0)
		if err != nil {
			return m, err
		}
		pages := dbFileSize / pageSize
		for _, pg := range d.rng.Perm(pages)[:int(dbPageShare*float64(pages))] {
			off := int64(pg) * pageSize
			if _, err := f.ReadAt(old, off); err != nil {
				f.Close()
				return m, err
			}
			d.page(nw, pg, 2)
			if _, err := f.WriteAt(nw, off); err != nil {
				f.Close()
				return m, err
			}
			m.Pages++
			c := diff(old, nw)
			m.PageBytes += c
			m.ChangedZstd += d.compressed(nw)
		}
		if err := f.Close(); err != nil {
			return m, err
		}
	}
	// Logs appended to.
	per := int64(shareLogAppend * float64(target) / float64(len(d.logs)))
	for _, l := range d.logs {
		data, err := d.appendLog(l, per)
		if err != nil {
			return m, err
		}
		m.LogBytes += int64(len(data))
		m.ChangedZstd += d.compressed(data)
	}
	// One region archive replaced (written aside, renamed over).
	{
		rel := d.archives[d.rng.IntN(len(d.archives))]
		p := filepath.Join(d.root, rel)
		prev, err := os.ReadFile(p)
		if err != nil {
			return m, err
		}
		next := make([]byte, archiveSize+d.rng.IntN(1<<20))
		d.fill.Read(next)
		if err := os.WriteFile(p+".new", next, 0o644); err != nil {
			return m, err
		}
		if err := os.Rename(p+".new", p); err != nil {
			return m, err
		}
		m.ArchiveBytes = diff(prev, next)
		m.ChangedZstd += d.compressed(next)
		d.size += int64(len(next) - len(prev))
	}
	// New assets, and some unique assets changed.
	for n := int64(0); n < int64(shareNewAssets*float64(target)); {
		r := d.regions[d.rng.IntN(len(d.regions))]
		data := d.asset()
		rel := fmt.Sprintf("%s/assets/new-%04d.%s", r, d.rng.IntN(10000), assetExt(data))
		if _, err := os.Stat(filepath.Join(d.root, rel)); err == nil {
			continue
		}
		if err := d.write(rel, data); err != nil {
			return m, err
		}
		n += int64(len(data))
		m.AssetBytes += int64(len(data))
		m.ChangedZstd += d.compressed(data)
	}
	seen := map[string]bool{}
	for n := int64(0); n < int64(shareChangedAsst*float64(target)) && len(seen) < len(d.assets); {
		rel := d.assets[d.rng.IntN(len(d.assets))]
		if seen[rel] {
			continue
		}
		seen[rel] = true
		p := filepath.Join(d.root, rel)
		prev, err := os.ReadFile(p)
		if err != nil {
			return m, err
		}
		next := d.asset()
		if (next[0] == '{') != (prev[0] == '{') {
			continue // keep the kind, and so the name, of the asset
		}
		if err := os.WriteFile(p, next, 0o644); err != nil {
			return m, err
		}
		c := diff(prev, next)
		n += c
		m.AssetBytes += c
		m.ChangedZstd += d.compressed(next)
		d.size += int64(len(next) - len(prev))
	}
	// Config values edited in place (same width).
	for _, i := range d.rng.Perm(len(d.configs))[:min(configsEdited, len(d.configs))] {
		p := filepath.Join(d.root, d.configs[i])
		prev, err := os.ReadFile(p)
		if err != nil {
			return m, err
		}
		next := append([]byte(nil), prev...)
		for k := 0; k+10 < len(next); k++ {
			if next[k] == '=' && next[k+1] == ' ' && d.rng.IntN(4) == 0 {
				copy(next[k+2:k+10], fmt.Sprintf("%08d", d.rng.IntN(1e8)))
			}
		}
		if err := os.WriteFile(p, next, 0o644); err != nil {
			return m, err
		}
		c := diff(prev, next)
		m.ConfigBytes += c
		m.ChangedZstd += c
	}
	m.Changed = m.PageBytes + m.LogBytes + m.ArchiveBytes + m.AssetBytes + m.ConfigBytes
	return m, nil
}

// treeDigest hashes a tree's names, types and file contents in walk order.
func treeDigest(root string) (digest string, files int, bytes int64, err error) {
	h := sha256.New()
	err = filepath.WalkDir(root, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(h, "%s\x00%v\x00", rel, e.Type())
		if !e.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		n, err := io.Copy(h, f)
		f.Close()
		files++
		bytes += n
		return err
	})
	return hex.EncodeToString(h.Sum(nil)), files, bytes, err
}

// findRoot returns the directory under dir that holds the marker file,
// the shallowest first: tools restore under different path prefixes.
func findRoot(dir string) (string, error) {
	level := []string{dir}
	for depth := 0; depth < 16 && len(level) > 0; depth++ {
		var next []string
		for _, p := range level {
			if _, err := os.Stat(filepath.Join(p, markerFile)); err == nil {
				return p, nil
			}
			ents, _ := os.ReadDir(p)
			for _, e := range ents {
				if e.IsDir() {
					next = append(next, filepath.Join(p, e.Name()))
				}
			}
		}
		level = next
	}
	return "", fmt.Errorf("no %s under %s", markerFile, dir)
}
