package memory_test

import (
	"testing"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/memory"
	"github.com/taskmodel/taskmodel/gen/analysis"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t testing.TB) backends.Driver[analysis.Task] {
		return memory.New[analysis.Task]()
	})
}

// go test ./backends/memory -run '^$' -bench Transitions
func BenchmarkTransitions(b *testing.B) {
	backendtest.BenchmarkTransitions(b, func(testing.TB) backends.Driver[analysis.Task] { return memory.New[analysis.Task]() })
}
