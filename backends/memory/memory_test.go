package memory_test

import (
	"testing"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/memory"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/evaluation"
	"github.com/taskmodel/taskmodel/gen/training"
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

func TestListing(t *testing.T) {
	backendtest.RunListing(t, func(testing.TB) backendtest.ListingDrivers {
		tr, ev, an := memory.New[training.Training](), memory.New[evaluation.Evaluation](), memory.New[analysis.Task]()
		return backendtest.ListingDrivers{Training: tr, Evaluation: ev, Analysis: an, Lister: memory.NewLister(tr, ev, an)}
	})
}
