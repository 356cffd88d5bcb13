package command

import (
	"errors"
	"fmt"
	"testing"

	"github.com/spf13/cobra"
)

func TestExitCode(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want int
	}{
		{"success", nil, 0},
		{"failure", errors.New("disk full"), 1},
		{"usage", Usagef("--config is required"), 2},
		{"wrapped usage", fmt.Errorf("serve: %w", Usage(errors.New("bad key"))), 2},
		{"unknown command", errors.New(`unknown command "frob" for "understudy-agent"`), 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := ExitCode(tc.err); got != tc.want {
				t.Fatalf("ExitCode(%v) = %d, want %d", tc.err, got, tc.want)
			}
		})
	}
}

func TestArgsAndFlagsAreUsageErrors(t *testing.T) {
	root := Root("prog", "a program", "1.0")
	root.AddCommand(&cobra.Command{Use: "one ARG", Args: ArgsUsage(cobra.ExactArgs(1)), RunE: func(*cobra.Command, []string) error { return nil }})
	for _, args := range [][]string{{"one"}, {"one", "a", "b"}, {"one", "--nope", "x"}} {
		root.SetArgs(args)
		if err := root.Execute(); ExitCode(err) != 2 {
			t.Errorf("%v: err %v, exit %d; want a usage error", args, err, ExitCode(err))
		}
	}
}

func TestNewLogger(t *testing.T) {
	if _, _, err := NewLogger("loud"); err == nil {
		t.Fatal("NewLogger(loud) = nil error")
	}
	_, lv, err := NewLogger("warn")
	if err != nil || lv.Level().String() != "WARN" {
		t.Fatalf("NewLogger(warn) = %v, %v", lv, err)
	}
}
