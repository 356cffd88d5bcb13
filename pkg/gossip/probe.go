package gossip

import (
	"time"

	"github.com/hashicorp/memberlist"
)

// pingDelegate reports probe round trips to [Config.OnProbe].
type pingDelegate struct {
	fn func(node string, rtt time.Duration)
}

func (pingDelegate) AckPayload() []byte { return nil }

func (d pingDelegate) NotifyPingComplete(other *memberlist.Node, rtt time.Duration, _ []byte) {
	d.fn(other.Name, rtt)
}

// HealthScore is memberlist's view of this member's own health: 0 when it
// answers and hears probes on time, higher (up to the profile's limit)
// after missed acknowledgements, which also slows its failure detection
// so that a struggling member does not declare healthy ones dead.
func (p *Pool) HealthScore() int { return p.ml.GetHealthScore() }
