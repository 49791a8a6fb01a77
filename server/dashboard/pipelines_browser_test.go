package dashboard_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/google/uuid"
)

// TestPipelinesBrowser drives the Pipelines page in headless Chromium over
// SQLite while a goroutine, as a script would, reports a run's subtasks
// through the HTTP routes: the tree follows without a reload, keeps what
// the user opened or closed and the keyboard focus, the stage filter puts
// the stage in the URL, and the page reads at phone width in dark mode.
func TestPipelinesBrowser(t *testing.T) {
	bctx := browser(t)
	e := newEnv(t, envOptions{backend: "sqlite"})
	ctx := tab(t, bctx)
	signInBrowser(t, ctx, e, "alice", "")

	e.must(200, "POST", "/pipelines/stages", "alice", `{"stages":[{"name":"PREREQ","description":"Inputs"},{"name":"STATIC","description":"Rebuilt monthly"},{"name":"DAILY"}],
	 "tasks":[{"stage":"PREREQ","name":"Fetch sources","type":"sh"},{"stage":"STATIC","name":"Build database","type":"python"},{"stage":"STATIC","name":"Build index","type":"R"},{"stage":"DAILY","name":"Report"}]}`)
	fetch := e.must(201, "POST", "/pipelines/runs", "alice", `{"stage":"PREREQ","task":"Fetch sources","host":"etl-1","pid":811}`)["id"].(string)
	e.must(200, "POST", "/pipelines/runs/"+fetch+"/complete", "alice", `{"message":"12 files fetched"}`)
	index := e.must(201, "POST", "/pipelines/runs", "alice", `{"stage":"STATIC","task":"Build index","host":"etl-2","pid":977}`)["id"].(string)
	e.must(200, "POST", "/pipelines/runs/"+index+"/fail", "alice", `{"message":"disk full","detail":"OSError: [Errno 28] No space left on device"}`)
	id := e.must(201, "POST", "/pipelines/runs", "alice", `{"stage":"STATIC","task":"Build database","total_subtasks":3,"host":"etl-1","pid":4242,"code_version":"2.3.0","git_commit":"9f1c2ab","message":"building the database"}`)["id"].(string)
	e.must(201, "POST", "/pipelines/runs/"+id+"/subtasks/1/start", "alice", `{"name":"Loading states","items_total":20}`)
	// The run's process, sampled twice (memory, then CPU between them).
	sampler := e.tracker.NewSampler(uuid.MustParse(id), 4242, &fakeProbe{})
	for range 2 {
		if _, err := sampler.Sample(context.Background()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	run(t, ctx, chromedp.Navigate(e.url+"/ui/pipelines"))
	waitJS(t, ctx, `document.getElementById("live") && document.getElementById("live").dataset.state === "open"`)
	run(t, ctx, chromedp.Evaluate[chromedp.Void](`window.stayed = true`))
	sel := fmt.Sprintf(`document.querySelector('[data-run=%q]')`, id)
	if !js[bool](t, ctx, sel+` && !!`+sel+`.closest("details").open`) {
		t.Fatal("the running task is not open")
	}
	// The user opens the run's history.
	run(t, ctx, chromedp.Evaluate[chromedp.Void](sel+`.querySelector("details.messages > summary").click()`))
	waitJS(t, ctx, sel+`.querySelector("details.messages").open`)

	// The script: twenty items of subtask 1, then subtask 2.
	script := make(chan struct{})
	go func() {
		defer close(script)
		for range 20 {
			if code, m := e.api("POST", "/pipelines/runs/"+id+"/subtasks/1/increment", "alice", `{"by":1}`); code != 200 {
				t.Errorf("increment: %d %v", code, m)
				return
			}
			time.Sleep(15 * time.Millisecond)
		}
		e.api("POST", "/pipelines/runs/"+id+"/subtasks/1/complete", "alice", `{"message":"all states loaded"}`)
		e.api("POST", "/pipelines/runs/"+id+"/subtasks/2/start", "alice", `{"name":"Indexing","items_total":400}`)
		e.api("POST", "/pipelines/runs/"+id+"/subtasks/2/update", "alice", `{"items_complete":150,"message":"table 3 of 8"}`)
		e.api("POST", "/pipelines/runs/"+id+"/update", "alice", `{"message":"indexing"}`)
	}()
	waitJS(t, ctx, sel+` && `+sel+`.querySelector('[data-subtask="2"]') && `+sel+`.querySelector('[data-subtask="1"]').dataset.status === "COMPLETED"`)
	<-script
	waitJS(t, ctx, sel+`.querySelector('[data-subtask="2"] .items') && `+sel+`.querySelector('[data-subtask="2"] .items').textContent === "150 of 400 items" && `+sel+`.querySelector(".run-message").textContent === "indexing"`)
	if !js[bool](t, ctx, `window.stayed === true`) {
		t.Fatal("the page reloaded")
	}
	if !js[bool](t, ctx, sel+`.querySelector("details.messages").open`) {
		t.Error("the history the user opened closed on an update")
	}
	if got := js[string](t, ctx, sel+`.querySelector('[data-subtask="1"] .items').textContent`); got != "20 of 20 items" {
		t.Errorf("subtask 1: %q", got)
	}
	shot(t, ctx, "dashboard-pipelines.png")

	// Keyboard: Enter on the focused task closes it; an update keeps it
	// closed and the focus on it.
	run(t, ctx, chromedp.Evaluate[chromedp.Void](sel+`.closest("details").querySelector("summary").focus()`))
	run(t, ctx, chromedp.KeyEvent("\r"))
	waitJS(t, ctx, `!`+sel+`.closest("details").open`)
	e.must(200, "POST", "/pipelines/runs/"+id+"/subtasks/2/increment", "alice", `{"by":50}`)
	waitJS(t, ctx, sel+`.querySelector('[data-subtask="2"] .items').textContent === "200 of 400 items"`)
	if js[bool](t, ctx, sel+`.closest("details").open`) {
		t.Error("the task the user closed opened again on an update")
	}
	if !js[bool](t, ctx, `document.activeElement && document.activeElement.tagName === "SUMMARY" && document.activeElement.parentElement.dataset.key === "task:STATIC/Build database"`) {
		t.Errorf("focus after an update: %s", js[string](t, ctx, `document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : "none"`))
	}

	// Filter by stage: the URL follows.
	run(t, ctx, chromedp.SetValue(chromedp.ID("stage-filter"), "PREREQ"), chromedp.Click(chromedp.ID("apply")))
	waitJS(t, ctx, `location.search === "?stage=PREREQ" && document.readyState === "complete"`)
	if got := js[string](t, ctx, `[...document.querySelectorAll("details.stage")].map(d => d.dataset.stage).join(",")`); got != "PREREQ" {
		t.Errorf("stages under ?stage=PREREQ: %q", got)
	}
	run(t, ctx, chromedp.Click(chromedp.CSS(`input[name=status][value=COMPLETED]`)), chromedp.Click(chromedp.ID("apply")))
	waitJS(t, ctx, `location.search === "?stage=PREREQ&status=COMPLETED" && document.readyState === "complete"`)
	if n := js[int](t, ctx, `document.querySelectorAll("li.ptask").length`); n != 1 {
		t.Errorf("%d tasks under ?stage=PREREQ&status=COMPLETED, want 1", n)
	}

	// Phone width, dark mode: no sideways scrolling.
	phone := tab(t, bctx)
	signInBrowser(t, phone, e, "alice", "")
	run(t, phone, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
			return err
		}),
		chromedp.Navigate(e.url+"/ui/pipelines"))
	waitJS(t, phone, `document.getElementById("live").dataset.state === "open"`)
	if over := js[bool](t, phone, `document.documentElement.scrollWidth > window.innerWidth + 1`); over {
		t.Error("the Pipelines page scrolls sideways on a phone")
	}
}

// TestPipelinesBrowserFinishedRunCloses: a running task is open and closes
// when its run finishes, through live updates, unless the user opened or
// closed it: only the user's toggles are kept, not those of the server's
// markup.
func TestPipelinesBrowserFinishedRunCloses(t *testing.T) {
	bctx := browser(t)
	e := newEnv(t, envOptions{backend: "sqlite"})
	ctx := tab(t, bctx)
	signInBrowser(t, ctx, e, "alice", "")
	e.must(200, "POST", "/pipelines/stages", "alice", `{"stages":[{"name":"DAILY"}],"tasks":[{"stage":"DAILY","name":"Untouched"},{"stage":"DAILY","name":"Reopened"},{"stage":"DAILY","name":"Closed"}]}`)
	for _, tc := range []struct {
		task string
		// clicks on the task's summary while it runs
		clicks   int
		wantOpen bool
	}{
		{"Untouched", 0, false},
		{"Reopened", 2, true}, // closed, then opened again: the user wants it open
		{"Closed", 1, false},
	} {
		t.Run(tc.task, func(t *testing.T) {
			id := e.must(201, "POST", "/pipelines/runs", "alice", fmt.Sprintf(`{"stage":"DAILY","task":%q}`, tc.task))["id"].(string)
			run(t, ctx, chromedp.Navigate(e.url+"/ui/pipelines"))
			waitJS(t, ctx, `document.getElementById("live") && document.getElementById("live").dataset.state === "open"`)
			details := fmt.Sprintf(`document.querySelector('li.ptask[data-task=%q] > details')`, tc.task)
			if !js[bool](t, ctx, details+`.open`) {
				t.Fatal("the running task is not open")
			}
			for range tc.clicks {
				run(t, ctx, chromedp.Evaluate[chromedp.Void](details+`.querySelector("summary").click()`))
			}
			// Live updates while it runs, then it finishes.
			for i := range 3 {
				e.must(200, "POST", "/pipelines/runs/"+id+"/update", "alice", fmt.Sprintf(`{"message":"step %d"}`, i))
				waitJS(t, ctx, fmt.Sprintf(`document.querySelector('[data-run=%q] .run-message') && document.querySelector('[data-run=%q] .run-message').textContent === "step %d"`, id, id, i))
			}
			e.must(200, "POST", "/pipelines/runs/"+id+"/complete", "alice", `{"message":"done"}`)
			waitJS(t, ctx, fmt.Sprintf(`document.querySelector('li.ptask[data-task=%q]').dataset.status === "COMPLETED"`, tc.task))
			if got := js[bool](t, ctx, details+`.open`); got != tc.wantOpen {
				t.Errorf("after the run finished the task is open=%v, want %v", got, tc.wantOpen)
			}
		})
	}
}
