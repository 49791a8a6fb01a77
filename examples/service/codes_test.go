package main

import (
	"testing"

	"github.com/taskmodel/taskmodel/backends/memory"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/worker"

	"github.com/taskmodel/taskmodel/examples/service/gen/report"
)

// TestErrorCodes: the report model's codes are known to the worker leases
// (its new task is not valid until a client sets its fields, which once made
// every code look unknown), and a code it does not declare is not.
func TestErrorCodes(t *testing.T) {
	eng := engine.New[report.Report, report.Event](memory.New[report.Report](), engine.WithWorker(report.Worker))
	l, err := worker.NewLeases(eng)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		code string
		ok   bool
	}{{"NO_DATA", true}, {"INTERNAL_ERROR", true}, {"", true}, {"NOPE", false}} {
		if err := l.CheckCode(c.code); (err == nil) != c.ok {
			t.Errorf("CheckCode(%q): %v", c.code, err)
		}
	}
}
