package harness

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/understudy/understudy/agent/hostagent"
	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/store"
)

// writeMirrorCerts makes a CA and a certificate per host in dir, and
// returns each host's TLS files.
func writeMirrorCerts(t *testing.T, dir string, hosts ...string) map[string]*hostagent.TLSFiles {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600)
	out := map[string]*hostagent.TLSFiles{}
	for i, h := range hosts {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)), Subject: pkix.Name{CommonName: h}, DNSNames: []string{h},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := x509.MarshalECPrivateKey(key)
		f := &hostagent.TLSFiles{CAFile: caFile, CertFile: filepath.Join(dir, h+".pem"), KeyFile: filepath.Join(dir, h+".key")}
		os.WriteFile(f.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
		os.WriteFile(f.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
		out[h] = f
	}
	return out
}

// writeFiles fills dir with n files of random sizes from r.
func writeFiles(t *testing.T, dir string, r *mrand.Rand, n int) {
	t.Helper()
	for i := range n {
		b := make([]byte, 1+r.IntN(700<<10))
		for j := range b {
			b[j] = byte(r.Uint32() >> 24)
		}
		p := filepath.Join(dir, "region"+string(rune('a'+i%3)), "file"+string(rune('a'+r.IntN(20)))+".dat")
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// treeDiff describes how dirs a and b differ, or returns "".
func treeDiff(a, b string) string {
	read := func(root string) map[string][]byte {
		m := map[string][]byte{}
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(root, p)
			if d.Type().IsRegular() {
				m[rel], _ = os.ReadFile(p)
			} else {
				m[rel] = []byte{}
			}
			return nil
		})
		return m
	}
	ma, mb := read(a), read(b)
	for p, x := range ma {
		if y, ok := mb[p]; !ok || !bytes.Equal(x, y) {
			return p + " differs or is missing"
		}
	}
	for p := range mb {
		if _, ok := ma[p]; !ok {
			return p + " is extra"
		}
	}
	return ""
}

// TestMirrorToStandby runs a primary and a standby agent that protect a
// service's dataset: every snapshot on the primary reaches the standby
// over mutual TLS and its warm copy equals the source byte for byte; both
// report the dataset to the coordinators.
func TestMirrorToStandby(t *testing.T) {
	t.Parallel()
	c := New(t, 1)
	co := c.Coordinators[c.Leader(10*time.Second)]
	certs := writeMirrorCerts(t, t.TempDir(), "host-a", "host-b")
	src := t.TempDir()
	warm := filepath.Join(t.TempDir(), "warm")
	r := mrand.New(mrand.NewPCG(1, 2))
	writeFiles(t, src, r, 12)

	svc := hostagent.Service{Name: "world", Port: 9000, Datasets: []string{"world"}}
	cfgB := c.AgentConfig("host-b", "standby", svc)
	cfgB.TLS = certs["host-b"]
	cfgB.Datasets = []hostagent.Dataset{{Name: "world", Path: warm, Class: "state"}}
	b := c.StartAgent(cfgB)
	cfgA := c.AgentConfig("host-a", "active", svc)
	cfgA.TLS = certs["host-a"]
	cfgA.Datasets = []hostagent.Dataset{{Name: "world", Path: src, Class: "state"}}
	a := c.StartAgent(cfgA)

	// The first snapshot runs at start; it reaches the standby once the
	// standby is registered and gossips its mirror address.
	Eventually(t, 30*time.Second, "the first snapshot on the standby's warm copy", func() bool {
		st, _ := b.DatasetStatus("world")
		if st.LastMirror == 0 {
			a.SnapshotNow(t.Context(), "world")
			return false
		}
		return treeDiff(src, warm) == ""
	})
	for round := range 3 {
		// Change some files, add some, remove one.
		writeFiles(t, src, r, 4)
		ents, _ := os.ReadDir(filepath.Join(src, "regiona"))
		if len(ents) > 1 {
			os.Remove(filepath.Join(src, "regiona", ents[0].Name()))
		}
		id, err := a.SnapshotNow(t.Context(), "world")
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if d := treeDiff(src, warm); d != "" {
			t.Fatalf("round %d: warm copy differs from the source after snapshot %s: %s", round, id, d)
		}
		if st, _ := b.DatasetStatus("world"); st.LastSnapshotID != id {
			t.Errorf("round %d: standby reports snapshot %s, want %s", round, st.LastSnapshotID, id)
		}
	}

	cl := co.Client(c.AdminToken)
	Eventually(t, 10*time.Second, "both copies reported to the coordinators", func() bool {
		ds, err := cl.Datasets(t.Context())
		if err != nil {
			return false
		}
		var source, mirror bool
		for _, d := range ds {
			source = source || (d.Host == "host-a" && d.Replica == "source" && d.LastMirror > 0)
			mirror = mirror || (d.Host == "host-b" && d.Replica == "mirror" && d.LastMirror > 0 && d.LastError == "")
		}
		return source && mirror
	})
}

// TestFencedPrimaryResyncs fails a primary over to its standby, changes
// the data on the new primary, and brings the old primary back: fenced,
// it pulls the new primary's latest snapshot into its own copy before it
// stands by again.
func TestFencedPrimaryResyncs(t *testing.T) {
	ctx := t.Context()
	c := New(t, 1)
	co := c.Coordinators[c.Leader(10*time.Second)]
	certs := writeMirrorCerts(t, t.TempDir(), "host-a", "host-b")
	pathA, pathB := t.TempDir(), filepath.Join(t.TempDir(), "warm")
	r := mrand.New(mrand.NewPCG(3, 4))
	writeFiles(t, pathA, r, 8)

	a := newLoginHost(t, c, "host-a", "active", "cold")
	b := newLoginHost(t, c, "host-b", "standby", "cold")
	for _, h := range []struct {
		lh   *loginHost
		path string
	}{{a, pathA}, {b, pathB}} {
		h.lh.cfg.Services[0].Datasets = []string{"world"}
		h.lh.cfg.TLS = certs[h.lh.name]
		h.lh.cfg.Datasets = []hostagent.Dataset{{Name: "world", Path: h.path, Class: "state"}}
	}
	agentA := a.start(c)
	agentB := b.start(c)
	waitPrimaryServing(t, co, a, b)
	Eventually(t, 30*time.Second, "the standby's warm copy", func() bool {
		agentA.SnapshotNow(ctx, "world")
		return treeDiff(pathA, pathB) == ""
	})

	// The primary dies; the standby takes over and its data changes.
	agentA.Kill()
	a.ctl.Stop(ctx)
	Eventually(t, 20*time.Second, "host-b to serve", func() bool { return b.ctl.Running() })
	writeFiles(t, pathB, r, 5)
	Eventually(t, 20*time.Second, "a snapshot on the new primary", func() bool {
		agentB.SnapshotNow(ctx, "world") // its mirror to the dead host-a fails
		st, _ := agentB.DatasetStatus("world")
		return st.LastSnapshot > 0 && st.LastSnapshotID != ""
	})
	want := treeDiff(pathA, pathB)
	if want == "" {
		t.Fatal("the new primary's data did not change")
	}

	// The old primary comes back fenced, resynchronises and stands by.
	a.cfg.Ports.Gossip = port(t, agentA.GossipAddr())
	a.start(c)
	Eventually(t, 30*time.Second, "host-a to stand by unfenced", func() bool {
		s, err := co.Client("").Service(ctx, "login")
		if err != nil {
			return false
		}
		for _, i := range s.Instances {
			if i.Host == "host-a" {
				return !i.Fenced && !i.Primary
			}
		}
		return false
	})
	if d := treeDiff(pathB, pathA); d != "" {
		t.Fatalf("the resynchronised former primary differs from the new primary: %s", d)
	}
	if a.ctl.Running() {
		t.Fatal("fenced former primary serves")
	}
}

// TestTransactionalDatasetStreams checks that a transactional dataset's
// changes reach the standby's copy continuously, without waiting for a
// snapshot.
func TestTransactionalDatasetStreams(t *testing.T) {
	t.Parallel()
	c := New(t, 1)
	co := c.Coordinators[c.Leader(10*time.Second)]
	certs := writeMirrorCerts(t, t.TempDir(), "host-a", "host-b")
	src, copyDir := t.TempDir(), filepath.Join(t.TempDir(), "copy")
	os.MkdirAll(copyDir, 0o755)
	log := filepath.Join(src, "binlog.000001")
	os.WriteFile(log, []byte("first record\n"), 0o644)

	svc := hostagent.Service{Name: "db", Port: 3306, Datasets: []string{"db"}}
	cfgB := c.AgentConfig("host-b", "standby", svc)
	cfgB.TLS = certs["host-b"]
	cfgB.Datasets = []hostagent.Dataset{{Name: "db", Path: copyDir, Class: "transactional"}}
	b := c.StartAgent(cfgB)
	cfgA := c.AgentConfig("host-a", "active", svc)
	cfgA.TLS = certs["host-a"]
	cfgA.Datasets = []hostagent.Dataset{{Name: "db", Path: src, Class: "transactional"}}
	c.StartAgent(cfgA)

	Eventually(t, 30*time.Second, "the stream to deliver the log", func() bool { return treeDiff(src, copyDir) == "" })
	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		fmt.Fprintf(f, "record %d\n", i)
		f.Sync()
	}
	f.Close()
	Eventually(t, 10*time.Second, "the appended records on the standby", func() bool { return treeDiff(src, copyDir) == "" })
	Eventually(t, 10*time.Second, "the standby to report the stream", func() bool {
		st, _ := b.DatasetStatus("db")
		return st.LastMirror > 0
	})
	cl := co.Client(c.AdminToken)
	Eventually(t, 40*time.Second, "the source to report its lag", func() bool {
		ds, err := cl.Datasets(t.Context())
		if err != nil {
			return false
		}
		for _, d := range ds {
			if d.Host == "host-a" && d.Dataset == "db" && d.Replica == "source" && d.LastMirror > 0 {
				return true
			}
		}
		return false
	})
}

// TestArchiveDrillAndAlert copies a dataset's snapshots into a filesystem
// archive, runs a restore drill, then damages a pack: the next drill fails
// and the alert reaches the webhook.
func TestArchiveDrillAndAlert(t *testing.T) {
	t.Parallel()
	c := New(t, 1)
	c.Leader(10 * time.Second)
	alerts := make(chan string, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case alerts <- string(b):
		default:
		}
	}))
	defer hook.Close()
	src, nas := t.TempDir(), t.TempDir()
	writeFiles(t, src, mrand.New(mrand.NewPCG(8, 8)), 6)
	cfg := c.AgentConfig("host-a", "active")
	cfg.Datasets = []hostagent.Dataset{{Name: "world", Path: src, Archive: []string{"nas"}}}
	cfg.Archives = []hostagent.Archive{{Name: "nas", Type: "fs", Path: nas}}
	cfg.Alerts.Webhook = hook.URL
	a := c.StartAgent(cfg)
	Eventually(t, 20*time.Second, "a first snapshot", func() bool {
		id, err := a.SnapshotNow(t.Context(), "world")
		return err == nil && id != ""
	})
	if err := a.ArchiveNow(t.Context(), "nas"); err != nil {
		t.Fatal(err)
	}
	if ents, err := os.ReadDir(filepath.Join(nas, "snapshots")); err != nil || len(ents) == 0 {
		t.Fatalf("archive holds no snapshot: %v %v", ents, err)
	}
	if err := a.Drill(t.Context(), "world"); err != nil {
		t.Fatalf("drill: %v", err)
	}
	st, _ := a.DatasetStatus("world")
	if st.LastArchive == 0 || st.LastDrill == 0 || !st.DrillOK {
		t.Fatalf("status after archive and drill: %+v", st)
	}

	// Damage every pack in the middle: the drill must notice.
	packs, _ := filepath.Glob(filepath.Join(cfg.DataDir, "store", "packs", "*", "*.pack"))
	if len(packs) == 0 {
		t.Fatal("no packs")
	}
	for _, p := range packs {
		f, _ := os.OpenFile(p, os.O_RDWR, 0)
		fi, _ := f.Stat()
		f.WriteAt([]byte("damage damage damage"), fi.Size()/2)
		f.Close()
	}
	if err := a.Drill(t.Context(), "world"); err == nil {
		t.Fatal("drill passed over damaged packs")
	}
	if st, _ := a.DatasetStatus("world"); st.DrillOK || st.LastError == "" {
		t.Errorf("status after a failed drill: %+v", st)
	}
	select {
	case got := <-alerts:
		if !strings.Contains(got, `"drill"`) || !strings.Contains(got, "world") {
			t.Errorf("alert: %s", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no alert reached the webhook")
	}
}

// TestStoreOfAnotherPolynomialIsReported starts an agent whose store was
// created with a polynomial other than the cluster's: it refuses to use
// it and reports why for each dataset.
func TestStoreOfAnotherPolynomialIsReported(t *testing.T) {
	t.Parallel()
	c := New(t, 1)
	co := c.Coordinators[c.Leader(10*time.Second)]
	cfg := c.AgentConfig("host-a", "active")
	cfg.Datasets = []hostagent.Dataset{{Name: "world", Path: t.TempDir()}}
	pol, err := chunk.RandomPolynomial()
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Init(filepath.Join(cfg.DataDir, "store"), store.InitOptions{Polynomial: pol}); err != nil {
		t.Fatal(err)
	}
	c.StartAgent(cfg)
	cl := co.Client(c.AdminToken)
	Eventually(t, 20*time.Second, "the agent to report the polynomial mismatch", func() bool {
		ds, err := cl.Datasets(t.Context())
		if err != nil {
			return false
		}
		for _, d := range ds {
			if d.Host == "host-a" && strings.Contains(d.LastError, "polynomial") {
				return true
			}
		}
		return false
	})
}
