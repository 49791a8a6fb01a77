package server

import "context"

// ClaimWakerStats reports, of the shared waker of model's waiting worker
// claims, how many claims wait on it, how many times it was started and
// how many idle signals claims gave it.
func ClaimWakerStats(s *Server, model string) (waiting, starts, idles int) {
	waiting, starts, idles, _ = s.claimWakers.stats(model)
	return waiting, starts, idles
}

// ClaimWarms reports how many times the shared waker of model warmed, with
// success, the claims of the worker claims waiting on it.
func ClaimWarms(s *Server, model string) int {
	_, _, _, warms := s.claimWakers.stats(model)
	return warms
}

// SetAfterClaim makes s call f after each claim a worker's claim request
// makes, with the request's context.
func SetAfterClaim(s *Server, f func(ctx context.Context)) { s.afterClaim = f }
