package standby

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestParseTrace(t *testing.T) {
	t.Parallel()
	in := "# comment\n T , Allocate , Deallocate \n0,1,0\n\n2m, 3 ,1\n5,0,0\n"
	tr, err := ParseTrace(strings.NewReader(in), time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if tr.Kind != Demand {
		t.Errorf("kind = %v, want demand", tr.Kind)
	}
	want := []TraceRow{{Line: 3, Tick: 0, A: 1}, {Line: 5, Tick: 2, A: 3, B: 1}, {Line: 6, Tick: 5}}
	if len(tr.Rows) != len(want) {
		t.Fatalf("rows = %+v, want %+v", tr.Rows, want)
	}
	for i := range want {
		if tr.Rows[i] != want[i] {
			t.Errorf("row %d = %+v, want %+v", i, tr.Rows[i], want[i])
		}
	}
	tr, err = ParseTrace(strings.NewReader("t,active,standby\n0,5,5\n"), time.Minute)
	if err != nil || tr.Kind != Replay {
		t.Errorf("replay header: kind %v, err %v", tr.Kind, err)
	}
}

func TestParseTraceErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in string
		want     []string
	}{
		{"empty", "", []string{"empty"}},
		{"only comments", "# nothing\n", []string{"empty"}},
		{"header only", "t,allocate,deallocate\n", []string{"no rows"}},
		{"bad header", "time,allocate,deallocate\n0,1,1\n", []string{"line 1", "header"}},
		{"wrong field count", "t,allocate,deallocate\n0,1\n", []string{"line 2", "want 3 fields"}},
		{"negative count", "t,allocate,deallocate\n0,1,0\n1,-1,0\n", []string{"line 3", "allocate \"-1\""}},
		{"non-numeric", "t,active,standby\n0,x,0\n", []string{"line 2", "active \"x\""}},
		{"bad standby", "t,active,standby\n0,1,1.5\n", []string{"line 2", "standby \"1.5\""}},
		{"bad t", "t,allocate,deallocate\nsoon,1,0\n", []string{"line 2", "t:", "soon"}},
		{"t not multiple", "t,allocate,deallocate\n90s,1,0\n", []string{"line 2", "90s", "1m0s"}},
		{"t not increasing", "t,allocate,deallocate\n0,1,0\n3,1,0\n3m,1,0\n", []string{"line 4", "not after"}},
		{"t too far", "t,allocate,deallocate\n99999999,1,0\n", []string{"line 2", "outside"}},
		{"t negative", "t,allocate,deallocate\n-1,1,0\n", []string{"line 2", "outside"}},
		{"bad quoting", "t,allocate,deallocate\n0,\"1,0\n", []string{"line 2"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseTrace(strings.NewReader(tc.in), time.Minute)
			if err == nil {
				t.Fatalf("ParseTrace accepted %q", tc.in)
			}
			if !errors.Is(err, ErrInvalidTrace) {
				t.Errorf("error %v is not ErrInvalidTrace", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
