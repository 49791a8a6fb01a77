package pipeline

import (
	"fmt"
	"unicode/utf8"
)

// The tracker's limits on text, in characters (Unicode code points). They
// are checked before anything is written, the same on every engine: each
// fits the smallest column that holds the field (MySQL's TEXT, 65,535
// bytes) even when every character takes four bytes in UTF-8.
const (
	// MaxMessageLen bounds a status message (a run's or a subtask's, on
	// start, update, complete, skip and cancel) and an error message (fail).
	MaxMessageLen = 4000
	// MaxDetailLen bounds a failed run's error detail (a traceback, say).
	MaxDetailLen = 16000
	// MaxDescriptionLen bounds a stage's description.
	MaxDescriptionLen = 4000
	// MaxPathLen bounds a script or log path or file name (script_path,
	// script_filename, log_path, log_filename), of a task or a run.
	MaxPathLen = 1024
	// MaxLabelLen bounds a run's user_name and code_version (its hostname
	// has the same limit, and its git_commit one of 64).
	MaxLabelLen = 255
)

// checkLen refuses a text field longer than max characters; nil and ""
// pass.
func checkLen(field string, v *string, max int) error {
	if v == nil || len(*v) <= max { // no more bytes than max: no more characters
		return nil
	}
	if n := utf8.RuneCountInString(*v); n > max {
		return fieldError(field, "max_len", "", fmt.Sprintf("must be at most %d characters (got %d)", max, n))
	}
	return nil
}

// checkMessage refuses a status message longer than MaxMessageLen.
func checkMessage(field, msg string) error {
	return checkLen(field, &msg, MaxMessageLen)
}

// checkPaths refuses the script and log paths and file names longer than
// MaxPathLen, all of them at once.
func checkPaths(scriptPath, scriptFilename, logPath, logFilename *string) error {
	return joinErrs(
		checkLen("script_path", scriptPath, MaxPathLen),
		checkLen("script_filename", scriptFilename, MaxPathLen),
		checkLen("log_path", logPath, MaxPathLen),
		checkLen("log_filename", logFilename, MaxPathLen))
}
