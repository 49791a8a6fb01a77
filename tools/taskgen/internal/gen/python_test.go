package gen_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/tools/taskgen/internal/gen"
	"github.com/taskmodel/taskmodel/tools/taskgen/internal/spec"
)

// python is the interpreter the generated modules are checked with.
const python = "/usr/bin/python3"

// needPython skips the test, loudly, when python3 is missing, or fails it
// under CI=true.
func needPython(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(python); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s: %v (CI=true: this test never skips)", python, err)
		}
		t.Skipf("\n\n*** SKIPPING THE PYTHON CHECK OF THE GENERATED MODULES: %s is missing ***\n", python)
	}
}

// TestPythonModules compiles every generated Python module (the golden
// cases, the repository's specs and the example service's) with
// py_compile, then imports each (which runs its class bodies: enums,
// dataclasses), checks the package's MODELS and round-trips a render job
// through from_json and to_json.
func TestPythonModules(t *testing.T) {
	needPython(t)
	var models []*spec.Model
	cases, _ := filepath.Glob("testdata/golden/*/spec.yaml")
	for _, c := range cases {
		m, err := spec.LoadFile(c)
		if err != nil {
			t.Fatal(err)
		}
		models = append(models, m)
	}
	repo, err := spec.LoadDir("../../../../schema")
	if err != nil {
		t.Fatal(err)
	}
	if len(repo) == 0 {
		t.Fatal("no specs in the repository's schema directory")
	}
	dir := t.TempDir()
	pkg := filepath.Join(dir, "models")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		p := filepath.Join(pkg, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// The repository's models form one package, as make gen writes it; the
	// golden cases are modules of their own beside it.
	args := []string{"-m", "py_compile", write("__init__.py", gen.PythonInit(repo))}
	var imports []string // modules the script imports besides the package
	for _, m := range repo {
		args = append(args, write(gen.PythonModule(m)+".py", gen.Python(m)))
	}
	// The example service's specs, as modules of their own too.
	examples, err := spec.LoadDir("../../../../examples/service/tasks")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range examples {
		args = append(args, write("example_"+gen.PythonModule(m)+".py", gen.Python(m)))
		imports = append(imports, "example_"+gen.PythonModule(m))
	}
	for i, m := range models {
		name := "golden_" + filepath.Base(filepath.Dir(cases[i]))
		files, err := gen.Generate(m, gen.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if string(files[gen.PythonFile]) != string(gen.Python(m)) {
			t.Errorf("%s: Python differs from Generate's %s", cases[i], gen.PythonFile)
		}
		args = append(args, write(name+".py", files[gen.PythonFile]))
		imports = append(imports, name)
	}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(python, args...)
		cmd.Dir = dir
		// Byte code goes to the temporary directory, not beside the sources.
		cmd.Env = append(os.Environ(), "PYTHONPYCACHEPREFIX="+filepath.Join(dir, "cache"), "PYTHONDONTWRITEBYTECODE=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("python3 %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	run(args...)
	script := `
import importlib, sys
from models import MODELS
for name in sys.argv[1:]:
    importlib.import_module("models." + name)
for task_type, mod in MODELS.items():
    assert mod.TASK_TYPE == task_type, (task_type, mod.TASK_TYPE)
    assert mod.INITIAL_STATUS in mod.STATUSES
    for s in mod.TERMINAL_STATUSES:
        assert mod.is_terminal(s) and mod.is_terminal(s.value)
    assert not mod.is_terminal(mod.INITIAL_STATUS)
rj = importlib.import_module("models.golden_renderjob")
assert rj.Status.IN_REVIEW == "in-review" and str(rj.Status.IN_REVIEW) == "in-review"
assert rj.TRANSITIONS[rj.Event.REJECT] == ((rj.Status.IN_REVIEW,), rj.Status.RENDERING)
assert rj.POLL_INTERVALS[rj.Status.RENDERING] == 1.5
job = {
    "id": "0b4f6c1e-8f0e-4a4e-9a52-1d7b0e0f5a10", "status": "in-review", "version": 3,
    "created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:06Z",
    "title": "t", "owner_id": "0b4f6c1e-8f0e-4a4e-9a52-1d7b0e0f5a11", "parent_job_id": None,
    "priority": 1, "quality": 0.5, "resolution_scale": 1.0, "frame_time": 1000000, "hdr": True,
    "deadline": None, "tags": ["a"], "codecs": ["av1", "H264"], "settings": {"k": [1]},
    "output": {"uri": "s3://x", "codec": "av1", "frames": [{"first": 0, "last": 9, "node": "n1"}], "previous": None},
    "error_code": "NODE_LOST", "message": None, "last_status": "PENDING",
    "requested_at": "2026-01-02T03:04:05Z", "progress": 95, "submitted_by": None,
    "started_at": None, "paused_at": None, "finished_at": None,
}
got = rj.Job.from_json(dict(job, task_id=job["id"], task_type="render_job"))
assert got.status is rj.Status.IN_REVIEW and got.codecs == [rj.Codec.AV1, rj.Codec.H264]
assert got.output.frames[0].node == "n1" and got.error_code is rj.ErrorCode.NODE_LOST
assert got.to_json() == job, got.to_json()
`
	run(append([]string{"-c", script}, imports...)...)
}
