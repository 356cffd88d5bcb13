package alert_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/understudy/understudy/agent/internal/alert"
	"github.com/understudy/understudy/agent/internal/backup"
	"github.com/understudy/understudy/agent/internal/restore"
	"github.com/understudy/understudy/pkg/store"
)

// TestDrillCorruptPackRaisesAlert: a restore drill over a store whose pack
// was damaged on disk fails with a message naming the pack, and the alert
// it raises reaches the webhook.
func TestDrillCorruptPackRaisesAlert(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	src := t.TempDir()
	data := bytes.Repeat([]byte("region terrain and prims "), 40000) // ~1 MB
	if err := os.WriteFile(filepath.Join(src, "region.oar"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := store.Init(dir, store.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := backup.Run(ctx, st, src, backup.Options{Dataset: "region-a", Host: "host-a"}); err != nil {
		t.Fatal(err)
	}
	// A healthy drill passes.
	if _, err := restore.Drill(ctx, st, "region-a", t.TempDir(), restore.Options{}); err != nil {
		t.Fatalf("drill of a healthy store: %v", err)
	}

	// Flip bytes in the middle of the first blob of every pack.
	packs, err := st.ListPacks(ctx)
	if err != nil || len(packs) == 0 {
		t.Fatalf("ListPacks = %v, %v", packs, err)
	}
	var names []string
	for p := range packs {
		name := p.String()
		names = append(names, name)
		path := filepath.Join(dir, "packs", name[:2], name+".pack")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := 20; i < 40; i++ {
			b[i] ^= 0xff
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	st, err = store.Open(dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()

	_, derr := restore.Drill(ctx, st, "region-a", t.TempDir(), restore.Options{})
	if !errors.Is(derr, restore.ErrDamaged) {
		t.Fatalf("drill of a damaged store = %v, want ErrDamaged", derr)
	}
	named := false
	for _, n := range names {
		named = named || strings.Contains(derr.Error(), n)
	}
	if !named || !strings.Contains(derr.Error(), "region.oar") || !strings.Contains(derr.Error(), "region-a") {
		t.Errorf("drill error %q does not name the dataset, the file and the pack (%v)", derr, names)
	}

	got := make(chan alert.Alert, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var al alert.Alert
		if err := json.NewDecoder(r.Body).Decode(&al); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- al
	}))
	defer srv.Close()
	var logs bytes.Buffer
	a, err := alert.New(alert.Config{WebhookURL: srv.URL, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Raise(ctx, alert.JobFailed("drill", "region-a", derr)); err != nil {
		t.Fatalf("Raise: %v", err)
	}
	al := <-got
	if al.Kind != alert.KindJobFailed || al.Job != "drill" || al.Dataset != "region-a" || !strings.Contains(al.Message, "region.oar") {
		t.Errorf("webhook received %+v", al)
	}
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("alert not logged at error level: %s", logs.String())
	}
}
