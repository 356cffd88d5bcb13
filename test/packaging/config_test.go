package packaging

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/understudy/understudy/agent/hostagent"
	"github.com/understudy/understudy/coordinator/server"
)

// fills are the values a test operator writes into the REQUIRED lines of
// the example configurations, by key.
var fills = map[string]string{
	"advertise_addr": `"10.0.0.11"`,
	"admin_token":    `"admin-secret-for-tests"`,
	"retry_join":     `[10.0.0.12, 10.0.0.13]`,
	"token":          `"agent-secret-for-tests"`,
}

// requiredLine matches "key: <empty placeholder>  # REQUIRED: ...".
var requiredLine = regexp.MustCompile(`^(\s*)([a-z_]+): (""|\[\])(\s+# REQUIRED\b.*)$`)

// fillRequired returns the keys of the REQUIRED lines in example and the
// example with those lines filled from fills.
func fillRequired(t *testing.T, example []byte) (keys []string, filled []byte) {
	t.Helper()
	lines := strings.Split(string(example), "\n")
	for i, l := range lines {
		m := requiredLine.FindStringSubmatch(l)
		if m == nil {
			if strings.Contains(l, "REQUIRED") && !strings.HasPrefix(strings.TrimSpace(l), "#") {
				t.Errorf("line %d marks a key REQUIRED but does not hold an empty placeholder: %q", i+1, l)
			}
			continue
		}
		v, ok := fills[m[2]]
		if !ok {
			t.Fatalf("no test value for REQUIRED key %s", m[2])
		}
		keys = append(keys, m[2])
		lines[i] = m[1] + m[2] + ": " + v + m[4]
	}
	return keys, []byte(strings.Join(lines, "\n"))
}

// errorKeys returns the last dotted component of the key each line of a
// config validation error names ("name: key: problem").
func errorKeys(name string, err error) []string {
	var keys []string
	for _, line := range strings.Split(err.Error(), "\n") {
		line = strings.TrimPrefix(line, name+": ")
		key, _, _ := strings.Cut(line, ":")
		keys = append(keys, key[strings.LastIndex(key, ".")+1:])
	}
	slices.Sort(keys)
	return keys
}

// TestExampleConfigs checks that the configurations the packages install
// keep an unconfigured daemon from starting, and are valid once the lines
// marked REQUIRED are filled in.
func TestExampleConfigs(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	for _, tc := range []struct {
		file  string
		parse func(b []byte, name string) error
	}{
		{"coordinator.yaml", func(b []byte, name string) error {
			_, err := server.ParseConfig(bytes.NewReader(b), name)
			return err
		}},
		{"agent.yaml", func(b []byte, name string) error {
			_, err := hostagent.ParseConfig(bytes.NewReader(b), name)
			return err
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			example, err := os.ReadFile(filepath.Join(root, "packaging", "config", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			keys, filled := fillRequired(t, example)
			if len(keys) == 0 {
				t.Fatal("no REQUIRED lines: the daemon would start on the example as shipped")
			}
			slices.Sort(keys)

			err = tc.parse(example, tc.file)
			if err == nil {
				t.Fatal("example as shipped is accepted; want it refused until configured")
			}
			if got := errorKeys(tc.file, err); !slices.Equal(got, keys) {
				t.Errorf("example as shipped is refused for %v, want exactly the REQUIRED keys %v:\n%v", got, keys, err)
			}
			if err := tc.parse(filled, tc.file); err != nil {
				t.Errorf("example with REQUIRED keys filled: %v", err)
			}
		})
	}
}
