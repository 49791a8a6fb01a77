package tracing

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"go.opentelemetry.io/otel"
)

// LogErrors sends OpenTelemetry's own reports to log, the caller's
// structured logger, instead of the standard library's log on standard
// error: the errors the SDK hands its global error handler (a batch of
// spans the exporter could not send, the collector refused, …) and its
// internal logger's messages. Errors and warnings are logged at level warn;
// the same one again within a minute is counted, not logged, and its next
// line after the minute says how many times it was left out ("repeated").
// The SDK's informational and debug messages are logged at level debug.
//
// It sets OpenTelemetry's global error handler and logger (otel.SetErrorHandler,
// otel.SetLogger): call it once, before the tracer provider is made.
func LogErrors(log *slog.Logger) {
	l := newErrorLog(log, time.Minute, time.Now)
	otel.SetErrorHandler(l)
	otel.SetLogger(logr.New(logSink{l: l}))
}

// maxDistinct bounds the distinct messages an errorLog remembers; past it,
// it forgets them all (and may log one again within its minute).
const maxDistinct = 64

// errorLog logs OpenTelemetry's errors and warnings at level warn, each
// distinct message at most once per every.
type errorLog struct {
	log   *slog.Logger
	every time.Duration
	now   func() time.Time

	mu   sync.Mutex
	seen map[string]*seenMsg
}

type seenMsg struct {
	logged time.Time // when it was last logged
	left   int       // occurrences since, not logged
}

func newErrorLog(log *slog.Logger, every time.Duration, now func() time.Time) *errorLog {
	return &errorLog{log: log, every: every, now: now, seen: map[string]*seenMsg{}}
}

// Handle is otel.ErrorHandler's method.
func (l *errorLog) Handle(err error) {
	if err != nil {
		l.warn("opentelemetry: "+err.Error(), nil)
	}
}

// warn logs msg with attrs unless it was logged less than l.every ago.
func (l *errorLog) warn(msg string, args []any) {
	ctx := context.Background()
	if !l.log.Enabled(ctx, slog.LevelWarn) {
		return
	}
	now := l.now()
	l.mu.Lock()
	s := l.seen[msg]
	if s != nil && now.Sub(s.logged) < l.every {
		s.left++
		l.mu.Unlock()
		return
	}
	repeated := 0
	if s == nil {
		if len(l.seen) >= maxDistinct {
			clear(l.seen)
		}
		s = &seenMsg{}
		l.seen[msg] = s
	} else {
		repeated = s.left
	}
	s.logged, s.left = now, 0
	l.mu.Unlock()
	if repeated > 0 {
		args = append(args, slog.Int("repeated", repeated))
	}
	l.log.Log(ctx, slog.LevelWarn, msg, args...)
}

// logSink is OpenTelemetry's internal logger (a logr.LogSink) over an
// errorLog: its errors and warnings (V(1)) go through the errorLog, its
// info (V(4)) and debug (V(8)) messages to level debug.
type logSink struct {
	l      *errorLog
	values []any
}

func (s logSink) Init(logr.RuntimeInfo) {}

func (s logSink) Enabled(level int) bool {
	return s.l.log.Enabled(context.Background(), sinkLevel(level))
}

func sinkLevel(level int) slog.Level {
	if level <= 1 {
		return slog.LevelWarn
	}
	return slog.LevelDebug
}

func (s logSink) Info(level int, msg string, kv ...any) {
	args := append(append([]any(nil), s.values...), kv...)
	if sinkLevel(level) == slog.LevelWarn {
		s.l.warn("opentelemetry: "+msg, args)
		return
	}
	s.l.log.Log(context.Background(), slog.LevelDebug, "opentelemetry: "+msg, args...)
}

func (s logSink) Error(err error, msg string, kv ...any) {
	text := "opentelemetry: " + msg
	if err != nil {
		text += ": " + err.Error()
	}
	s.l.warn(text, append(append([]any(nil), s.values...), kv...))
}

func (s logSink) WithValues(kv ...any) logr.LogSink {
	s.values = append(append([]any(nil), s.values...), kv...)
	return s
}

func (s logSink) WithName(string) logr.LogSink { return s }
