// Package hostagent is the understudy-agent daemon as a library: it joins
// the gossip pool with typed metadata, registers the host's services with
// the coordinators, and leaves the pool gracefully when stopped.
//
// Data protection (data.go, stream.go, archive.go) wires the datasets of
// the configuration: once the coordinators have chosen the cluster's
// chunking polynomial the agent opens data_dir/store with it; the source
// of each dataset (the primary of a service listing it, or an active host)
// snapshots it on its schedule, applies retention, mirrors each snapshot to
// the dataset's standbys over mutual TLS and copies it to archives; a
// standby materialises received snapshots into the dataset's path (the
// warm copy), transactional datasets are shipped continuously, drills and
// alerts run on their schedules, and every dataset's status is reported
// to the coordinators. A fenced former primary pulls the new primary's
// latest snapshots before it stands by again (promote.Service.Resync).
//
// It only wires; the work of backups, mirroring, health checks and orders
// lives in agent/internal packages.
package hostagent
