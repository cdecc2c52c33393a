package replica

import "time"

// SetProbe replaces r's leader probe, so that a test can make one
// follower's view of the leader fail. Call it before Run.
func SetProbe(r *Replica, refuses func(base string, timeout time.Duration) bool) { r.refuses = refuses }
