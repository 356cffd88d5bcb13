package docs

import (
	"bufio"
	"encoding"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/understudy/understudy/agent/hostagent"
	"github.com/understudy/understudy/coordinator/server"
)

// yamlKeys returns every key path a YAML file for t may hold. A struct adds
// its fields under prefix, a list of structs adds them under "prefix[]". A
// type that decodes itself (a text unmarshaler, say) is one leaf.
func yamlKeys(t reflect.Type, prefix string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) ||
		reflect.PointerTo(t).Implements(reflect.TypeFor[encoding.TextUnmarshaler]()) {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
	case reflect.Slice, reflect.Array:
		return yamlKeys(t.Elem(), prefix+"[]")
	case reflect.Map:
		return yamlKeys(t.Elem(), prefix+".*")
	default:
		return nil
	}
	var keys []string
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() && !f.Anonymous {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if slices.Contains(strings.Split(opts, ","), "inline") {
			keys = append(keys, yamlKeys(f.Type, prefix)...)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name) // as the YAML decoder does
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		keys = append(keys, path)
		keys = append(keys, yamlKeys(f.Type, path)...)
	}
	return keys
}

// keyRow matches a reference table row whose first cell is a backquoted key.
var keyRow = regexp.MustCompile("^\\|\\s*`([^`]+)`\\s*\\|")

// documentedKeys returns the keys listed in each "## " section of the file.
func documentedKeys(t *testing.T, path string) map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if h, ok := strings.CutPrefix(line, "## "); ok {
			section = strings.TrimSpace(h)
			continue
		}
		if m := keyRow.FindStringSubmatch(line); m != nil {
			out[section] = append(out[section], m[1])
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestConfigurationReference(t *testing.T) {
	t.Parallel()
	doc := documentedKeys(t, filepath.Join("..", "..", "docs", "configuration.md"))
	for _, tc := range []struct {
		section string
		config  any
	}{
		{"Coordinator", server.Config{}},
		{"Agent", hostagent.Config{}},
	} {
		t.Run(tc.section, func(t *testing.T) {
			t.Parallel()
			want := yamlKeys(reflect.TypeOf(tc.config), "")
			if len(want) == 0 {
				t.Fatal("no YAML keys found by reflection")
			}
			var got []string
			for section, keys := range doc {
				if strings.HasPrefix(section, tc.section) {
					got = append(got, keys...)
				}
			}
			seen := map[string]int{}
			for _, k := range got {
				seen[k]++
			}
			for _, k := range want {
				if seen[k] == 0 {
					t.Errorf("key %s is not in docs/configuration.md (section %q)", k, tc.section)
				}
			}
			for k, n := range seen {
				if !slices.Contains(want, k) {
					t.Errorf("docs/configuration.md (section %q) lists %s, which %T does not have", tc.section, k, tc.config)
				}
				if n > 1 {
					t.Errorf("docs/configuration.md (section %q) lists %s %d times", tc.section, k, n)
				}
			}
		})
	}
}

// TestYAMLKeys pins the walk itself on a small struct.
func TestYAMLKeys(t *testing.T) {
	t.Parallel()
	type check struct {
		HTTP string `yaml:"http,omitempty"`
	}
	type svc struct {
		Name  string `yaml:"name"`
		Check *check `yaml:"check"`
	}
	type base struct {
		Region string `yaml:"region"`
	}
	type cfg struct {
		base     `yaml:",inline"`
		Plain    int
		Skipped  string           `yaml:"-"`
		Services []svc            `yaml:"services"`
		Labels   map[string]check `yaml:"labels"`
		hidden   int
	}
	_ = cfg{}.hidden
	got := yamlKeys(reflect.TypeFor[cfg](), "")
	want := []string{"region", "plain", "services", "services[].name", "services[].check", "services[].check.http",
		"labels", "labels.*.http"}
	if !slices.Equal(got, want) {
		t.Errorf("yamlKeys = %q, want %q", got, want)
	}
}
