package mirror_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/understudy/understudy/agent/internal/mirror"
	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/store"
)

// ca is a test certificate authority.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newCA(t testing.TB) *ca {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "understudy test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &ca{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue returns PEM certificate and key for host, valid in [from, until].
func (c *ca) issue(t testing.TB, host string, from, until time.Time) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(mrand.Int64()), Subject: pkix.Name{CommonName: host}, DNSNames: []string{host},
		NotBefore: from, NotAfter: until, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, &key.PublicKey, c.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

func (c *ca) creds(t testing.TB, host string) *mirror.Credentials {
	t.Helper()
	cp, kp := c.issue(t, host, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	cr, err := mirror.NewCredentials(c.pem, cp, kp)
	if err != nil {
		t.Fatal(err)
	}
	return cr
}

// writeCreds writes CA, certificate and key files for host into dir.
func (c *ca) writeCreds(t testing.TB, dir, host string) mirror.TLSFiles {
	t.Helper()
	cp, kp := c.issue(t, host, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	f := mirror.TLSFiles{CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, host+".pem"), KeyFile: filepath.Join(dir, host+".key")}
	for p, b := range map[string][]byte{f.CAFile: c.pem, f.CertFile: cp, f.KeyFile: kp} {
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func nopLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tlogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tlogWriter struct{ t testing.TB }

func (w tlogWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

var testPol = func() chunk.Polynomial {
	p, err := chunk.RandomPolynomial()
	if err != nil {
		panic(err)
	}
	return p
}()

func openStore(t testing.TB, dir string) *store.Store {
	t.Helper()
	st, err := mirror.OpenStore(dir, testPol, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// receiver runs a mirror server on loopback and returns its address.
func receiver(t testing.TB, st *store.Store, c *ca, host string, cfg mirror.ServerConfig, authorize func([]string) error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.Store, cfg.Host = st, host
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	srv := mirror.NewServer(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := srv.Serve(ctx, ln, c.creds(t, host).ServerTLS(authorize)); err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	t.Cleanup(func() { cancel(); wg.Wait() })
	return ln.Addr().String()
}

// genTree writes a deterministic dataset of about size bytes: a few large
// incompressible files and some smaller text-like ones.
func genTree(t testing.TB, dir string, seed uint64, size int64) {
	t.Helper()
	r := mrand.New(mrand.NewPCG(seed, 1))
	var total int64
	for i := 0; total < size; i++ {
		n := int64(64<<10 + r.IntN(3<<20))
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		p := filepath.Join(dir, "region"+string(rune('a'+i%5)), "file"+string(rune('a'+i/5))+".bin")
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		total += n
	}
}

// proxy is a TCP bridge between a sender and a receiver that counts the
// bytes sent through it and can cut every connection after a byte budget.
type proxy struct {
	ln     net.Listener
	target string
	up     atomic.Int64 // bytes from the client towards the target
	down   atomic.Int64 // bytes from the target back to the client
	cutAt  int64        // cut once up passes this; 0 never
	mu     sync.Mutex
	conns  []net.Conn // guarded by mu
	wg     sync.WaitGroup
}

func newProxy(t testing.TB, target string, cutAt int64) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, cutAt: cutAt}
	p.wg.Go(p.accept)
	t.Cleanup(p.close)
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		p.wg.Go(func() { p.pipe(u, c, true) })
		p.wg.Go(func() { p.pipe(c, u, false) })
	}
}

func (p *proxy) pipe(dst, src net.Conn, up bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if up {
				total := p.up.Add(int64(n))
				if p.cutAt > 0 && total > p.cutAt {
					p.cut()
					return
				}
			} else {
				p.down.Add(int64(n))
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
}

// cut closes every connection through the proxy.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
}

func (p *proxy) close() {
	p.ln.Close()
	p.cut()
	p.wg.Wait()
}

// genDB writes database files (small chunks) of about size bytes in all.
func genDB(t testing.TB, dir string, size int64) {
	t.Helper()
	r := mrand.New(mrand.NewPCG(3, 3))
	b := make([]byte, 8<<20)
	for i := 0; int64(i)*int64(len(b)) < size; i++ {
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		if err := os.WriteFile(filepath.Join(dir, "table"+string(rune('a'+i))+".db"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// touchPages rewrites one 16 KiB page in every database file of dir.
func touchPages(t testing.TB, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for i, e := range ents {
		f, err := os.OpenFile(filepath.Join(dir, e.Name()), os.O_RDWR, 0)
		if err != nil {
			t.Fatal(err)
		}
		f.WriteAt(bytes.Repeat([]byte{byte(i)}, 16<<10), int64(i+1)*1<<20)
		f.Close()
	}
}
