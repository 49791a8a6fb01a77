// Package memstore keeps the pipeline tracker's data in memory: for tests
// and for programs that need no persistence. Runs and subtasks live in
// backends/memory drivers (so status changes follow the same Store rules as
// on the SQL engines); registrations and the indexes the queries need live
// beside them under one mutex.
package memstore

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/memory"
	"github.com/taskmodel/taskmodel/sdk/pipeline/storage"
	"github.com/taskmodel/taskmodel/tasktype"
)

type subKey struct {
	run uuid.UUID
	n   int64
}

type taskKey struct{ stage, name string }

// Store implements storage.Storage in memory.
type Store struct {
	mu     sync.Mutex
	runs   runs
	subs   subtasks
	runIDs []uuid.UUID // creation order
	subIDs map[subKey]uuid.UUID
	stages map[string]storage.Stage
	tasks  map[taskKey]storage.Task
}

var _ storage.Storage = (*Store)(nil)

// New returns an empty Store.
func New() *Store {
	s := &Store{
		subIDs: map[subKey]uuid.UUID{},
		stages: map[string]storage.Stage{},
		tasks:  map[taskKey]storage.Task{},
	}
	s.runs = runs{Driver: memory.New[storage.Run](), s: s}
	s.subs = subtasks{Driver: memory.New[storage.Subtask](), s: s}
	return s
}

// runs records the creation order of runs for the queries.
type runs struct {
	*memory.Driver[storage.Run, *storage.Run]
	s *Store
}

// Insert implements backends.Driver.
func (r runs) Insert(ctx context.Context, x *storage.Run, h backends.History) error {
	return r.InsertMany(ctx, []*storage.Run{x}, []backends.History{h})
}

// InsertMany implements backends.BatchInserter: all the runs or none, each
// recorded as Insert records it.
func (r runs) InsertMany(ctx context.Context, xs []*storage.Run, hs []backends.History) error {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	if err := r.Driver.InsertMany(ctx, xs, hs); err != nil {
		return err
	}
	for _, x := range xs {
		r.s.runIDs = append(r.s.runIDs, x.ID)
	}
	return nil
}

// Delete implements backends.Driver, and forgets the run's creation order.
func (r runs) Delete(ctx context.Context, id uuid.UUID) (bool, error) {
	r.s.mu.Lock()
	defer r.s.mu.Unlock()
	ok, err := r.Driver.Delete(ctx, id)
	if ok {
		r.s.runIDs = slices.DeleteFunc(r.s.runIDs, func(x uuid.UUID) bool { return x == id })
	}
	return ok, err
}

// subtasks keeps one subtask per run and number, as the SQL engines' unique
// index does.
type subtasks struct {
	*memory.Driver[storage.Subtask, *storage.Subtask]
	s *Store
}

// Insert implements backends.Driver.
func (d subtasks) Insert(ctx context.Context, x *storage.Subtask, h backends.History) error {
	return d.InsertMany(ctx, []*storage.Subtask{x}, []backends.History{h})
}

// InsertMany implements backends.BatchInserter: all the subtasks or none,
// with Insert's one subtask per run and number, within the batch too.
func (d subtasks) InsertMany(ctx context.Context, xs []*storage.Subtask, hs []backends.History) error {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	seen := make(map[subKey]bool, len(xs))
	for _, x := range xs {
		k := subKey{x.RunID, x.SubtaskNumber}
		if _, ok := d.s.subIDs[k]; ok || seen[k] {
			return tasktype.ErrDuplicate
		}
		seen[k] = true
	}
	if err := d.Driver.InsertMany(ctx, xs, hs); err != nil {
		return err
	}
	for _, x := range xs {
		d.s.subIDs[subKey{x.RunID, x.SubtaskNumber}] = x.ID
	}
	return nil
}

// Delete implements backends.Driver, and frees the subtask's run and
// number: the number may start again, as it may once the SQL engines
// delete the row.
func (d subtasks) Delete(ctx context.Context, id uuid.UUID) (bool, error) {
	d.s.mu.Lock()
	defer d.s.mu.Unlock()
	ok, err := d.Driver.Delete(ctx, id)
	if ok {
		for k, x := range d.s.subIDs {
			if x == id {
				delete(d.s.subIDs, k)
				break
			}
		}
	}
	return ok, err
}

// Close implements storage.Storage; it does nothing.
func (s *Store) Close() error { return nil }

// Runs implements storage.Storage.
func (s *Store) Runs() backends.Driver[storage.Run] { return s.runs }

// Subtasks implements storage.Storage.
func (s *Store) Subtasks() backends.Driver[storage.Subtask] { return s.subs }

// Register implements storage.Storage with the SQL engines' upsert rules.
func (s *Store) Register(ctx context.Context, stages []storage.Stage, tasks []storage.Task) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, st := range stages {
		s.registerStage(st)
	}
	for _, t := range tasks {
		if _, ok := s.stages[t.Stage]; !ok {
			s.registerStage(storage.Stage{Name: t.Stage})
		}
		k := taskKey{t.Stage, t.Name}
		old, known := s.tasks[k]
		next := t
		switch {
		case t.Order > 0:
		case known:
			next.Order = old.Order
		default:
			next.Order = 1
			for tk, o := range s.tasks {
				if tk.stage == t.Stage && o.Order >= next.Order {
					next.Order = o.Order + 1
				}
			}
		}
		if known {
			next.Type = cmp.Or(next.Type, old.Type)
			next.ScriptPath = cmp.Or(next.ScriptPath, old.ScriptPath)
			next.ScriptFilename = cmp.Or(next.ScriptFilename, old.ScriptFilename)
			next.LogPath = cmp.Or(next.LogPath, old.LogPath)
			next.LogFilename = cmp.Or(next.LogFilename, old.LogFilename)
		}
		s.tasks[k] = next
	}
	return nil
}

func (s *Store) registerStage(st storage.Stage) {
	old, known := s.stages[st.Name]
	switch {
	case st.Order > 0:
	case known:
		st.Order = old.Order
	default:
		st.Order = 1
		for _, o := range s.stages {
			if o.Order >= st.Order {
				st.Order = o.Order + 1
			}
		}
	}
	if known {
		st.Description = cmp.Or(st.Description, old.Description)
	}
	s.stages[st.Name] = st
}

// Stages implements storage.Storage.
func (s *Store) Stages(ctx context.Context) ([]storage.Stage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]storage.Stage, 0, len(s.stages))
	for _, st := range s.stages {
		out = append(out, st)
	}
	slices.SortFunc(out, func(a, b storage.Stage) int {
		return cmp.Or(cmp.Compare(a.Order, b.Order), cmp.Compare(a.Name, b.Name))
	})
	return out, nil
}

// Tasks implements storage.Storage.
func (s *Store) Tasks(ctx context.Context, stage string) ([]storage.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []storage.Task
	for _, t := range s.tasks {
		if stage == "" || t.Stage == stage {
			out = append(out, t)
		}
	}
	slices.SortFunc(out, func(a, b storage.Task) int {
		sa, sb := s.stages[a.Stage], s.stages[b.Stage]
		return cmp.Or(cmp.Compare(sa.Order, sb.Order), cmp.Compare(sa.Name, sb.Name),
			cmp.Compare(a.Order, b.Order), cmp.Compare(a.Name, b.Name))
	})
	return out, nil
}

// Task implements storage.Storage.
func (s *Store) Task(ctx context.Context, stage, name string) (*storage.Task, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tasks[taskKey{stage, name}]
	if !ok {
		return nil, tasktype.ErrNotFound
	}
	return &t, nil
}

// allRuns returns every run matching keep, oldest first.
func (s *Store) allRuns(ctx context.Context, keep func(*storage.Run) bool) ([]*storage.Run, error) {
	s.mu.Lock()
	ids := slices.Clone(s.runIDs)
	s.mu.Unlock()
	var out []*storage.Run
	for _, id := range ids {
		r, err := s.runs.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		if keep(r) {
			out = append(out, r)
		}
	}
	slices.SortFunc(out, byCreation)
	return out, nil
}

func byCreation(a, b *storage.Run) int {
	return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), slices.Compare(a.ID[:], b.ID[:]))
}

// LatestRuns implements storage.Storage.
func (s *Store) LatestRuns(ctx context.Context) ([]*storage.Run, error) {
	all, err := s.allRuns(ctx, func(*storage.Run) bool { return true })
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	latest := map[taskKey]*storage.Run{}
	var order []taskKey
	for _, r := range all { // oldest first: the last one wins
		k := taskKey{r.Stage, r.Task}
		if _, registered := s.tasks[k]; !registered {
			continue
		}
		if _, seen := latest[k]; !seen {
			order = append(order, k)
		}
		latest[k] = r
	}
	out := make([]*storage.Run, len(order))
	for i, k := range order {
		out[i] = latest[k]
	}
	return out, nil
}

// ActiveRuns implements storage.Storage.
func (s *Store) ActiveRuns(ctx context.Context) ([]*storage.Run, error) {
	return s.allRuns(ctx, func(r *storage.Run) bool { return r.Status.IsActive() })
}

// History implements storage.Storage.
func (s *Store) History(ctx context.Context, f storage.HistoryFilter) ([]*storage.Run, error) {
	all, err := s.allRuns(ctx, func(r *storage.Run) bool {
		return (f.Stage == "" || r.Stage == f.Stage) && (f.Task == "" || r.Task == f.Task)
	})
	if err != nil {
		return nil, err
	}
	slices.Reverse(all)
	return all[:min(len(all), max(f.Limit, 0))], nil
}

// SubtasksOf implements storage.Storage.
func (s *Store) SubtasksOf(ctx context.Context, run uuid.UUID) ([]*storage.Subtask, error) {
	s.mu.Lock()
	var ids []uuid.UUID
	for k, id := range s.subIDs {
		if k.run == run {
			ids = append(ids, id)
		}
	}
	s.mu.Unlock()
	out := make([]*storage.Subtask, 0, len(ids))
	for _, id := range ids {
		x, err := s.subs.Get(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	slices.SortFunc(out, func(a, b *storage.Subtask) int { return cmp.Compare(a.SubtaskNumber, b.SubtaskNumber) })
	return out, nil
}

// Subtask implements storage.Storage.
func (s *Store) Subtask(ctx context.Context, run uuid.UUID, n int64) (*storage.Subtask, error) {
	s.mu.Lock()
	id, ok := s.subIDs[subKey{run, n}]
	s.mu.Unlock()
	if !ok {
		return nil, tasktype.ErrNotFound
	}
	return s.subs.Get(ctx, id)
}

// Increment implements storage.Storage: a compare-and-set loop over the
// memory driver's guarded Update, so concurrent increments never lose one.
func (s *Store) Increment(ctx context.Context, run uuid.UUID, n, by int64, statuses []string, at time.Time) (*storage.Subtask, bool, error) {
	for {
		cur, err := s.Subtask(ctx, run, n)
		if err != nil {
			if err == tasktype.ErrNotFound {
				return nil, false, nil
			}
			return nil, false, err
		}
		// As the SQL engines: by is subtracted from the limits, so that
		// nothing passes the largest int64.
		if !slices.Contains(statuses, string(cur.Status)) || cur.ItemsComplete > math.MaxInt64-by ||
			cur.ItemsTotal != nil && cur.ItemsComplete > *cur.ItemsTotal-by {
			return nil, false, nil
		}
		next := *cur
		next.ItemsComplete += by
		if next.ItemsTotal != nil && *next.ItemsTotal > 0 {
			next.Percent = min(100, 100*float64(next.ItemsComplete)/float64(*next.ItemsTotal))
		}
		next.Touch(at)
		ok, err := s.subs.Update(ctx, cur.Key(), &next)
		if err != nil {
			return nil, false, err
		}
		if ok {
			return &next, true, nil
		}
	}
}
