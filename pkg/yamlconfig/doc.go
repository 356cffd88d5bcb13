// Package yamlconfig decodes operators' YAML files strictly: unknown keys
// are errors, durations are strings ("5s"), and every error names the line
// and the dotted key it is about ("line 5: dns.ttl: ...") on one line, so a
// daemon can print it as is.
//
// It is the only package that imports go.yaml.in/yaml/v3.
package yamlconfig
