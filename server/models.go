package server

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/memory"
	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	taskmetrics "github.com/taskmodel/taskmodel/metrics"
	"github.com/taskmodel/taskmodel/sdk/engine"
	"github.com/taskmodel/taskmodel/sdk/sweep"
	"github.com/taskmodel/taskmodel/tasktype"
	"github.com/taskmodel/taskmodel/validation"
)

// ModelType is what the server needs of a generated model struct: PT is
// *T, with the methods taskgen generates on every model.
type ModelType[T any, E ~string] interface {
	engine.Model[T, E]
	// PrepareTimeout fills the fields a timed-out status's event requires.
	PrepareTimeout() (E, bool)
	// TimeoutAt tells when the current status times out (memory driver).
	TimeoutAt() (time.Time, bool)
	// Owner and SetOwner read and write the spec's api owner field.
	Owner() string
	SetOwner(user string)
	// IsFinished reports a terminal status.
	IsFinished() bool
	// ListRow returns the task as a row of the unified listing.
	ListRow() tasktype.Row
}

// Model describes one generated model to the server; taskgen's catalog
// package emits one per model (catalog.Serve), so a new spec gets its
// routes by regeneration.
type Model[T any] struct {
	// Name is the model name, the task_type of requests and listings.
	Name string
	// New returns a task holding the spec's defaults.
	New func() *T
	// API is the spec's api section; Worker its worker section (zero if none).
	API    tasktype.API
	Worker tasktype.Worker
	// Lifecycle is the model's lifecycle as its spec declares it (the
	// generated Lifecycle()): what the dashboard's model page draws.
	Lifecycle tasktype.Lifecycle
	// SQLite, Postgres and MySQL build the model's driver over a database.
	SQLite   func(*sql.DB) backends.Driver[T]
	Postgres func(*pgxpool.Pool) backends.Driver[T]
	MySQL    func(*sql.DB) backends.Driver[T]
}

// Listers build the unified listing over a database (the catalog's
// generated listers).
type Listers struct {
	SQLite   func(*sql.DB) backends.Lister
	Postgres func(*pgxpool.Pool) backends.Lister
	MySQL    func(*sql.DB) backends.Lister
}

// Backend is the database the server's models live in: one of SQLite,
// PostgreSQL, MySQL (or MariaDB) or memory (for tests of code that embeds
// the server).
type Backend struct {
	sqlite *sql.DB
	pg     *pgxpool.Pool
	mysql  *sql.DB
	mem    []memory.ListSource
	memory bool

	timeoutIndexes sync.Map // model and status → SQLite timeout index name (modeltimeouts.go)
}

// SQLite returns a Backend over an open SQLite database whose migrations
// have been applied (catalog.Migrations).
func SQLite(db *sql.DB) *Backend { return &Backend{sqlite: db} }

// Postgres returns a Backend over a PostgreSQL pool whose migrations have
// been applied.
func Postgres(pool *pgxpool.Pool) *Backend { return &Backend{pg: pool} }

// MySQL returns a Backend over a MySQL or MariaDB database whose
// migrations have been applied.
func MySQL(db *sql.DB) *Backend { return &Backend{mysql: db} }

// Memory returns a Backend that keeps tasks in memory.
func Memory() *Backend { return &Backend{memory: true} }

// Leases returns the backend's leases (one sweeper at a time).
func (b *Backend) Leases() backends.Leases {
	switch {
	case b.sqlite != nil:
		return sqlite.NewLeases(b.sqlite)
	case b.pg != nil:
		return postgres.NewLeases(b.pg)
	case b.mysql != nil:
		return mysql.NewLeases(b.mysql)
	}
	return memory.NewLeases()
}

// Models is the set of models a server serves over one backend, with the
// unified listing across them. Build it with NewModels and Add (or the
// generated catalog.Serve).
type Models struct {
	backend *Backend
	listers Listers
	catalog []backends.CatalogModel
	byName  map[string]binding
	order   []binding
	err     error
	counts  *counts // task counts of the pages and the metrics
	// metrics are the lifecycle metrics every model's engine reports to
	// (engine.WithObserver); the server registers them.
	metrics *taskmetrics.Set
}

// NewModels starts a set of models over b; catalog lists the models of the
// unified listing (catalog.Models()).
func NewModels(b *Backend, catalog []backends.CatalogModel, listers Listers) *Models {
	return &Models{backend: b, listers: listers, catalog: catalog, byName: map[string]binding{}, counts: newCounts(b), metrics: taskmetrics.New()}
}

// Err reports the first error of an Add.
func (ms *Models) Err() error { return ms.err }

// Names returns the model names in the order they were added.
func (ms *Models) Names() []string {
	out := make([]string, len(ms.order))
	for i, b := range ms.order {
		out[i] = b.name()
	}
	return out
}

// WatchPoll is how often an event stream (GET /tasks/{id}/events, through
// engine.Watch) reads its task on a database backend. The engines get a
// change source there — PostgreSQL LISTEN/NOTIFY (postgres.Notifier), or
// polling on SQLite and MySQL (backends.Poller, every 500 ms) — which pushes other
// processes' changes to the streams, so this read is only a safety net for
// the changes a source does not deliver (made while its listener starts, or
// stamped or committed more than its lookback late): ten times rarer than
// the engine's default of 500 ms, it costs an open stream one read every 5
// s, and bounds how late such a change is shown.
const WatchPoll = 5 * time.Second

// Add binds model m: it builds the model's engine over the set's backend.
// On SQLite, PostgreSQL and MySQL the engine has a change source
// (engine.WithChanges: backends.NewPoller over the model's driver on SQLite
// and MySQL, postgres.NewNotifier of the model's table) and Watch polls every
// WatchPoll; opts come after these, so engine.WithChanges(nil) or
// engine.WithPollInterval override them. The source runs only while an
// event stream (or another engine.Subscribe or Watch subscriber) is open:
// the server's metrics follow their own process's changes only
// (engine.SubscribeLocal).
func Add[T any, E ~string, PT ModelType[T, E]](ms *Models, m Model[T], opts ...engine.Option) {
	if ms.err != nil {
		return
	}
	if _, dup := ms.byName[m.Name]; dup || m.Name == "" {
		ms.err = fmt.Errorf("server: model %q added twice or unnamed", m.Name)
		return
	}
	if m.Lifecycle.Model != m.Name {
		ms.err = fmt.Errorf("server: model %q has the lifecycle of model %q; give it its generated package's Lifecycle()", m.Name, m.Lifecycle.Model)
		return
	}
	var drv backends.Driver[T]
	base := []engine.Option{engine.WithWorker(m.Worker), engine.WithObserver(ms.metrics.Model(m.Lifecycle))}
	switch b := ms.backend; {
	case b.sqlite != nil:
		drv = m.SQLite(b.sqlite)
		if l, ok := drv.(backends.ChangeLister); ok {
			base = append(base, engine.WithChanges(backends.NewPoller(l)), engine.WithPollInterval(WatchPoll))
		}
	case b.pg != nil:
		drv = m.Postgres(b.pg)
		base = append(base, engine.WithChanges(postgres.NewNotifier(b.pg, m.Name)), engine.WithPollInterval(WatchPoll))
	case b.mysql != nil:
		if m.MySQL == nil {
			ms.err = fmt.Errorf("server: model %q has no MySQL driver; regenerate its package with taskgen", m.Name)
			return
		}
		drv = m.MySQL(b.mysql)
		if l, ok := drv.(backends.ChangeLister); ok {
			base = append(base, engine.WithChanges(backends.NewPoller(l)), engine.WithPollInterval(WatchPoll))
		}
	default:
		d := memory.New[T, PT]()
		b.mem = append(b.mem, d)
		drv = d
	}
	opts = append(base, opts...)
	bd := &typed[T, E, PT]{m: m, eng: engine.New[T, E, PT](drv, opts...)}
	if probe, err := json.Marshal(m.New()); err == nil {
		var keys map[string]json.RawMessage
		if json.Unmarshal(probe, &keys) == nil {
			_, bd.ownTaskID = keys["task_id"]
		}
	}
	ms.byName[m.Name] = bd
	ms.order = append(ms.order, bd)
}

// Engine returns the engine of a model, typed: the place to start worker
// pools on (sdk/worker) or to use the SDK next to the server.
func Engine[T any, E ~string, PT ModelType[T, E]](ms *Models, name string) (*engine.Engine[T, E, PT], error) {
	b, ok := ms.byName[name]
	if !ok {
		return nil, fmt.Errorf("server: no model %q; models are %s", name, strings.Join(ms.Names(), ", "))
	}
	t, ok := b.(*typed[T, E, PT])
	if !ok {
		return nil, fmt.Errorf("server: model %q is not of the type asked for", name)
	}
	return t.eng, nil
}

// Catalog returns the unified listing across the models.
func (ms *Models) Catalog() *backends.Catalog {
	var l backends.Lister
	switch b := ms.backend; {
	case b.sqlite != nil:
		l = ms.listers.SQLite(b.sqlite)
	case b.pg != nil:
		l = ms.listers.Postgres(b.pg)
	case b.mysql != nil:
		l = noLister{}
		if ms.listers.MySQL != nil {
			l = ms.listers.MySQL(b.mysql)
		}
	default:
		l = memory.NewLister(b.mem...)
	}
	return backends.NewCatalog(l, ms.catalog)
}

// noLister is the listing of a catalog generated without one for the
// backend's engine: every listing is refused, with the remedy.
type noLister struct{}

func (noLister) List(context.Context, backends.ListQuery) ([]backends.Row, error) {
	return nil, problem(http.StatusNotImplemented, "unsupported", "Not implemented",
		"listing tasks across models is not available on MySQL with this build: its catalog package has no MySQL listing; regenerate it with taskgen")
}

// view is a task as the HTTP layer sees it, whatever its model.
type view struct {
	model    string
	task     any // *T: marshals to the model's JSON
	key      tasktype.Key
	owner    string
	finished bool
	// ownTaskID: the model's JSON has a task_id of its own.
	ownTaskID bool
}

// binding is a model's engine with its types erased, so that one set of
// handlers serves every model.
type binding interface {
	name() string
	api() tasktype.API
	worker() tasktype.Worker
	lifecycle() tasktype.Lifecycle
	// create makes a task from a client's fields (JSON values by name).
	create(ctx context.Context, owner string, fields map[string]json.RawMessage, meta engine.Meta) (*view, error)
	get(ctx context.Context, id uuid.UUID) (*view, error)
	// fire fires ev on the task as read in v; with setMessage it also sets
	// error_message to message (nil clears it).
	fire(ctx context.Context, v *view, ev string, setMessage bool, message *string, meta engine.Meta) (*view, error)
	cancel(ctx context.Context, id uuid.UUID, meta engine.Meta) (*view, error)
	history(ctx context.Context, id uuid.UUID) ([]backends.History, error)
	// watch streams the task's changes until it finishes or ctx ends.
	// watch streams the task's changes; ended tells, once the channel
	// closed, why it did when it was not a finish or ctx (engine
	// Subscription.Err).
	watch(ctx context.Context, id uuid.UUID) (changes <-chan *view, stop func(), ended func() error, err error)
	// canFire reports whether ev may fire on the task as read in v (the
	// lifecycle and the fields it requires).
	canFire(v *view, ev string) bool
	// changes streams every change this process makes to the model's tasks
	// (not other processes': the engine's change source is not started).
	changes(ctx context.Context) <-chan change
	// sweeper applies the model's timeouts; onMove is called per move.
	sweeper(cfg sweepConfig) func(ctx context.Context) (sweep.Result, error)
}

// change is one change of a task, for metrics.
type change struct {
	event, to string
	finished  bool
	row       tasktype.Row
}

type sweepConfig struct {
	leases    backends.Leases
	retention time.Duration
	owner     string
	onMove    func(ctx context.Context, before, after *view) error
}

type typed[T any, E ~string, PT ModelType[T, E]] struct {
	m   Model[T]
	eng *engine.Engine[T, E, PT]
	// ownTaskID: the model has a task_id field of its own (the stage model's
	// stage), which the API's task_id must not shadow.
	ownTaskID bool
}

func (b *typed[T, E, PT]) name() string            { return b.m.Name }
func (b *typed[T, E, PT]) api() tasktype.API       { return b.m.API }
func (b *typed[T, E, PT]) worker() tasktype.Worker { return b.m.Worker }

// lifecycle returns the model's lifecycle as its spec declares it.
func (b *typed[T, E, PT]) lifecycle() tasktype.Lifecycle { return b.m.Lifecycle }

func (b *typed[T, E, PT]) view(x *T) *view {
	return &view{model: b.m.Name, task: x, key: PT(x).Key(), owner: PT(x).Owner(), finished: PT(x).IsFinished(), ownTaskID: b.ownTaskID}
}

func (b *typed[T, E, PT]) create(ctx context.Context, owner string, fields map[string]json.RawMessage, meta engine.Meta) (*view, error) {
	allowed := b.m.API.Create
	for name := range fields {
		if !slices.Contains(allowed, name) {
			return nil, unknownField(b.m.Name, name, allowed)
		}
	}
	// The model's strict decoder checks types and required fields, and
	// starts from the spec's defaults for the fields the client left out:
	// a required field left out is "is required", as it is when null.
	doc := make(map[string]json.RawMessage, len(fields)+1)
	for k, v := range fields {
		doc[k] = v
	}
	sent, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	if o := b.m.API.Owner; o != "" {
		raw, _ := json.Marshal(owner)
		doc[o] = raw
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	x := b.m.New()
	if err := json.Unmarshal(data, x); err != nil {
		return nil, err
	}
	if err := validation.CheckNulls(sent, x); err != nil {
		return nil, err
	}
	x, err = b.eng.Create(ctx, x, meta)
	if err != nil {
		return nil, err
	}
	return b.view(x), nil
}

func (b *typed[T, E, PT]) get(ctx context.Context, id uuid.UUID) (*view, error) {
	x, err := b.eng.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	return b.view(x), nil
}

func (b *typed[T, E, PT]) fire(ctx context.Context, v *view, ev string, setMessage bool, message *string, meta engine.Meta) (*view, error) {
	cur, ok := v.task.(*T)
	if !ok {
		return nil, errors.New("server: task of another model")
	}
	if setMessage {
		// error_message is a field of the spec, not of every Go struct:
		// set it through the model's JSON form, which its decoder checks.
		next, err := withField(cur, "error_message", message)
		if err != nil {
			return nil, err
		}
		cur = next
	}
	// Another request may move the task first: if the event is then no
	// longer possible, the error holds the refusal, which is the answer
	// (a transition 409 with the current status), as it is when the
	// requests do not overlap.
	x, err := b.eng.FireFrom(ctx, cur, E(ev), nil, meta)
	if err != nil {
		return nil, err
	}
	return b.view(x), nil
}

func (b *typed[T, E, PT]) cancel(ctx context.Context, id uuid.UUID, meta engine.Meta) (*view, error) {
	x, err := b.eng.Cancel(ctx, id, meta)
	if err != nil {
		return nil, err
	}
	return b.view(x), nil
}

func (b *typed[T, E, PT]) history(ctx context.Context, id uuid.UUID) ([]backends.History, error) {
	return b.eng.History(ctx, id)
}

func (b *typed[T, E, PT]) watch(ctx context.Context, id uuid.UUID) (<-chan *view, func(), func() error, error) {
	sub, err := b.eng.Watch(ctx, id)
	if err != nil {
		return nil, nil, nil, err
	}
	out := make(chan *view)
	go func() {
		defer close(out)
		for ch := range sub.C {
			select {
			case out <- b.view(ch.Task):
			case <-ctx.Done():
				sub.Close()
				for range sub.C {
				}
				return
			}
		}
	}()
	return out, sub.Close, sub.Err, nil
}

func (b *typed[T, E, PT]) sweeper(cfg sweepConfig) func(ctx context.Context) (sweep.Result, error) {
	sw := sweep.New[T, E, PT](b.eng.Store(), sweep.Config[T]{
		Leases:    cfg.leases,
		Retention: cfg.retention,
		LeaseName: "taskmodel-sweep-" + b.m.Name,
		Owner:     cfg.owner,
		Clock:     b.eng.Now,
		OnTransition: func(ctx context.Context, before, after *T) error {
			if cfg.onMove == nil {
				return nil
			}
			return cfg.onMove(ctx, b.view(before), b.view(after))
		},
	})
	return sw.Sweep
}

// withField returns a copy of x with one field, by JSON name, set to value.
func withField[T any](x *T, name string, value any) (*T, error) {
	data, err := json.Marshal(x)
	if err != nil {
		return nil, err
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if _, ok := doc[name]; !ok {
		return nil, fmt.Errorf("server: the model has no field %q", name)
	}
	if doc[name], err = json.Marshal(value); err != nil {
		return nil, err
	}
	if data, err = json.Marshal(doc); err != nil {
		return nil, err
	}
	var next T
	if err := json.Unmarshal(data, &next); err != nil {
		return nil, err
	}
	return &next, nil
}

func (b *typed[T, E, PT]) canFire(v *view, ev string) bool {
	cur, ok := v.task.(*T)
	if !ok {
		return false
	}
	probe := *cur
	return PT(&probe).Fire(E(ev), b.eng.Now()) == nil
}

func (b *typed[T, E, PT]) changes(ctx context.Context) <-chan change {
	return localChanges(ctx, b.eng)
}

// localChanges streams the changes eng makes in this process. Local only:
// Prometheus counters are per process (other processes' changes would be
// counted twice when summed), and a subscription for the server's life
// would keep the change source listening — on PostgreSQL, a NOTIFY in
// every write.
func localChanges[T any, E ~string, PT ModelType[T, E]](ctx context.Context, eng *engine.Engine[T, E, PT]) <-chan change {
	sub := eng.SubscribeLocal(ctx, uuid.Nil)
	out := make(chan change, 64)
	go func() {
		defer close(out)
		for ch := range sub.C {
			c := change{event: ch.Event, to: ch.Key.Status, finished: PT(ch.Task).IsFinished(), row: PT(ch.Task).ListRow()}
			select {
			case out <- c:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// ping checks that the backend's database answers.
func (b *Backend) ping(ctx context.Context) error {
	switch {
	case b.sqlite != nil:
		return b.sqlite.PingContext(ctx)
	case b.pg != nil:
		return b.pg.Ping(ctx)
	case b.mysql != nil:
		return b.mysql.PingContext(ctx)
	}
	return nil
}

// countByStatus counts a model's tasks per status (the model's table is
// named after it); nil for the memory backend.
func (b *Backend) countByStatus(ctx context.Context, model string) (map[string]int64, error) {
	if !reTable.MatchString(model) {
		return nil, fmt.Errorf("server: model name %q is not a table name", model)
	}
	q := countSQL(model)
	db, stmt, _, err := b.sqlDB(q, nil)
	switch {
	case err != nil:
		return nil, err
	case db != nil:
		rows, err := db.QueryContext(ctx, stmt)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return scanCounts(rows)
	case b.pg != nil:
		rows, err := b.pg.Query(ctx, q)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		return scanCounts(rows)
	}
	return nil, nil
}

// countSQL counts a model's tasks by status: over its (status,
// created_at) index.
func countSQL(model string) string {
	return `SELECT status, count(*) FROM "` + model + `" GROUP BY status`
}

// scanCounts reads (status, count) rows of database/sql or pgx.
func scanCounts(rows interface {
	Next() bool
	Scan(...any) error
	Err() error
}) (map[string]int64, error) {
	out := map[string]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

var reTable = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)
