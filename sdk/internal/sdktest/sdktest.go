// Package sdktest opens the analysis model (the upload → process
// lifecycle) on every backend for the sdk packages' tests: one table of
// backends, so every rule is tested on memory, SQLite, PostgreSQL and
// MySQL (MariaDB) alike.
package sdktest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/memory"
	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/analysis/mysqldb"
	"github.com/taskmodel/taskmodel/gen/analysis/pgdb"
	"github.com/taskmodel/taskmodel/gen/analysis/sqlitedb"
	"github.com/taskmodel/taskmodel/gen/training"
	trainingmysql "github.com/taskmodel/taskmodel/gen/training/mysqldb"
	trainingpg "github.com/taskmodel/taskmodel/gen/training/pgdb"
	trainingsqlite "github.com/taskmodel/taskmodel/gen/training/sqlitedb"
)

// Backend opens a fresh, isolated driver of the analysis model, with the
// named leases of the same database.
type Backend struct {
	Name string
	// open opens the driver and the leases, and returns what closes their
	// database (nil for memory, which has none).
	open func(t testing.TB) (backends.WorkDriver[analysis.Task], backends.Leases, func())
}

// OpenWithLeases opens the driver and the leases.
func (b Backend) OpenWithLeases(t testing.TB) (backends.WorkDriver[analysis.Task], backends.Leases) {
	d, l, _ := b.open(t)
	return d, l
}

// Open opens the driver alone.
func (b Backend) Open(t testing.TB) backends.WorkDriver[analysis.Task] {
	d, _, _ := b.open(t)
	return d
}

// OpenClosable opens the driver and returns what closes its database, as
// a program does at its end: nil for memory, which has no database.
func (b Backend) OpenClosable(t testing.TB) (backends.WorkDriver[analysis.Task], func()) {
	d, _, closeDB := b.open(t)
	return d, closeDB
}

// OpenClosableWithLeases opens the driver and the leases, and returns what
// closes their database (nil for memory).
func (b Backend) OpenClosableWithLeases(t testing.TB) (backends.WorkDriver[analysis.Task], backends.Leases, func()) {
	return b.open(t)
}

// All is every backend.
var All = []Backend{
	{"memory", func(t testing.TB) (backends.WorkDriver[analysis.Task], backends.Leases, func()) {
		return memory.New[analysis.Task](), memory.NewLeases(), nil
	}},
	{"sqlite", func(t testing.TB) (backends.WorkDriver[analysis.Task], backends.Leases, func()) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tasks.db"), analysis.Migrations(sqlite.Engine))
		if err != nil {
			t.Fatal(err)
		}
		closeDB := func() { db.Close() }
		t.Cleanup(closeDB)
		return sqlitedb.NewDriver(db), sqlite.NewLeases(db), closeDB
	}},
	{"postgres", func(t testing.TB) (backends.WorkDriver[analysis.Task], backends.Leases, func()) {
		pool, err := postgres.OpenConfig(context.Background(), pgtest.Schema(t), analysis.Migrations(postgres.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		return pgdb.NewDriver(pool), postgres.NewLeases(pool), pool.Close
	}},
	{"mysql", func(t testing.TB) (backends.WorkDriver[analysis.Task], backends.Leases, func()) {
		db, err := mysql.Open(context.Background(), mysqltest.Database(t), analysis.Migrations(mysql.Engine))
		if err != nil {
			t.Fatal(err)
		}
		closeDB := func() { db.Close() }
		t.Cleanup(closeDB)
		return mysqldb.NewDriver(db), mysql.NewLeases(db), closeDB
	}},
}

// NewTask returns a valid analysis task, not yet created.
func NewTask() *analysis.Task {
	x := analysis.NewTask()
	x.UserID, x.ToolID = "user-1", "profile-my-data"
	x.Agents = []string{"unified-profiler", "score-risk"}
	return x
}

// TrainingBackends opens the training model, whose worker section
// requeues a lost task (max_attempts 3), on every backend.
var TrainingBackends = []struct {
	Name string
	Open func(t testing.TB) backends.WorkDriver[training.Training]
}{
	{"memory", func(t testing.TB) backends.WorkDriver[training.Training] { return memory.New[training.Training]() }},
	{"sqlite", func(t testing.TB) backends.WorkDriver[training.Training] {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tasks.db"), training.Migrations(sqlite.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return trainingsqlite.NewDriver(db)
	}},
	{"postgres", func(t testing.TB) backends.WorkDriver[training.Training] {
		pool, err := postgres.OpenConfig(context.Background(), pgtest.Schema(t), training.Migrations(postgres.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		pgtest.Autovacuum(t, pool, "training", "training_history")
		return trainingpg.NewDriver(pool)
	}},
	{"mysql", func(t testing.TB) backends.WorkDriver[training.Training] {
		db, err := mysql.Open(context.Background(), mysqltest.Database(t), training.Migrations(mysql.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return trainingmysql.NewDriver(db)
	}},
}
