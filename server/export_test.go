package server

import "context"

// ClaimWakerStats reports, of the shared waker of model's waiting worker
// claims, how many claims wait on it, how many times it was started and
// how many idle signals claims gave it.
func ClaimWakerStats(s *Server, model string) (waiting, starts, idles int) {
	return s.claimWakers.stats(model)
}

// SetAfterClaim makes s call f after each claim a worker's claim request
// makes, with the request's context.
func SetAfterClaim(s *Server, f func(ctx context.Context)) { s.afterClaim = f }
