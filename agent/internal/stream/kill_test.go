package stream

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

const (
	recordSize = 64
	pageSize   = 4096
	pages      = 64
	// rpo is the objective the kill test holds the sender to.
	rpo = time.Second
)

// TestSenderProcess is the sender run as a child process by
// TestKillSender; it does nothing in a normal run.
func TestSenderProcess(t *testing.T) {
	dir, url := os.Getenv("UNDERSTUDY_STREAM_CHILD_DIR"), os.Getenv("UNDERSTUDY_STREAM_CHILD_URL")
	if dir == "" || url == "" {
		t.Skip("helper process for TestKillSender")
	}
	s, err := NewSender(SenderConfig{Dataset: "robust-db", Dir: dir, URL: url})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func record(i int) []byte {
	b := fmt.Appendf(nil, "trade %010d gold=%d", i, i*7)
	b = append(b, bytes.Repeat([]byte{'.'}, recordSize-1-len(b))...)
	return append(b, '\n')
}

func page(version uint64) []byte {
	b := make([]byte, pageSize)
	binary.LittleEndian.PutUint64(b, version)
	for i := 8; i < pageSize; i++ {
		b[i] = byte(version) + byte(i)
	}
	return b
}

// writeLoad appends fsynced records to a log and rewrites fsynced pages of
// a database file until stop is closed, recording when each was durable.
type writeLoad struct {
	log, db *os.File
	// mu guards the fields below.
	mu       sync.Mutex
	recTimes []time.Time
	// pageWrites[p] lists (version, durable time) of page p's writes.
	pageWrites [pages][]pageWrite
}

type pageWrite struct {
	version uint64
	at      time.Time
}

func (w *writeLoad) run(t *testing.T, stop <-chan struct{}) {
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < 100_000; i++ {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		if _, err := w.log.Write(record(i)); err != nil {
			t.Error(err)
			return
		}
		if err := w.log.Sync(); err != nil {
			t.Error(err)
			return
		}
		now := time.Now()
		p := i % pages
		v := uint64(i + 1)
		if _, err := w.db.WriteAt(page(v), int64(p)*pageSize); err != nil {
			t.Error(err)
			return
		}
		if err := w.db.Sync(); err != nil {
			t.Error(err)
			return
		}
		later := time.Now()
		w.mu.Lock()
		w.recTimes = append(w.recTimes, now)
		w.pageWrites[p] = append(w.pageWrites[p], pageWrite{v, later})
		w.mu.Unlock()
	}
}

// TestKillSender: a writer appends fsynced records to a log and rewrites
// pages of a database file while the sender runs as a separate process;
// the sender is killed with SIGKILL at a random moment. Every record
// durable more than a second before the kill is on the standby, in order
// and without gaps (the standby's log is a prefix of the source's), every
// page holds at least the version durable a second before the kill, and a
// restarted sender brings the standby back to the source.
func TestKillSender(t *testing.T) {
	runs := 5
	if os.Getenv("UNDERSTUDY_LONG_TESTS") == "1" {
		runs = 25
	}
	for run := range runs {
		t.Run(strconv.Itoa(run), func(t *testing.T) { killOnce(t, run) })
	}
}

func killOnce(t *testing.T, run int) {
	r := newRig(t)
	src := t.TempDir()
	logF, err := os.OpenFile(filepath.Join(src, "binlog.000001"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer logF.Close()
	dbF, err := os.OpenFile(filepath.Join(src, "world.db"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer dbF.Close()
	for p := range pages {
		if _, err := dbF.WriteAt(page(0), int64(p)*pageSize); err != nil {
			t.Fatal(err)
		}
	}

	var childOut bytes.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^TestSenderProcess$", "-test.v")
	cmd.Env = append(os.Environ(), "UNDERSTUDY_STREAM_CHILD_DIR="+src, "UNDERSTUDY_STREAM_CHILD_URL="+r.url)
	cmd.Stdout, cmd.Stderr = &childOut, &childOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("sender output:\n%s", childOut.String())
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		pos, err := r.rx.Position("robust-db")
		if err != nil {
			t.Fatal(err)
		}
		if pos.Session != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the sender process never opened a session")
		}
		time.Sleep(5 * time.Millisecond)
	}

	w := &writeLoad{log: logF, db: dbF}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { w.run(t, stop) })
	rng := rand.New(rand.NewPCG(uint64(run), uint64(time.Now().UnixNano())))
	killAfter := 1200*time.Millisecond + time.Duration(rng.Int64N(int64(1300*time.Millisecond)))
	timer := time.NewTimer(killAfter)
	<-timer.C
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	cmd.Wait()
	close(stop)
	wg.Wait()
	cutoff := killed.Add(-rpo)

	// The log: a prefix of the source, holding every record durable
	// before the cutoff.
	w.mu.Lock()
	need := 0
	for need < len(w.recTimes) && w.recTimes[need].Before(cutoff) {
		need++
	}
	total := len(w.recTimes)
	pageWrites := w.pageWrites
	w.mu.Unlock()
	srcLog, err := os.ReadFile(filepath.Join(src, "binlog.000001"))
	if err != nil {
		t.Fatal(err)
	}
	dstLog, err := os.ReadFile(filepath.Join(r.dst, "binlog.000001"))
	if err != nil && need > 0 {
		t.Fatalf("standby has no log, %d records were due: %v", need, err)
	}
	if !bytes.HasPrefix(srcLog, dstLog) {
		t.Fatalf("standby log (%d bytes) is not a prefix of the source log (%d bytes): out of order or gaps", len(dstLog), len(srcLog))
	}
	have := len(dstLog) / recordSize
	t.Logf("killed after %v: %d records written, %d due, %d on the standby", killAfter, total, need, have)
	if have < need {
		t.Errorf("standby holds %d records; %d were durable more than %v before the kill", have, need, rpo)
	}

	// The pages: at least the version durable before the cutoff.
	dstDB, err := os.ReadFile(filepath.Join(r.dst, "world.db"))
	if err != nil {
		t.Fatal(err)
	}
	for p := range pages {
		var due uint64
		for _, pw := range pageWrites[p] {
			if pw.at.Before(cutoff) {
				due = pw.version
			}
		}
		if len(dstDB) < (p+1)*pageSize {
			t.Errorf("standby database is %d bytes, lacks page %d", len(dstDB), p)
			continue
		}
		if got := binary.LittleEndian.Uint64(dstDB[p*pageSize:]); got < due {
			t.Errorf("page %d: standby has version %d, version %d was durable more than %v before the kill", p, got, due, rpo)
		}
	}

	// A restarted sender catches up from where the standby is.
	s, _ := startSender(t, SenderConfig{Dataset: "robust-db", Dir: src, URL: r.url, Logger: testLogger(t)})
	waitConverged(t, s, src, r.dst)
}
