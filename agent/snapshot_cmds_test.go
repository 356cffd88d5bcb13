package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/understudy/understudy/pkg/command"
)

// runAgent runs the agent's root command in process and returns stdout and
// the exit status main would use.
func runAgent(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), command.ExitCode(err)
}

func TestSnapshotCommands(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	os.WriteFile(filepath.Join(src, "sub", "a"), bytes.Repeat([]byte("grid "), 50000), 0o644)
	os.WriteFile(filepath.Join(src, "b"), []byte("b"), 0o600)
	st := filepath.Join(dir, "store")
	key := filepath.Join(dir, "key")

	out, code := runAgent(t, "init", "--store", st, "--key-file", key, "--json")
	if code != 0 || !strings.Contains(out, `"compression": "auto"`) {
		t.Fatalf("init: %d %s", code, out)
	}
	out, code = runAgent(t, "backup", "--store", st, "--key-file", key, "--dataset", "ds", "--class", "state", "--json", src)
	if code != 0 {
		t.Fatalf("backup: %d %s", code, out)
	}
	var rec struct {
		ID    string
		Class string
		Stats struct {
			Files      int64 `json:"files"`
			BytesAdded int64 `json:"bytes_added"`
		}
	}
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("backup --json: %v\n%s", err, out)
	}
	if rec.Stats.Files != 2 || rec.Stats.BytesAdded <= 0 || rec.Stats.BytesAdded > 250000/2 || rec.Class != "state" {
		t.Errorf("backup stats: %+v", rec)
	}
	out, code = runAgent(t, "snapshots", "--store", st, "--key-file", key, "--json")
	var list []map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list) != 1 {
		t.Fatalf("snapshots: %d %s", code, out)
	}
	to := filepath.Join(dir, "out")
	out, code = runAgent(t, "restore", "--store", st, "--key-file", key, "--dataset", "ds", "--at", "2999-01-01T00:00:00Z", "--to", to)
	if code != 0 {
		t.Fatalf("restore: %d %s", code, out)
	}
	if b, _ := os.ReadFile(filepath.Join(to, "sub", "a")); len(b) != 250000 {
		t.Errorf("restored file has %d bytes", len(b))
	}
	for _, args := range [][]string{
		{"verify", "--store", st, "--key-file", key, "--read-data-subset", "50%"},
		{"drill", "--store", st, "--key-file", key, "--dataset", "ds", "--json"},
		{"forget", "--store", st, "--key-file", key, "--keep-last", "1", "--dry-run", "--prune"},
	} {
		if out, code := runAgent(t, args...); code != 0 {
			t.Errorf("%s: exit %d\n%s", args[0], code, out)
		}
	}

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"no store", []string{"snapshots"}},
		{"missing store", []string{"snapshots", "--store", filepath.Join(dir, "nope")}},
		{"no key", []string{"snapshots", "--store", st}},
		{"bad class", []string{"backup", "--store", st, "--key-file", key, "--dataset", "ds", "--class", "x", src}},
		{"no path", []string{"backup", "--store", st, "--key-file", key, "--dataset", "ds"}},
		{"path not a dir", []string{"backup", "--store", st, "--key-file", key, "--dataset", "ds", filepath.Join(src, "b")}},
		{"bad time", []string{"restore", "--store", st, "--key-file", key, "--dataset", "ds", "--at", "soon", "--to", to}},
		{"before the first", []string{"restore", "--store", st, "--key-file", key, "--dataset", "ds", "--at", "2001-01-01", "--to", to}},
		{"unknown snapshot", []string{"restore", "--store", st, "--key-file", key, "--snapshot", "ffffffff", "--to", to}},
		{"no target", []string{"restore", "--store", st, "--key-file", key, "--dataset", "ds"}},
		{"bad subset", []string{"verify", "--store", st, "--key-file", key, "--read-data-subset", "150%"}},
		{"empty policy", []string{"forget", "--store", st, "--key-file", key}},
		{"unknown flag", []string{"verify", "--store", st, "--bogus"}},
		{"bad compression", []string{"backup", "--store", st, "--key-file", key, "--dataset", "ds", "--compression", "lz4", src}},
		{"init bad compression", []string{"init", "--store", filepath.Join(dir, "other"), "--compression", "fast"}},
	} {
		out, code := runAgent(t, tc.args...)
		if code != 2 {
			t.Errorf("%s: exit %d, want 2\n%s", tc.name, code, out)
		}
	}
	// Damage is exit 1 with the file named.
	var packs []string
	filepath.Walk(filepath.Join(st, "packs"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.HasSuffix(p, ".pack") {
			packs = append(packs, p)
		}
		return nil
	})
	for _, p := range packs {
		b, _ := os.ReadFile(p)
		b[20] ^= 1
		os.WriteFile(p, b, 0o600)
	}
	out, code = runAgent(t, "verify", "--store", st, "--key-file", key)
	if code != 1 || !strings.Contains(out, "1 files affected") {
		t.Errorf("verify of a damaged store: exit %d\n%s", code, out)
	}
}
