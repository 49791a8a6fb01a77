package tracing_test

import (
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/taskmodel/taskmodel/tracing"
)

// FuzzContinue: any traceparent header (a request's, a stored one) is
// either ignored or read as the span it names, and written back the same.
func FuzzContinue(f *testing.F) {
	for _, s := range []string{"", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-0-0-0", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tp string) {
		c := tracing.Continue(ctx, tp)
		sc := trace.SpanContextFromContext(c)
		if !sc.IsValid() {
			if got := tracing.Traceparent(c); got != "" {
				t.Fatalf("an invalid %q wrote %q", tp, got)
			}
			return
		}
		again := tracing.Traceparent(tracing.Continue(ctx, tracing.Traceparent(c)))
		if again != tracing.Traceparent(c) {
			t.Fatalf("%q read back as %q, then %q", tp, tracing.Traceparent(c), again)
		}
	})
}
