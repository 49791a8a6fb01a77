// Package metrics is the Prometheus side of the SDK's observer hooks: a Set
// holds the lifecycle metrics of any number of models, and each model's
// engine reports to it through the Set's observer for that model
// (engine.WithObserver(set.Model(lifecycle))), which also sees the worker
// pools' and the HTTP worker protocol's handler outcomes over that engine
// (worker.Observer). taskmodel serve registers one Set in the registry it
// serves at /metrics; an SDK user registers it in theirs. The SDK itself
// does not import Prometheus.
//
// The metrics (all durations in seconds; the label model is the model's
// name):
//
//	taskmodel_time_in_status_seconds{model,status}   histogram: the time a task spent in status, observed when it leaves it
//	taskmodel_pickup_latency_seconds{model}          histogram: the time a claimed task spent in the worker section's queue status
//	taskmodel_handler_duration_seconds{model,outcome} histogram: claim to the end event, outcome "completed" or "failed"
//	taskmodel_handler_failures_total{model,code}     counter: handler outcomes that failed the task, by the error code stored
//	taskmodel_time_in_status_unknown_total{model,status} counter: moves whose entry time the row did not tell
//
// A task's entry into a status is read from its row (the generated
// EnteredAt): the status's entry timestamp when the spec gives the status an
// entered_at field; otherwise updated_at as it was before the move, which
// is the entry unless the task changed in the status since (a progress
// report), and then the time is the time since that change. A claim made
// in SQL rewrote updated_at: without an entry timestamp, a first claim from
// an initial queue status counts from the task's creation, and another is
// counted in taskmodel_time_in_status_unknown_total instead.
package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/worker"
	"github.com/taskmodel/taskmodel/tasktype"
)

// Buckets are the histograms' buckets: 1 ms to about 18.6 hours, by
// factors of 4.
var Buckets = prometheus.ExponentialBuckets(0.001, 4, 14)

// Set is the lifecycle metrics of a set of models; it is a
// prometheus.Collector. Safe for concurrent use.
type Set struct {
	inStatus *prometheus.HistogramVec
	pickup   *prometheus.HistogramVec
	handler  *prometheus.HistogramVec
	failures *prometheus.CounterVec
	unknown  *prometheus.CounterVec

	mu     sync.Mutex
	models map[string]*Model
}

// histogram is a histogram by model and the further labels, on Buckets.
func histogram(name, help string, labels ...string) *prometheus.HistogramVec {
	return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: Buckets}, append([]string{"model"}, labels...))
}

// New returns an empty Set.
func New() *Set {
	return &Set{
		inStatus: histogram("taskmodel_time_in_status_seconds", "Time a task spent in a status, observed when it left it (by this process), by model and status.", "status"),
		pickup:   histogram("taskmodel_pickup_latency_seconds", "Time a task waited in its model's queue status before a worker claimed it, by model."),
		handler:  histogram("taskmodel_handler_duration_seconds", "Time from a task's claim to the complete or fail event its handler's outcome fired, by model and outcome (completed, failed).", "outcome"),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskmodel_handler_failures_total", Help: "Handler outcomes that failed their task, by model and the error code stored.",
		}, []string{"model", "code"}),
		unknown: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskmodel_time_in_status_unknown_total", Help: "Moves out of a status whose entry time the task's row did not tell (not in taskmodel_time_in_status_seconds), by model and status.",
		}, []string{"model", "status"}),
		models: map[string]*Model{},
	}
}

func (s *Set) collectors() []prometheus.Collector {
	return []prometheus.Collector{s.inStatus, s.pickup, s.handler, s.failures, s.unknown}
}

// Describe implements prometheus.Collector.
func (s *Set) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range s.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (s *Set) Collect(ch chan<- prometheus.Metric) {
	for _, c := range s.collectors() {
		c.Collect(ch)
	}
}

// Model returns the observer of the model whose lifecycle is l, for its
// engine (engine.WithObserver); the same one for the same model name. Its
// series start at zero for every status a task can leave, and for the
// worker section's pickup and outcomes when the model has one.
func (s *Set) Model(l tasktype.Lifecycle) *Model {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.models[l.Model]; ok {
		return m
	}
	m := &Model{set: s, name: l.Model, inStatus: map[string]prometheus.Observer{}}
	for _, e := range l.Edges() {
		if _, ok := m.inStatus[e.From]; !ok {
			m.inStatus[e.From] = s.inStatus.WithLabelValues(l.Model, e.From)
		}
	}
	if w := l.Worker; w != nil {
		m.queue, m.claim = w.Queue, w.Claim
		m.pickup = s.pickup.WithLabelValues(l.Model)
		m.completed = s.handler.WithLabelValues(l.Model, "completed")
		m.failed = s.handler.WithLabelValues(l.Model, "failed")
	}
	s.models[l.Model] = m
	return m
}

// Model is one model's observer: an engine.Observer and a worker.Observer.
type Model struct {
	set      *Set
	name     string
	inStatus map[string]prometheus.Observer // by status; read-only once built

	queue, claim      string // the worker section's queue status and claim event
	pickup            prometheus.Observer
	completed, failed prometheus.Observer
}

var (
	_ engine.Observer = (*Model)(nil)
	_ worker.Observer = (*Model)(nil)
)

// Moved observes the time the task spent in the status it left, and, for a
// claim, the pickup latency.
func (m *Model) Moved(mv engine.Move) {
	d, ok := mv.InStatus()
	if !ok {
		m.set.unknown.WithLabelValues(m.name, mv.From).Inc()
		return
	}
	o, known := m.inStatus[mv.From]
	if !known { // a status the lifecycle given to Model does not leave
		o = m.set.inStatus.WithLabelValues(m.name, mv.From)
	}
	o.Observe(d.Seconds())
	if m.pickup != nil && mv.From == m.queue && mv.Event == m.claim {
		m.pickup.Observe(d.Seconds())
	}
}

// Finished observes a handler's outcome.
func (m *Model) Finished(o worker.Outcome) {
	if m.completed == nil {
		return // the lifecycle given to Model has no worker section
	}
	if o.Failed {
		m.set.failures.WithLabelValues(m.name, o.Code).Inc()
	}
	if !o.Known {
		return
	}
	if o.Failed {
		m.failed.Observe(o.Ran.Seconds())
	} else {
		m.completed.Observe(o.Ran.Seconds())
	}
}
