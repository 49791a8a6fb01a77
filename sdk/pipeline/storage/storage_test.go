package storage_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/taskmodel/taskmodel/sdk/pipeline/storage"
)

func TestLoadSQL(t *testing.T) {
	s, err := storage.LoadSQL(fstest.MapFS{
		"a.sql":                 {Data: []byte("SELECT 1")},
		"migrations/0002_b.sql": {Data: []byte("B")},
		"migrations/0001_a.sql": {Data: []byte("A")},
		"migrations/notes.txt":  {Data: []byte("ignored: not a migration")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Statement("a") != "SELECT 1" {
		t.Errorf("statement a = %q", s.Statement("a"))
	}
	m := s.Migrations("sqlite")
	if n := len(m); n < 2 || m[n-2].Name != "pipeline/0001_a" || m[n-1].Name != "pipeline/0002_b" {
		t.Errorf("migrations out of order: %+v", m[n-2:])
	}
	if m[0].Name != "pipeline_run/0001_schema" {
		t.Errorf("the generated models' migrations come first: %s", m[0].Name)
	}
	if _, err := storage.LoadSQL(fstest.MapFS{"x.txt": {Data: []byte("x")}}); err == nil || !strings.Contains(err.Error(), "x.txt is not a .sql file") {
		t.Errorf("a stray file: %v", err)
	}
}

func TestTargetsRefusesUnknownColumns(t *testing.T) {
	var s storage.Stage
	if _, err := storage.Targets(&s, []string{"name", "colour"}); err == nil || !strings.Contains(err.Error(), `column "colour"`) {
		t.Fatalf("err = %v", err)
	}
	dst, err := storage.Targets(&s, []string{"order", "name"})
	if err != nil || len(dst) != 2 || dst[0] != any(&s.Order) || dst[1] != any(&s.Name) {
		t.Fatalf("targets %v, %v", dst, err)
	}
}
