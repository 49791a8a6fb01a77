package mysql_test

import (
	"context"
	"testing"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/backends/backendtest"
	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/gen/analysis"
	"github.com/taskmodel/taskmodel/gen/analysis/mysqldb"
	"github.com/taskmodel/taskmodel/gen/catalog"
	catalogdb "github.com/taskmodel/taskmodel/gen/catalog/mysqldb"
	evaluationdb "github.com/taskmodel/taskmodel/gen/evaluation/mysqldb"
	pipelinerundb "github.com/taskmodel/taskmodel/gen/pipelinerun/mysqldb"
	trainingdb "github.com/taskmodel/taskmodel/gen/training/mysqldb"
)

func TestConformance(t *testing.T) {
	backendtest.Run(t, func(t testing.TB) backends.Driver[analysis.Task] {
		db, err := mysql.Open(context.Background(), mysqltest.Database(t), analysis.Migrations(mysql.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return mysqldb.NewDriver(db)
	})
}

func TestListing(t *testing.T) {
	backendtest.RunListing(t, func(t testing.TB) backendtest.ListingDrivers {
		db, err := mysql.Open(context.Background(), mysqltest.Database(t), catalog.Migrations(mysql.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return backendtest.ListingDrivers{Training: trainingdb.NewDriver(db), Evaluation: evaluationdb.NewDriver(db), Analysis: mysqldb.NewDriver(db), PipelineRun: pipelinerundb.NewDriver(db), Lister: catalogdb.NewLister(db)}
	})
}

// BenchmarkTransitions: guarded transitions with their history rows, at
// concurrency 1 and 32 (see backendtest.BenchmarkTransitions):
//
//	go test ./backends/mysql -run '^$' -bench Transitions -benchtime 3s
func BenchmarkTransitions(b *testing.B) {
	backendtest.BenchmarkTransitions(b, func(t testing.TB) backends.Driver[analysis.Task] {
		db, err := mysql.Open(context.Background(), mysqltest.Database(t), analysis.Migrations(mysql.Engine))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return mysqldb.NewDriver(db)
	})
}
