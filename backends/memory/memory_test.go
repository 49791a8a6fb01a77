package memory_test

import (
	"testing"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/memory"
	"github.com/taskmodel/taskmodel/gen/analysis"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) backends.Driver[analysis.Task] {
		return memory.New[analysis.Task]()
	})
}
