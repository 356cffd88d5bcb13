package yamlconfig

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Decode reads one YAML document from r into out, which should already hold
// the defaults. An empty document leaves out unchanged. Errors are joined,
// one line per problem.
func Decode(r io.Reader, out any) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err = dec.Decode(out)
	if err == nil || errors.Is(err, io.EOF) {
		return nil
	}
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var root yaml.Node
	_ = yaml.Unmarshal(data, &root)
	errs := make([]error, 0, len(te.Errors))
	for _, e := range te.Errors {
		errs = append(errs, errors.New(describe(&root, e)))
	}
	return errors.Join(errs...)
}

var (
	lineRe    = regexp.MustCompile(`^line (\d+): `)
	unknownRe = regexp.MustCompile(`^field (\S+) not found in type \S+$`)
	typeRe    = regexp.MustCompile("^cannot unmarshal !!(\\w+) `(.*)` into (\\S+)$")
)

// describe rewrites one of yaml's type errors to name the key.
func describe(root *yaml.Node, msg string) string {
	m := lineRe.FindStringSubmatch(msg)
	if m == nil {
		return msg
	}
	line, _ := strconv.Atoi(m[1])
	rest := msg[len(m[0]):]
	path := keyAt(root, line)
	if u := unknownRe.FindStringSubmatch(rest); u != nil {
		return fmt.Sprintf("line %d: %s: unknown key", line, path)
	}
	if t := typeRe.FindStringSubmatch(rest); t != nil {
		want := t[3]
		switch want {
		case "time.Duration":
			want = "a duration such as 5s or 1m"
		case "int", "int64", "uint64", "uint32", "int32":
			want = "a whole number"
		case "bool":
			want = "true or false"
		case "string":
			want = "a string"
		default:
			if strings.HasPrefix(want, "[]") {
				want = "a list"
			} else if strings.Contains(want, ".") {
				want = "a mapping"
			}
		}
		return fmt.Sprintf("line %d: %s: %q is not %s", line, path, t[2], want)
	}
	return fmt.Sprintf("line %d: %s: %s", line, path, rest)
}

// keyAt returns the dotted path of the key or value on the given line,
// e.g. "dns.ttl" or "services[1].port".
func keyAt(n *yaml.Node, line int) string {
	var best string
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				if k.Line == line || v.Line == line {
					best = p
				}
				walk(v, p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if c.Line == line && best == "" {
					best = p
				}
				walk(c, p)
			}
		}
	}
	walk(n, "")
	if best == "" {
		return "(top level)"
	}
	return best
}

// Validator is a configuration that checks itself, reporting every problem.
type Validator interface{ Validate() error }

// Load reads the file at path and decodes it over out, which holds the
// defaults, then validates it. Errors name the file.
func Load(path string, out Validator) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return Parse(f, path, out)
}

// Parse decodes r over out, which holds the defaults, then validates it.
// Errors are prefixed with name.
func Parse(r io.Reader, name string, out Validator) error {
	if err := Decode(r, out); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := out.Validate(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}
