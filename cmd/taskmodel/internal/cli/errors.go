package cli

import (
	"errors"
	"strings"

	"github.com/taskmodel/taskmodel/config"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Exit codes (see the package documentation).
const (
	ExitOK         = 0
	ExitFailure    = 1
	ExitUsage      = 2
	ExitNotFound   = 3
	ExitInvalid    = 4
	ExitNotAllowed = 5
	ExitConflict   = 6
	ExitConfig     = 7
)

// usageError marks a command-line mistake.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(err error) error { return usageError{err} }

// classify maps an error to its exit code and its name in JSON errors.
func classify(err error) (int, string) {
	var ce *config.Error
	var ue usageError
	var ae *apiError
	switch {
	case errors.As(err, &ue):
		return ExitUsage, "usage"
	case errors.As(err, &ce):
		return ExitConfig, "config"
	case errors.Is(err, tasktype.ErrNotFound):
		return ExitNotFound, "not_found"
	case errors.Is(err, tasktype.ErrTransitionNotAllowed):
		return ExitNotAllowed, "not_allowed"
	case errors.Is(err, tasktype.ErrValidation):
		return ExitInvalid, "invalid"
	case errors.Is(err, tasktype.ErrDuplicate), errors.Is(err, tasktype.ErrConflict):
		return ExitConflict, "conflict"
	// Cobra's errors are plain text: they are told by their words, last,
	// so that a refusal quoting the user's input ("invalid argument") is
	// not taken for one; nor is a server's answer.
	case !errors.As(err, &ae) && isCobraUsage(err):
		return ExitUsage, "usage"
	}
	return ExitFailure, "failure"
}

// isCobraUsage recognises cobra's own argument and command errors, which
// are plain errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "accepts ", "requires at least", "requires at most", "unknown flag", "unknown shorthand flag", "invalid argument"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
