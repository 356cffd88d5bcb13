package archive_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/understudy/understudy/agent/internal/archive"
	"github.com/understudy/understudy/agent/internal/archive/archivetest"
)

func TestFSConformance(t *testing.T) {
	t.Parallel()
	archivetest.Run(t, func(t *testing.T) archive.Backend { return newFS(t) })
}

func newFS(t testing.TB) archive.Backend {
	t.Helper()
	b, err := archive.NewFS(filepath.Join(t.TempDir(), "nas"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestS3Conformance(t *testing.T) {
	t.Parallel()
	gw := versitygw(t)
	archivetest.Run(t, func(t *testing.T) archive.Backend { return gw.backend(t) })
}

// TestFSTempFilesHidden: a Put interrupted before its rename leaves a
// temporary file that List does not show and the name does not resolve to.
func TestFSTempFilesHidden(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	b, err := archive.NewFS(root)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(root, "chunks", "ab"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "chunks", "ab", ".tmp-123"), []byte("half"), 0o600); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := b.List(t.Context(), "", func(archive.ObjectInfo) error { n++; return nil }); err != nil || n != 0 {
		t.Errorf("List = %d objects, %v; want none", n, err)
	}
}

// gateway is a versitygw S3 server started for this test binary.
type gateway struct {
	addr, access, secret string
	buckets              atomic.Int64
}

var (
	gwOnce sync.Once
	gw     *gateway
	gwErr  error
	gwCmd  *exec.Cmd
)

func TestMain(m *testing.M) {
	code := m.Run()
	if gwCmd != nil {
		gwCmd.Process.Kill()
		gwCmd.Wait()
	}
	os.Exit(code)
}

// versitygwBinary finds versitygw on PATH or in GOPATH/bin, building it
// there when missing (several minutes on a cold module cache).
func versitygwBinary() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(strings.TrimSpace(string(out)), "bin", "versitygw")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", "github.com/versity/versitygw/cmd/versitygw@v1.0.14")
	cmd.Dir = os.TempDir()
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install versitygw@v1.0.14: %v: %s", err, b)
	}
	return bin, nil
}

func versitygw(t testing.TB) *gateway {
	t.Helper()
	gwOnce.Do(func() {
		bin, err := versitygwBinary()
		if err != nil {
			gwErr = err
			return
		}
		dir, err := os.MkdirTemp("", "understudy-versitygw-")
		if err != nil {
			gwErr = err
			return
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			gwErr = err
			return
		}
		addr := l.Addr().String()
		l.Close()
		g := &gateway{addr: addr, access: "understudy", secret: "understudy-secret-key"}
		cmd := exec.Command(bin, "--port", addr, "--access", g.access, "--secret", g.secret, "posix", dir)
		if err := cmd.Start(); err != nil {
			gwErr = err
			return
		}
		gwCmd = cmd
		deadline := time.Now().Add(30 * time.Second)
		for {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				gwErr = errors.New("versitygw did not listen within 30s")
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
		gw = g
	})
	if gwErr != nil {
		t.Skipf("S3 run skipped: no versitygw server (%v); install it with go install github.com/versity/versitygw/cmd/versitygw@v1.0.14", gwErr)
	}
	return gw
}

// backend returns a backend on a fresh bucket, under a prefix so that the
// prefix handling is exercised too.
func (g *gateway) backend(t testing.TB) archive.Backend {
	t.Helper()
	n := g.buckets.Add(1)
	b, err := archive.NewS3(t.Context(), archive.S3Config{
		Endpoint: g.addr, Bucket: fmt.Sprintf("understudy-%d", n), Prefix: "grid/nightly",
		AccessKey: g.access, SecretKey: g.secret, Region: "us-east-1", Insecure: true, CreateBucket: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}
