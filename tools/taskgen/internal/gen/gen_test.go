package gen_test

import (
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/gen"
	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// TestGolden generates every case under testdata/golden/<case>/spec.yaml and
// compares each emitted file with <case>/<file>.golden. Run with -update to
// accept new output.
func TestGolden(t *testing.T) {
	cases, err := filepath.Glob("testdata/golden/*/spec.yaml")
	if err != nil || len(cases) == 0 {
		t.Fatalf("no golden cases: %v", err)
	}
	for _, specPath := range cases {
		dir := filepath.Dir(specPath)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			m, err := spec.LoadFile(specPath)
			if err != nil {
				t.Fatal(err)
			}
			// Cases with a file named "storage" also emit SQL and drivers.
			_, err = os.Stat(filepath.Join(dir, "storage"))
			storage := err == nil
			opts := gen.Options{Storage: storage, ImportPath: "example.com/gen/" + m.Package}
			if storage {
				if opts.Snapshot, err = spec.Snapshot(specPath); err != nil {
					t.Fatal(err)
				}
			}
			files, err := gen.Generate(m, opts)
			if err != nil {
				t.Fatal(err)
			}
			names := make([]string, 0, len(files))
			for name := range files {
				names = append(names, name)
			}
			slices.Sort(names)
			if !slices.Equal(names, gen.FileNames(storage, m.Worker != nil)) {
				t.Errorf("files = %v, FileNames() = %v", names, gen.FileNames(storage, m.Worker != nil))
			}
			checkGolden(t, dir, files, names)
			// No stale golden files.
			filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
				if err != nil || d.IsDir() || !strings.HasSuffix(path, ".golden") {
					return err
				}
				rel, _ := filepath.Rel(dir, strings.TrimSuffix(path, ".golden"))
				if _, ok := files[filepath.ToSlash(rel)]; !ok {
					t.Errorf("stale golden file %s", path)
				}
				return nil
			})
		})
	}
}

// TestDeterministic generates each case twice and expects identical bytes.
func TestDeterministic(t *testing.T) {
	cases, _ := filepath.Glob("testdata/golden/*/spec.yaml")
	for _, specPath := range cases {
		m1, err := spec.LoadFile(specPath)
		if err != nil {
			t.Fatal(err)
		}
		m2, _ := spec.LoadFile(specPath)
		a, _ := gen.Generate(m1, gen.Options{Storage: true, ImportPath: "example.com/gen/x"})
		b, _ := gen.Generate(m2, gen.Options{Storage: true, ImportPath: "example.com/gen/x"})
		for name := range a {
			if string(a[name]) != string(b[name]) {
				t.Errorf("%s: %s differs between two runs", specPath, name)
			}
		}
	}
}

func TestPackageOption(t *testing.T) {
	m, err := spec.LoadFile("testdata/golden/minimal/spec.yaml")
	if err != nil {
		t.Fatal(err)
	}
	files, err := gen.Generate(m, gen.Options{Package: "pong", ImportPath: "example.com/gen/pong"})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"doc.go", "status.go", "event.go", "model.go"} {
		if !strings.Contains(string(files[name]), "\npackage pong\n") {
			t.Errorf("%s does not declare package pong", name)
		}
		if !strings.HasPrefix(string(files[name]), "// "+gen.Header+"\n") {
			t.Errorf("%s does not start with the generated-code header", name)
		}
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n  got:  " + gl + "\n  want: " + wl
		}
	}
	return ""
}

// checkGolden compares each named file with dir/<name>.golden, or rewrites
// the golden files under -update.
func checkGolden(t *testing.T, dir string, files map[string][]byte, names []string) {
	t.Helper()
	for _, name := range names {
		golden := filepath.Join(dir, filepath.FromSlash(name)+".golden")
		if *update {
			if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(golden, files[name], 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(golden)
		if err != nil {
			t.Fatalf("%v (run go test -update to create it)", err)
		}
		if got := string(files[name]); got != string(want) {
			t.Errorf("%s differs from %s (run go test -update to accept):\n%s", name, golden, firstDiff(got, string(want)))
		}
	}
}

// TestTimeoutMessage: a timeout without an error code gives the string
// field its event requires a message that writes the duration as a spec
// does (1h30m, not Go's 1h30m0s).
func TestTimeoutMessage(t *testing.T) {
	m, err := spec.Parse("ping.yaml", []byte(`model: ping
statuses:
  SENT: {initial: true, entered_at: sent_at, timeout: {after: 1h30m, to: LATE}}
  LATE: {terminal: true}
  ACKED: {terminal: true}
events:
  ack: {from: SENT, to: ACKED}
  expire: {from: SENT, to: LATE, requires: [reason]}
fields:
  reason: {type: string, optional: true, max_len: 200}
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	files, err := gen.Generate(m, gen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := `"timed out after 1h30m in SENT"`; !strings.Contains(string(files["model.go"]), want) {
		t.Errorf("model.go lacks %s:\n%s", want, files["model.go"])
	}
}
