package server

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the server's Prometheus metrics:
//
//	taskmodel_tasks{task_type,status}                       gauge, read from the database at scrape time
//	taskmodel_transitions_total{task_type,event,to}         changes made by this process
//	taskmodel_task_duration_seconds{task_type,status}       creation to terminal status, as this process saw it
//	taskmodel_http_requests_total{route,method,code}
//	taskmodel_http_request_duration_seconds{route,method}
type metrics struct {
	transitions  *prometheus.CounterVec
	taskDuration *prometheus.HistogramVec
	requests     *prometheus.CounterVec
	reqDuration  *prometheus.HistogramVec
}

func newMetrics(reg *prometheus.Registry, ms *Models) (*metrics, error) {
	m := &metrics{
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskmodel_transitions_total", Help: "Status changes made by this process, by task type, event and target status.",
		}, []string{"task_type", "event", "to"}),
		taskDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "taskmodel_task_duration_seconds", Help: "Time from a task's creation to its terminal status, for the tasks this process finished.",
			Buckets: prometheus.ExponentialBuckets(0.1, 3, 12),
		}, []string{"task_type", "status"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskmodel_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		reqDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "taskmodel_http_request_duration_seconds", Help: "HTTP request latency by route pattern and method (event streams excluded).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"route", "method"}),
	}
	for _, c := range []prometheus.Collector{m.transitions, m.taskDuration, m.requests, m.reqDuration, &taskCounts{ms: ms}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// follow records the changes this process makes to a model's tasks.
func (m *metrics) follow(ctx context.Context, b binding) {
	for c := range b.changes(ctx) {
		if c.event == "" {
			continue // creation or progress
		}
		m.transitions.WithLabelValues(b.name(), c.event, c.to).Inc()
		if c.finished && c.row.EndDate != nil {
			m.taskDuration.WithLabelValues(b.name(), c.to).Observe(c.row.EndDate.Sub(c.row.CreatedAt).Seconds())
		}
	}
}

// taskCounts reads the number of tasks per model and status when scraped,
// at most every few seconds.
type taskCounts struct {
	ms *Models

	mu     sync.Mutex
	at     time.Time
	cached []prometheus.Metric
}

var tasksDesc = prometheus.NewDesc("taskmodel_tasks", "Tasks in the database by task type and status.", []string{"task_type", "status"}, nil)

func (t *taskCounts) Describe(ch chan<- *prometheus.Desc) { ch <- tasksDesc }

func (t *taskCounts) Collect(ch chan<- prometheus.Metric) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if time.Since(t.at) > 5*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		var out []prometheus.Metric
		for _, b := range t.ms.order {
			counts, err := t.ms.counts.statusCounts(ctx, b.name(), statusNames(b.lifecycle()), "", "")
			if err != nil {
				ch <- prometheus.NewInvalidMetric(tasksDesc, err)
				return
			}
			for status, c := range counts {
				if c.AtLeast {
					continue // shown once its first full count has finished
				}
				out = append(out, prometheus.MustNewConstMetric(tasksDesc, prometheus.GaugeValue, float64(c.N), b.name(), status))
			}
		}
		t.cached, t.at = out, time.Now()
	}
	for _, m := range t.cached {
		ch <- m
	}
}

// statusWriter remembers the status code of a response.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach Flush (event streams).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe counts and times a route's requests and logs each one (never the
// query string: an event stream may carry a token there).
func (s *Server) observe(route string, next http.Handler) http.Handler {
	stream := route == "/tasks/{id}/events"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.code == 0 {
			sw.code = http.StatusOK
		}
		d := time.Since(start)
		method := r.Method
		switch method {
		case "GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH":
		default:
			method = "other"
		}
		s.metrics.requests.WithLabelValues(route, method, strconv.Itoa(sw.code)).Inc()
		if !stream {
			s.metrics.reqDuration.WithLabelValues(route, method).Observe(d.Seconds())
		}
		level := slog.LevelDebug
		if sw.code >= 500 {
			level = slog.LevelWarn
		}
		if s.log.Enabled(r.Context(), level) {
			s.log.LogAttrs(r.Context(), level, "request", slog.String("method", r.Method), slog.String("route", route), slog.String("path", r.URL.Path),
				slog.Int("status", sw.code), slog.Duration("duration", d))
		}
	})
}
