package stream

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

func openSession(t *testing.T, r *rig) sessionResponse {
	t.Helper()
	resp, err := http.Post(r.url+"session?dataset=robust-db&block=4096", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sr sessionResponse
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("session: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&sr); err != nil {
		t.Fatal(err)
	}
	return sr
}

func apply(t *testing.T, r *rig, session string, us ...*update) (int, applyResponse) {
	t.Helper()
	body := []byte(bodyMagic)
	for _, u := range us {
		body = appendUpdate(body, u)
	}
	resp, err := http.Post(r.url+"apply?dataset=robust-db&session="+session, "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var ar applyResponse
	if err := json.NewDecoder(resp.Body).Decode(&ar); err != nil {
		t.Fatalf("apply answer (%s): %v", resp.Status, err)
	}
	return resp.StatusCode, ar
}

func write(seq uint64, p string, off int64, data string) *update {
	return &update{seq: seq, op: opWrite, path: p, off: off, data: []byte(data)}
}

// TestReceiverOrder: the receiver applies only the next sequence number,
// refuses a gap without writing anything past it, skips resent updates,
// and refuses a superseded session.
func TestReceiverOrder(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	sr := openSession(t, r)
	if sr.Applied != 0 || len(sr.Files) != 0 {
		t.Fatalf("fresh session = %+v", sr)
	}
	log := filepath.Join(r.dst, "binlog.000001")

	code, ar := apply(t, r, sr.Session, write(2, "binlog.000001", 6, "second"))
	if code != http.StatusConflict || ar.Error != conflictGap || ar.Applied != 0 {
		t.Fatalf("apply 2 before 1 = %d %+v, want 409 gap at 0", code, ar)
	}
	if _, err := os.Stat(log); !os.IsNotExist(err) {
		t.Fatalf("a refused update wrote the file (%v)", err)
	}

	code, ar = apply(t, r, sr.Session, write(1, "binlog.000001", 0, "first "), write(3, "binlog.000001", 12, "third"))
	if code != http.StatusConflict || ar.Applied != 1 {
		t.Fatalf("apply 1,3 = %d %+v, want 409 at 1", code, ar)
	}
	if b, _ := os.ReadFile(log); string(b) != "first " {
		t.Fatalf("after 1,3: file %q, want only update 1 applied", b)
	}

	code, ar = apply(t, r, sr.Session, write(1, "binlog.000001", 0, "XXXXXX"), write(2, "binlog.000001", 6, "second"), write(3, "binlog.000001", 12, "third"))
	if code != http.StatusOK || ar.Applied != 3 {
		t.Fatalf("resend 1..3 = %d %+v, want 200 at 3", code, ar)
	}
	if b, _ := os.ReadFile(log); string(b) != "first secondthird" {
		t.Fatalf("after resend: file %q; an applied update was applied again", b)
	}
	pos, err := r.rx.Position("robust-db")
	if err != nil || pos.Applied != 3 || pos.Session != sr.Session {
		t.Fatalf("Position = %+v, %v", pos, err)
	}

	// A new session continues the numbering and shows the copy; the old
	// session is refused.
	sr2 := openSession(t, r)
	if sr2.Applied != 3 || len(sr2.Files) != 1 || sr2.Files[0].Size != 17 || sr2.Files[0].Blocks[0] != hashBlock([]byte("first secondthird")) {
		t.Fatalf("second session = %+v", sr2)
	}
	code, ar = apply(t, r, sr.Session, write(4, "binlog.000001", 0, "stale"))
	if code != http.StatusConflict || ar.Error != conflictSession {
		t.Fatalf("apply in a superseded session = %d %+v, want 409 session", code, ar)
	}

	// Paths are confined to the target.
	for _, bad := range []string{"../escape", "/abs", "a/../../b"} {
		code, _ := apply(t, r, sr2.Session, write(4, bad, 0, "x"))
		if code != http.StatusBadRequest {
			t.Errorf("apply to %q = %d, want 400", bad, code)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(r.dst), "escape")); !os.IsNotExist(err) {
		t.Errorf("an update escaped the target directory")
	}

	// The position survives a receiver restart.
	rx2, err := NewReceiver(r.rx.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if pos, err := rx2.Position("robust-db"); err != nil || pos.Applied != 3 || pos.Session != sr2.Session {
		t.Errorf("Position after restart = %+v, %v", pos, err)
	}
}
