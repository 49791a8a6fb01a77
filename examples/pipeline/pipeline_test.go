// Package pipeline_test runs the example pipeline script end to end with a
// freshly built taskmodel binary.
package pipeline_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestExamplePipeline(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash is not installed")
	}
	bin := filepath.Join(t.TempDir(), "taskmodel")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/taskmodel").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	work := t.TempDir()
	db := filepath.Join(work, "example.db")
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + work, "TASKMODEL=" + bin, "PIPELINE_DB=" + db,
		"ITEMS=24", "WORKERS=6", "DELAY=0"}
	cmd := exec.Command("bash", "pipeline.sh")
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	t.Cleanup(func() { os.Remove("report.txt") })
	if err != nil {
		t.Fatalf("pipeline.sh: %v\n%s", err, out)
	}
	for _, want := range []string{"[TASK START] STATIC / Build Database", "[SUBTASK START] Subtask 2: Processing records", "DAILY   Report"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	status := exec.Command(bin, "status", "--json")
	status.Env = env
	js, err := status.Output()
	if err != nil {
		t.Fatal(err)
	}
	var tasks []struct {
		Task, Status string
		Run          struct {
			ID       string   `json:"id"`
			MemoryMB *float64 `json:"memory_mb"`
		}
	}
	if err := json.Unmarshal(js, &tasks); err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 3 {
		t.Fatalf("status: %s", js)
	}
	for _, x := range tasks {
		if x.Status != "COMPLETED" {
			t.Errorf("%s: %s", x.Task, x.Status)
		}
	}
	list := exec.Command(bin, "subtask", "list", tasks[1].Run.ID, "--json")
	list.Env = env
	js, err = list.Output()
	if err != nil {
		t.Fatal(err)
	}
	var subs []struct {
		ItemsComplete int64  `json:"items_complete"`
		Status        string `json:"status"`
	}
	if err := json.Unmarshal(js, &subs); err != nil || len(subs) != 3 || subs[1].ItemsComplete != 24 || subs[1].Status != "COMPLETED" {
		t.Fatalf("subtasks of Build Database: %s", js)
	}
	if tasks[1].Run.MemoryMB == nil {
		t.Errorf("the sampler recorded no memory for Build Database")
	}
}
