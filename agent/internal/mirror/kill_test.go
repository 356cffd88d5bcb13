package mirror_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/understudy/understudy/agent/internal/mirror"
	"github.com/understudy/understudy/pkg/chunk"
	"github.com/understudy/understudy/pkg/snapshot"
	"github.com/understudy/understudy/pkg/store"
)

// The test binary doubles as a receiver process for TestKilledReceiver.
const (
	envStore = "UNDERSTUDY_TEST_RECEIVER_STORE"
	envPol   = "UNDERSTUDY_TEST_RECEIVER_POL"
	envCreds = "UNDERSTUDY_TEST_RECEIVER_CREDS"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(envStore); dir != "" {
		os.Exit(runReceiver(dir))
	}
	os.Exit(m.Run())
}

func runReceiver(dir string) int {
	pol, _ := strconv.ParseUint(os.Getenv(envPol), 10, 64)
	st, err := mirror.OpenStore(dir, chunk.Polynomial(pol), store.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	cd := os.Getenv(envCreds)
	cr, err := mirror.LoadCredentials(mirror.TLSFiles{CAFile: filepath.Join(cd, "ca.pem"),
		CertFile: filepath.Join(cd, "host-b.pem"), KeyFile: filepath.Join(cd, "host-b.key")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ln.Addr().String())
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := mirror.NewServer(mirror.ServerConfig{Store: st, Host: "host-b"}).Serve(ctx, ln, cr.ServerTLS(nil)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startReceiver runs the receiver process on store dir and returns it with
// its address.
func startReceiver(t *testing.T, dir, creds string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envStore+"="+dir, envPol+"="+strconv.FormatUint(uint64(testPol), 10), envCreds+"="+creds)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("receiver did not start: %v", err)
	}
	return cmd, line[:len(line)-1]
}

// checkClean opens the receiver's store after a kill: its check finds no
// damage and every snapshot it lists is complete.
func checkClean(t *testing.T, dir string) int {
	t.Helper()
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	chk, err := st.Check(t.Context(), func(store.PackID) bool { return true })
	if err != nil || len(chk.Problems) > 0 || len(chk.Bad) > 0 {
		t.Fatalf("receiver store damaged after a kill: %v %+v", err, chk.Problems)
	}
	recs, err := snapshot.List(t.Context(), st, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if err := mirror.Complete(t.Context(), st, r); err != nil {
			t.Fatalf("receiver lists a partial snapshot: %v", err)
		}
	}
	return len(recs)
}

// TestKilledReceiver kills the receiving process with SIGKILL while it
// receives chunks and while it commits, and checks that it never lists a
// partial snapshot and that the next mirror completes.
func TestKilledReceiver(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Parallel()
	c := newCA(t)
	creds := t.TempDir()
	c.writeCreds(t, creds, "host-b")
	tc := c.creds(t, "host-a").ClientTLS("host-b")
	src := t.TempDir()
	a := openStore(t, t.TempDir())
	dir := t.TempDir()

	// Kill points: during the chunk stream, just as the commit is sent,
	// and a little into the commit.
	kills := []struct {
		phase string
		delay time.Duration
	}{{"chunks", 20 * time.Millisecond}, {"commit", 0}, {"commit", time.Millisecond}, {"commit", 3 * time.Millisecond}}
	for i, k := range kills {
		genTree(t, filepath.Join(src, strconv.Itoa(i)), uint64(10+i), 3<<20)
		rec := snap(t, a, src)
		cmd, addr := startReceiver(t, dir, creds)
		killed := make(chan struct{})
		cl := mirror.NewClient(addr, mirror.ClientOptions{TLS: tc, OnPhase: func(p string, _ int) {
			if p == k.phase {
				time.AfterFunc(k.delay, func() { cmd.Process.Kill(); close(killed) })
			}
		}})
		_, sendErr := cl.Send(t.Context(), a, rec)
		cl.Close()
		select {
		case <-killed:
		case <-time.After(10 * time.Second):
			t.Fatal("receiver never killed")
		}
		cmd.Wait()
		n := checkClean(t, dir)
		t.Logf("kill %d (%s+%v): send error %v; receiver lists %d of %d snapshots", i, k.phase, k.delay, sendErr, n, i+1)

		cmd, addr = startReceiver(t, dir, creds)
		cl = mirror.NewClient(addr, mirror.ClientOptions{TLS: tc})
		if _, err := cl.Send(t.Context(), a, rec); err != nil {
			t.Fatalf("mirror after restart: %v", err)
		}
		cl.Close()
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if n := checkClean(t, dir); n != i+1 {
			t.Fatalf("receiver lists %d snapshots, want %d", n, i+1)
		}
	}
}
