package tracing

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

// TestErrorLog: OpenTelemetry's errors and warnings become JSON lines at
// level warn, the same one at most once a minute with the count of those
// left out; its info and debug messages go to level debug.
func TestErrorLog(t *testing.T) {
	refused := errors.New(`traces export: Post "http://127.0.0.1:1/v1/traces": dial tcp 127.0.0.1:1: connect: connection refused`)
	type report struct {
		at   time.Duration // since the start
		send func(l *errorLog)
	}
	handle := func(err error) func(l *errorLog) { return func(l *errorLog) { l.Handle(err) } }
	sink := func(f func(logr.Logger)) func(l *errorLog) { return func(l *errorLog) { f(logr.New(logSink{l: l})) } }
	type line struct {
		level, msg string
		repeated   float64 // 0: no repeated field
	}
	for _, tc := range []struct {
		name    string
		level   slog.Level
		reports []report
		want    []line
	}{
		{"one error", slog.LevelInfo, []report{{0, handle(refused)}},
			[]line{{"WARN", "opentelemetry: " + refused.Error(), 0}}},
		{"an error repeated within the minute", slog.LevelInfo, []report{{0, handle(refused)}, {time.Second, handle(refused)}, {59 * time.Second, handle(refused)}},
			[]line{{"WARN", "opentelemetry: " + refused.Error(), 0}}},
		{"an error repeated after the minute", slog.LevelInfo,
			[]report{{0, handle(refused)}, {time.Second, handle(refused)}, {2 * time.Second, handle(refused)}, {61 * time.Second, handle(refused)}, {62 * time.Second, handle(refused)}},
			[]line{{"WARN", "opentelemetry: " + refused.Error(), 0}, {"WARN", "opentelemetry: " + refused.Error(), 2}}},
		{"two errors", slog.LevelInfo, []report{{0, handle(refused)}, {time.Second, handle(errors.New("max queue size reached"))}},
			[]line{{"WARN", "opentelemetry: " + refused.Error(), 0}, {"WARN", "opentelemetry: max queue size reached", 0}}},
		{"the logger's error", slog.LevelInfo, []report{{0, sink(func(g logr.Logger) { g.Error(errors.New(`parse "::bad::": missing protocol scheme`), "parse url") })}},
			[]line{{"WARN", `opentelemetry: parse url: parse "::bad::": missing protocol scheme`, 0}}},
		{"the logger's warning", slog.LevelInfo, []report{{0, sink(func(g logr.Logger) { g.V(1).Info("grpc is not a valid protocol") })}},
			[]line{{"WARN", "opentelemetry: grpc is not a valid protocol", 0}}},
		{"the logger's info at level info", slog.LevelInfo, []report{{0, sink(func(g logr.Logger) { g.V(4).Info("TracerProvider created") })}}, nil},
		{"the logger's info at level debug", slog.LevelDebug, []report{{0, sink(func(g logr.Logger) { g.V(4).Info("TracerProvider created") })}},
			[]line{{"DEBUG", "opentelemetry: TracerProvider created", 0}}},
		{"errors at level error", slog.LevelError, []report{{0, handle(refused)}}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			start := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
			now := start
			l := newErrorLog(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: tc.level})), time.Minute, func() time.Time { return now })
			for _, r := range tc.reports {
				now = start.Add(r.at)
				r.send(l)
			}
			var got []line
			for _, s := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
				if s == "" {
					continue
				}
				var m map[string]any
				if err := json.Unmarshal([]byte(s), &m); err != nil {
					t.Fatalf("not a JSON line: %q", s)
				}
				r, _ := m["repeated"].(float64)
				got = append(got, line{m["level"].(string), m["msg"].(string), r})
			}
			if len(got) != len(tc.want) {
				t.Fatalf("lines %+v; want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("line %d: %+v; want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}
