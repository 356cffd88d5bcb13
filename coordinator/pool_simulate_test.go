package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/understudy/understudy/pkg/command"
)

// runPoolSimulate runs `pool simulate` with args and returns its output.
func runPoolSimulate(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newPoolSimulateCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	cmd.SilenceUsage = true
	cmd.SilenceErrors = true
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return command.Usage(err) })
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

const poolExamples = "../examples/standby/"

func TestPoolSimulateCSV(t *testing.T) {
	t.Parallel()
	out, err := runPoolSimulate(t, "--policy", poolExamples+"policy.yaml", "--trace", poolExamples+"playfab.csv", "--tick", "15m", "--csv")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[0], "t,active,standby,floor,target,failed") {
		t.Errorf("header %q", lines[0])
	}
	var targets []string
	for _, l := range lines[1:] {
		targets = append(targets, strings.Split(l, ",")[4])
	}
	if got := strings.Join(targets, " "); got != "10 10 15 30 30 30 10" {
		t.Errorf("PlayFab targets = %s, want 10 10 15 30 30 30 10", got)
	}
}

func TestPoolSimulateTableJSONAndSVG(t *testing.T) {
	t.Parallel()
	svg := filepath.Join(t.TempDir(), "burst.svg")
	out, err := runPoolSimulate(t, "--policy", poolExamples+"policy.yaml", "--trace", poolExamples+"burst.csv", "--svg", svg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "allocations 151, failed 5") {
		t.Errorf("summary missing from:\n%s", out)
	}
	b, err := os.ReadFile(svg)
	if err != nil || !bytes.HasPrefix(b, []byte("<svg")) {
		t.Errorf("svg file: %v, %.40q", err, b)
	}
	out, err = runPoolSimulate(t, "--policy", poolExamples+"policy.yaml", "--trace", poolExamples+"burst.csv", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Summary struct {
			Ticks, Failed int
		}
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.Summary.Ticks != 71 {
		t.Errorf("json: %v, ticks %d, want 71", err, res.Summary.Ticks)
	}
}

func TestPoolSimulateBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	badPolicy := write("bad.yaml", "standby_floor: 20\nmax_servers: 10\n")
	badTrace := write("bad.csv", "t,allocate,deallocate\n0,1,0\n1,x,0\n")
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing flags", nil, "--policy and --trace are required"},
		{"bad policy", []string{"--policy", badPolicy, "--trace", poolExamples + "burst.csv"}, "standby_floor 20 is above max_servers 10"},
		{"bad trace", []string{"--policy", poolExamples + "policy.yaml", "--trace", badTrace}, "trace line 3: allocate \"x\""},
		{"missing file", []string{"--policy", filepath.Join(dir, "none.yaml"), "--trace", badTrace}, "none.yaml"},
		{"zero tick", []string{"--policy", poolExamples + "policy.yaml", "--trace", poolExamples + "burst.csv", "--tick", "0s"}, "--tick"},
		{"csv and json", []string{"--policy", poolExamples + "policy.yaml", "--trace", poolExamples + "burst.csv", "--csv", "--json"}, "exclude"},
		{"bad flag", []string{"--tick", "soon"}, "soon"},
		{"extra argument", []string{"--policy", poolExamples + "policy.yaml", "--trace", poolExamples + "burst.csv", "extra"}, "extra"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := runPoolSimulate(t, tc.args...)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
			var ue command.UsageError
			if !errors.As(err, &ue) || command.ExitCode(err) != 2 {
				t.Errorf("error %v: exit code %d, want 2 (usage)", err, command.ExitCode(err))
			}
		})
	}
}
