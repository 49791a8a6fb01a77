package worker

import "time"

// SetHeadEvery sets how often pools claim from the head of the queue, until
// the test ends.
func SetHeadEvery(t interface{ Cleanup(func()) }, d time.Duration) {
	old := headEvery
	headEvery = d
	t.Cleanup(func() { headEvery = old })
}
