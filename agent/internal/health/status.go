package health

// Status is a check's status, or the result of one probe. Its values are
// the strings gossip and the catalogue use for check statuses.
type Status string

// The statuses, from best to worst.
const (
	// Passing means the service answers as it should.
	Passing Status = "passing"
	// Warning means the service answers but says it is degraded: an HTTP
	// 429 or a command exiting 1. It is not passing, so DNS does not
	// serve it.
	Warning Status = "warning"
	// Critical means the service does not answer, answers with an error,
	// or took longer than the check's timeout.
	Critical Status = "critical"
)

// Valid reports whether s is one of [Passing], [Warning] and [Critical].
func (s Status) Valid() bool {
	return s == Passing || s == Warning || s == Critical
}
