package backup_test

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/understudy/understudy/agent/internal/backup"
	"github.com/understudy/understudy/agent/internal/restore"
	"github.com/understudy/understudy/agent/internal/verify"
	"github.com/understudy/understudy/pkg/store"
)

// TestCrashChild is the backup process that TestSIGKILLDuringBackup kills;
// it does nothing unless started by that test.
func TestCrashChild(t *testing.T) {
	storeDir, src := os.Getenv("UNDERSTUDY_CRASH_STORE"), os.Getenv("UNDERSTUDY_CRASH_SRC")
	if storeDir == "" {
		t.Skip("only run as a child of TestSIGKILLDuringBackup")
	}
	st, err := store.Open(storeDir, store.Options{Key: crashKey})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := backup.Run(t.Context(), st, src, backup.Options{Dataset: "crash", PackSize: 1 << 20, NoParent: true}); err != nil {
		t.Fatal(err)
	}
}

var crashKey = []byte("0123456789abcdef0123456789abcdef")

func TestSIGKILLDuringBackup(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns backup processes")
	}
	t.Parallel()
	src := filepath.Join(t.TempDir(), "src")
	rng := rand.New(rand.NewPCG(42, 1))
	storeDir := filepath.Join(t.TempDir(), "store")
	if err := store.Init(storeDir, store.InitOptions{Key: crashKey}); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		// Fresh content each round (about 30 MiB, 30 packs of 1 MiB), so
		// that the child has new packs to write; it is killed once it has
		// finished a randomly chosen one, plus a random moment.
		writeDataset(t, rng, src)
		at := 1 + rng.IntN(20)
		runChild(t, storeDir, src, at, time.Duration(rng.IntN(3000))*time.Microsecond)
		st, err := store.Open(storeDir, store.Options{Key: crashKey})
		if err != nil {
			t.Fatal(err)
		}
		rep, err := verify.Run(t.Context(), st, verify.Options{ReadFraction: 1})
		if err != nil {
			t.Fatalf("kill %d at pack %d: verify: %v (%+v)", i, at, err, rep)
		}
		rec, err := backup.Run(t.Context(), st, src, backup.Options{Dataset: "crash", PackSize: 1 << 20})
		if err != nil {
			t.Fatalf("kill %d at pack %d: next backup: %v", i, at, err)
		}
		dst := filepath.Join(t.TempDir(), "dst")
		if _, err := restore.Run(t.Context(), st, rec, dst, restore.Options{}); err != nil {
			t.Fatalf("kill %d: restore: %v", i, err)
		}
		if err := restore.Compare(t.Context(), st, rec, dst); err != nil {
			t.Fatalf("kill %d: %v", i, err)
		}
		st.Close()
	}
}

// runChild runs a backup in a child process. With killAtPack > 0 it kills
// the child with SIGKILL, extra after the child started its killAtPack-th
// pack file (or finished).
func runChild(t *testing.T, storeDir, src string, killAtPack int, extra time.Duration) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "UNDERSTUDY_CRASH_STORE="+storeDir, "UNDERSTUDY_CRASH_SRC="+src)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if killAtPack <= 0 {
		if err := <-exited; err != nil {
			t.Fatalf("backup child: %v", err)
		}
		return
	}
	base := countPacks(storeDir)
	deadline := time.Now().Add(time.Minute)
	for countPacks(storeDir) < base+killAtPack && time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Logf("backup finished (%v) before pack %d", err, killAtPack)
			return
		case <-time.After(time.Millisecond):
		}
	}
	time.Sleep(extra) // the random moment within that pack
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		t.Logf("backup killed in pack %d", killAtPack)
	} else {
		t.Logf("backup finished before the kill at pack %d", killAtPack)
	}
}

func countPacks(storeDir string) int {
	n := 0
	subs, _ := os.ReadDir(filepath.Join(storeDir, "packs"))
	for _, sd := range subs {
		ents, _ := os.ReadDir(filepath.Join(storeDir, "packs", sd.Name()))
		n += len(ents)
	}
	return n
}

func writeDataset(t *testing.T, rng *rand.Rand, src string) {
	t.Helper()
	for i := range 12 {
		data := make([]byte, 1<<20+rng.IntN(3<<20))
		for j := 0; j < len(data); j += 8 {
			v := rng.Uint64()
			for k := 0; k < 8 && j+k < len(data); k++ {
				data[j+k] = byte(v >> (8 * k))
			}
		}
		p := filepath.Join(src, "dir", string(rune('a'+i%4)), string(rune('a'+i)))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
