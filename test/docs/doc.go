// Package docs keeps docs/configuration.md in step with the daemons'
// configuration structs.
//
// Its test walks server.Config and hostagent.Config by reflection, through
// nested structs and lists of structs, and collects every YAML key as a
// dotted path ("dns.ttl", "services[].check.http"). The reference must list
// exactly those keys, each in the first column of a table row in the
// daemon's section ("## Coordinator" or "## Agent"). A key added to a struct
// without a line in the reference, or a line left for a key that is gone,
// fails the test. The package has no code of its own.
package docs
