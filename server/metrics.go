package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/taskmodel/taskmodel/tracing"
)

// metrics are the server's Prometheus metrics:
//
//	taskmodel_tasks{task_type,status}                       gauge, read from the database at scrape time
//	taskmodel_transitions_total{task_type,event,to}         changes made by this process
//	taskmodel_task_duration_seconds{task_type,status}       creation to terminal status, as this process saw it
//	taskmodel_http_requests_total{route,method,code}
//	taskmodel_http_request_duration_seconds{route,method}
//	taskmodel_queue_oldest_age_seconds{model}               gauge, read from the database at scrape time
//
// and the lifecycle metrics of package metrics (Models.metrics, which every
// model's engine reports to).
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
			Buckets: taskDurationBuckets(),
		}, []string{"task_type", "status"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "taskmodel_http_requests_total", Help: "HTTP requests by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		reqDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "taskmodel_http_request_duration_seconds", Help: "HTTP request latency by route pattern and method (event streams excluded).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 10),
		}, []string{"route", "method"}),
	}
	for _, c := range []prometheus.Collector{m.transitions, m.taskDuration, m.requests, m.reqDuration, taskCounts(ms), queueAges(ms), ms.metrics} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// taskDurationBuckets are the bounds of taskmodel_task_duration_seconds:
// 0.1 s × 3^i for i from 0 to 11, 0.1 s to 17714.7 s (about 4.9 hours).
// Each is 3^i / 10, the float nearest its decimal value, so that its le
// label reads "0.3", not the "0.30000000000000004" of multiplying 0.1 by 3
// (prometheus.ExponentialBuckets).
func taskDurationBuckets() []float64 {
	out := make([]float64, 12)
	pow := 1.0
	for i := range out {
		out[i] = pow / 10
		pow *= 3
	}
	return out
}

// follow records the changes this process makes to a model's tasks:
// changes is the model's stream of them.
func (m *metrics) follow(ctx context.Context, model string, changes <-chan change) {
	for c := range changes {
		if c.event == "" {
			continue // creation or progress
		}
		m.transitions.WithLabelValues(model, c.event, c.to).Inc()
		if c.finished && c.row.EndDate != nil {
			m.taskDuration.WithLabelValues(model, c.to).Observe(c.row.EndDate.Sub(c.row.CreatedAt).Seconds())
		}
	}
}

// scraped is a collector whose metrics are read from the database when
// scraped, at most every scrapeEvery (a scrape in between is served the last
// reading), within scrapeTimeout.
type scraped struct {
	desc *prometheus.Desc
	read func(ctx context.Context) ([]prometheus.Metric, error)

	mu     sync.Mutex
	at     time.Time
	cached []prometheus.Metric
}

const (
	scrapeEvery   = 5 * time.Second
	scrapeTimeout = 5 * time.Second
)

func (t *scraped) Describe(ch chan<- *prometheus.Desc) { ch <- t.desc }

func (t *scraped) Collect(ch chan<- prometheus.Metric) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if time.Since(t.at) > scrapeEvery {
		ctx, cancel := context.WithTimeout(context.Background(), scrapeTimeout)
		defer cancel()
		out, err := t.read(ctx)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(t.desc, err)
			return
		}
		t.cached, t.at = out, time.Now()
	}
	for _, m := range t.cached {
		ch <- m
	}
}

var tasksDesc = prometheus.NewDesc("taskmodel_tasks", "Tasks in the database by task type and status.", []string{"task_type", "status"}, nil)

// taskCounts reads the number of tasks per model and status (capped counts:
// a status over CountCap is shown once its first full count finished).
func taskCounts(ms *Models) *scraped {
	return &scraped{desc: tasksDesc, read: func(ctx context.Context) ([]prometheus.Metric, error) {
		var out []prometheus.Metric
		for _, b := range ms.order {
			statuses := statusNames(b.lifecycle())
			counts, err := ms.counts.statusCounts(ctx, b.name(), statuses, "", "")
			if err != nil {
				return nil, err
			}
			for _, status := range statuses {
				c, ok := counts[status]
				switch {
				case c.AtLeast:
					continue // shown once its first full count has finished
				case !ok && ms.backend.memory:
					continue // not counted
				}
				// A status without tasks is 0, not missing: an empty
				// queue is a depth of 0.
				out = append(out, prometheus.MustNewConstMetric(tasksDesc, prometheus.GaugeValue, float64(c.N), b.name(), status))
			}
		}
		return out, nil
	}}
}

var queueAgeDesc = prometheus.NewDesc("taskmodel_queue_oldest_age_seconds",
	"Time since the task at the head of a model's queue (the worker section's queue status, in claim order) entered the queue; 0 when the queue is empty.", []string{"model"}, nil)

// queueAges reads, per model with a worker section, how long the task at
// the head of the claim order has waited: one indexed row per model (the
// (status, created_at) index). A database backend only.
func queueAges(ms *Models) *scraped {
	return &scraped{desc: queueAgeDesc, read: func(ctx context.Context) ([]prometheus.Metric, error) {
		var out []prometheus.Metric
		for _, b := range ms.order {
			w := b.worker()
			if w.Queue == "" || ms.backend.memory {
				continue
			}
			entry := ""
			if s, ok := b.lifecycle().Status(w.Queue); ok && s.EnteredAt != "created_at" {
				entry = s.EnteredAt
			}
			at, ok, err := ms.backend.queueHead(ctx, b.name(), w.Queue, entry)
			if err != nil {
				return nil, err
			}
			age := 0.0
			if ok {
				age = max(time.Since(at).Seconds(), 0)
			}
			out = append(out, prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, age, b.name()))
		}
		return out, nil
	}}
}

// queueHeadSQL reads the task at the head of a queue's claim order: its
// entry column when the status has one (updated_at again otherwise) and
// updated_at, its last change (what sdk/engine.EnteredAt reads when there
// is no entry time). The columns are read as they are, not through
// COALESCE: SQLite types an expression's value by its stored text, not as
// the column's DATETIME, and the driver then returns the text.
func queueHeadSQL(model, entry string) string {
	col := "updated_at"
	if entry != "" {
		col = `"` + entry + `"`
	}
	return `SELECT ` + col + `, updated_at FROM "` + model + `" WHERE status = $1 ORDER BY created_at ASC, id ASC LIMIT 1`
}

// queueHead returns when the task at the head of model's queue entered
// it; false when the queue is empty.
func (b *Backend) queueHead(ctx context.Context, model, queue, entry string) (time.Time, bool, error) {
	if !reTable.MatchString(model) || (entry != "" && !reTable.MatchString(entry)) {
		return time.Time{}, false, fmt.Errorf("server: %q.%q is not a table and column name", model, entry)
	}
	q := queueHeadSQL(model, entry)
	var entered, updated any
	var err error
	switch db, stmt, params, serr := b.sqlDB(q, []any{queue}); {
	case serr != nil:
		err = serr
	case db != nil:
		err = db.QueryRowContext(ctx, stmt, params...).Scan(&entered, &updated)
	case b.pg != nil:
		err = b.pg.QueryRow(ctx, q, queue).Scan(&entered, &updated)
	default:
		return time.Time{}, false, nil
	}
	if isNoRows(err) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	at := entered
	if at == nil { // stored before the entry column existed
		at = updated
	}
	t, ok := anyTime(at)
	if !ok {
		return time.Time{}, false, fmt.Errorf("server: %s's queue head: %T is not a time", model, at)
	}
	return t, true, nil
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
func (s *Server) observe(pattern string, next http.Handler) http.Handler {
	route := routeLabel(pattern)
	stream := route == "/tasks/{id}/events"
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		if tp := r.Header.Get("traceparent"); tp != "" {
			// The caller's trace: a task created (or moved) by this
			// request is traced in it when tracing is on (package tracing).
			r = r.WithContext(tracing.Continue(r.Context(), tp))
		}
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

// routeLabel is the route label of a mux pattern: its path, without the
// method or host a pattern may start with ("GET /{$}") and without the
// {$} that ends an exact match ("GET /{$}" is "/", as a request sees it).
func routeLabel(pattern string) string {
	if _, path, ok := strings.Cut(pattern, " "); ok {
		pattern = strings.TrimLeft(path, " \t")
	}
	if i := strings.IndexByte(pattern, '/'); i > 0 {
		pattern = pattern[i:] // a host
	}
	return strings.TrimSuffix(pattern, "{$}")
}
