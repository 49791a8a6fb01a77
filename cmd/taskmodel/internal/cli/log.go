package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// lineHandler prints a tracking line as its message alone ("[TASK START]
// STATIC / Build Database (run_id: …)"), errors prefixed with ERROR; the
// attributes are for structured handlers, not for a terminal.
type lineHandler struct {
	w     io.Writer
	quiet bool
}

func (h lineHandler) Enabled(_ context.Context, l slog.Level) bool {
	return !h.quiet && l >= slog.LevelInfo
}

func (h lineHandler) Handle(_ context.Context, r slog.Record) error {
	prefix := ""
	if r.Level >= slog.LevelError {
		prefix = "ERROR "
	}
	_, err := fmt.Fprintln(h.w, prefix+r.Message)
	return err
}

func (h lineHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h lineHandler) WithGroup(string) slog.Handler      { return h }
