package dashboard_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/taskmodel/taskmodel/gen/analysis"
)

// chromium is the browser of the end-to-end tests (Debian's package).
const chromium = "/usr/bin/chromium"

// screenshots: with TASKMODEL_SCREENSHOTS=1 the browser tests write their
// screenshots into docs/ (make screenshots); otherwise they take none, so
// that test runs leave the tree as it was.
var screenshots = os.Getenv("TASKMODEL_SCREENSHOTS") == "1"

// browser starts headless Chromium with a fresh profile for the test. It
// skips, loudly, when Chromium is missing, except under CI=true, where it
// fails (.ci/run installs it).
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing (CI=true: browser tests never skip; .ci/run installs chromium)", chromium)
		}
		t.Skipf("\n\n*** SKIPPING BROWSER TEST: %s is missing ***\n*** apt-get install chromium to run it ***\n", chromium)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(chromium),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", chromium, err)
	}
	return bctx
}

// tab opens a tab in a browser context of its own: its own cookies, as
// another browser would have.
func tab(t *testing.T, bctx context.Context) context.Context {
	t.Helper()
	ctx, cancel := chromedp.NewContext(bctx, chromedp.WithNewBrowserContext())
	ctx, cancelTimeout := context.WithTimeout(ctx, 4*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancel() })
	return ctx
}

func run(t *testing.T, ctx context.Context, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("browser: %v\n%s", err, pageText(ctx))
	}
}

// waitJS waits until the JavaScript expression is true, across the
// navigations it may wait for.
func waitJS(t *testing.T, ctx context.Context, expr string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second) // generous: make test runs packages side by side under -race
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		if err == nil && ok {
			return
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			t.Fatalf("waiting for %s: %v\n%s", expr, err, pageText(ctx))
		}
		time.Sleep(25 * time.Millisecond)
	}
}

func js[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// pageText is the page's URL and text, for failure messages.
func pageText(ctx context.Context) string {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + (document.body ? document.body.innerText : "")`))
	if err != nil {
		return "(no page: " + err.Error() + ")"
	}
	return s
}

// shot saves a screenshot of the whole page as docs/name when screenshots
// are on.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if !screenshots {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join("..", "..", "docs", name), png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote docs/%s", name)
}

// signInBrowser signs the tab in as user through the sign-in page.
func signInBrowser(t *testing.T, ctx context.Context, e *env, user string, shotName string) {
	t.Helper()
	run(t, ctx, chromedp.Navigate(e.url+"/"))
	waitJS(t, ctx, `location.pathname === "/ui/sign-in" && !!document.getElementById("token")`)
	if shotName != "" {
		shot(t, ctx, shotName)
	}
	run(t, ctx, chromedp.SendKeys(chromedp.ID("token"), e.tokens[user]), chromedp.Click(chromedp.ID("sign-in")))
	waitJS(t, ctx, fmt.Sprintf(`location.pathname === "/" && document.getElementById("user") && document.getElementById("user").textContent === %q`, user))
}

// TestBrowser drives the dashboard in headless Chromium over SQLite and
// PostgreSQL: sign in, filter (the URL follows), live updates of the list
// and of a task a worker runs, cancel from the page, another user's task
// refused, a model's diagram counting tasks live as they move; on SQLite also the keyboard alone and the phone layout in dark
// mode.
func TestBrowser(t *testing.T) {
	bctx := browser(t)
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			e := newEnv(t, envOptions{backend: backend, agentTime: 300 * time.Millisecond})
			shots := backend == "sqlite"
			name := func(n string) string {
				if !shots {
					return ""
				}
				return n
			}
			alice := tab(t, bctx)
			t.Run("sign in and filter", func(t *testing.T) { signInAndFilter(t, e, alice, name) })
			t.Run("live list", func(t *testing.T) { liveList(t, e, alice) })
			t.Run("live task", func(t *testing.T) { liveTask(t, e, alice, name) })
			t.Run("cancel", func(t *testing.T) { cancelFromPage(t, e, alice) })
			t.Run("task deleted", func(t *testing.T) { deletedWhileOpen(t, e, alice) })
			t.Run("another user's task", func(t *testing.T) { otherUser(t, e, tab(t, bctx)) })
			t.Run("model page", func(t *testing.T) { modelPage(t, e, tab(t, bctx), name) })
			if backend == "sqlite" { // the layout does not depend on the database
				t.Run("keyboard", func(t *testing.T) { keyboard(t, e, alice) })
				t.Run("phone dark", func(t *testing.T) { phoneDark(t, e, tab(t, bctx)) })
			}
		})
	}
}

func signInAndFilter(t *testing.T, e *env, ctx context.Context, name func(string) string) {
	// A few tasks of several types and statuses.
	done := e.analysis("alice", "unified-profiler", "score-risk")
	e.process("alice", done)
	failed := e.analysis("alice", "unified-profiler", "fail-on-purpose")
	e.process("alice", failed)
	e.create("alice", "evaluation", map[string]any{"tag": "exp-2", "model_name": "small-7b", "benchmark": "mmlu"})
	training := e.create("alice", "training", map[string]any{"tag": "exp-1", "base_model": "small-7b", "epochs": 3})
	e.create("alice", "synthesis", map[string]any{"tag": "exp-1", "num_samples": 1000})
	e.analysis("alice", "unified-profiler")
	bobs := e.analysis("bob", "unified-profiler")
	e.waitStatus("alice", done, "COMPLETED")
	e.waitStatus("alice", failed, "FAILED")

	signInBrowser(t, ctx, e, "alice", name("dashboard-sign-in.png"))
	waitJS(t, ctx, `document.getElementById("live").dataset.state === "open"`)
	if n := js[int](t, ctx, `document.querySelectorAll("tbody tr").length`); n != 6 {
		t.Fatalf("alice's list has %d rows, want 6\n%s", n, pageText(ctx))
	}
	if js[bool](t, ctx, fmt.Sprintf(`!!document.querySelector('tr[data-id=%q]')`, bobs)) {
		t.Fatal("alice's list shows bob's task")
	}
	// Each status with its spec display: the analysis model's labels.
	for _, st := range []analysis.Status{analysis.StatusCompleted, analysis.StatusFailed, analysis.StatusCreated} {
		status, label := string(st), st.Display().Label
		got := js[string](t, ctx, fmt.Sprintf(`(document.querySelector('tbody .badge[data-status=%q]') || {}).textContent || ""`, status))
		if !strings.Contains(got, label) {
			t.Errorf("badge of %s: %q, want the label %q", status, got, label)
		}
	}
	shot(t, ctx, name("dashboard-tasks.png"))

	// Filter by status: the URL follows, and every row has the code.
	run(t, ctx, chromedp.Click(chromedp.CSS(`input[name=status][value=Q]`)), chromedp.Click(chromedp.ID("apply")))
	waitJS(t, ctx, `location.search === "?status=Q" && document.querySelectorAll("tbody tr").length > 0`)
	if bad := js[int](t, ctx, `[...document.querySelectorAll("tbody tr")].filter(r => r.dataset.code !== "Q").length`); bad != 0 {
		t.Errorf("%d rows of another status under status=Q", bad)
	}
	if !js[bool](t, ctx, `document.querySelector('input[name=status][value=Q]').checked`) {
		t.Error("the status box is not checked after filtering")
	}
	run(t, ctx, chromedp.Click(chromedp.CSS(`input[name=task_type][value=training]`)), chromedp.Click(chromedp.ID("apply")))
	waitJS(t, ctx, `location.search === "?status=Q&task_type=training" && document.readyState === "complete"`)
	if ids := js[[]string](t, ctx, `[...document.querySelectorAll("tbody tr")].map(r => r.dataset.id)`); len(ids) != 1 || ids[0] != training {
		t.Errorf("status=Q&task_type=training lists %v, want [%s]", ids, training)
	}
	// By tag, from a fresh page.
	run(t, ctx, chromedp.Navigate(e.url+"/"))
	run(t, ctx, chromedp.SendKeys(chromedp.CSS(`input[name=tag]`), "exp-1"), chromedp.Click(chromedp.ID("apply")))
	// The new page, loaded: its tag field holds the filter (the old page's
	// rows are gone once the URL changes only when the new page is in).
	waitJS(t, ctx, `location.search === "?tag=exp-1" && document.readyState === "complete" && (document.querySelector('input[name=tag]') || {}).value === "exp-1"`)
	if n := js[int](t, ctx, `document.querySelectorAll("tbody tr").length`); n != 2 {
		t.Errorf("tag=exp-1 lists %d tasks, want 2", n)
	}
	// A shared URL reopens the same filter; a bad one says what is wrong.
	run(t, ctx, chromedp.Navigate(e.url+"/?status=D&within_hours=24"))
	waitJS(t, ctx, `document.querySelectorAll("tbody tr").length === 1 && document.querySelector('select[name=within_hours]').value === "24"`)
	run(t, ctx, chromedp.Navigate(e.url+"/?status=Z"))
	waitJS(t, ctx, `!!document.getElementById("problem")`)
	if msg := js[string](t, ctx, `document.getElementById("problem").textContent`); !strings.Contains(msg, `unknown status code "Z"; allowed: Q, R, D, F, C`) {
		t.Errorf("bad filter message: %q", msg)
	}
}

func liveList(t *testing.T, e *env, ctx context.Context) {
	run(t, ctx, chromedp.Navigate(e.url+"/"))
	waitJS(t, ctx, `document.getElementById("live").dataset.state === "open"`)
	run(t, ctx, chromedp.Evaluate[chromedp.Void](`window.stayed = true`))
	id := e.analysis("alice", "unified-profiler", "score-risk")
	waitJS(t, ctx, fmt.Sprintf(`!!document.querySelector('tr[data-id=%q]')`, id))
	e.process("alice", id)
	waitJS(t, ctx, fmt.Sprintf(`(document.querySelector('tr[data-id=%q]') || {dataset: {}}).dataset.code === "D"`, id))
	if !js[bool](t, ctx, `window.stayed === true`) {
		t.Error("the page reloaded")
	}
}

func liveTask(t *testing.T, e *env, ctx context.Context, name func(string) string) {
	id := e.analysis("alice", "unified-profiler", "score-risk", "data-quality", "drift-check", "summary")
	run(t, ctx, chromedp.Navigate(e.url+"/ui/tasks/"+id))
	waitJS(t, ctx, `document.getElementById("live").dataset.state === "open"`)
	run(t, ctx, chromedp.Evaluate[chromedp.Void](`window.stayed = true`))
	e.process("alice", id)
	waitJS(t, ctx, `document.querySelector('.task-head .badge').dataset.status === "PROCESSING" && document.getElementById("progress").value > 15`)
	detail := js[string](t, ctx, `document.querySelector(".detail").textContent`)
	if !strings.Contains(detail, "current_agent") || !strings.Contains(detail, "agents_completed") {
		t.Errorf("progress_detail while processing: %q", detail)
	}
	shot(t, ctx, name("dashboard-task.png"))
	waitJS(t, ctx, `document.querySelector('.task-head .badge').dataset.status === "COMPLETED"`)
	if !js[bool](t, ctx, `window.stayed === true`) {
		t.Error("the page reloaded")
	}
	timeline := js[string](t, ctx, `document.getElementById("timeline").innerText`)
	for _, want := range []string{"created", "request_upload_urls", "verify_uploads", "start", "complete", "user:alice", "in this status"} {
		if !strings.Contains(timeline, want) {
			t.Errorf("timeline lacks %q:\n%s", want, timeline)
		}
	}
	if js[bool](t, ctx, `!!document.getElementById("cancel")`) {
		t.Error("a completed task offers Cancel")
	}
	if v := js[int](t, ctx, `document.getElementById("progress").value`); v != 100 {
		t.Errorf("progress %d after completion", v)
	}
}

func cancelFromPage(t *testing.T, e *env, ctx context.Context) {
	agents := make([]string, 50) // the most an analysis task may have
	for i := range agents {
		agents[i] = fmt.Sprintf("agent-%d", i)
	}
	id := e.analysis("alice", agents...)
	run(t, ctx, chromedp.Navigate(e.url+"/ui/tasks/"+id))
	waitJS(t, ctx, `document.getElementById("live").dataset.state === "open"`)
	if js[bool](t, ctx, `!!document.getElementById("cancel")`) {
		t.Error("Cancel is offered in CREATED, which the transition table does not allow")
	}
	e.process("alice", id)
	waitJS(t, ctx, `!!document.getElementById("cancel")`)
	// Clicked from the page's script in one step: the live updates redraw
	// the button at every agent, and a mouse click aimed at the one just
	// found may land on its replacement, or nowhere.
	run(t, ctx, chromedp.Evaluate[chromedp.Void](`document.getElementById("cancel").click()`))
	waitJS(t, ctx, `location.search === "?done=cancelled" && document.querySelector('.task-head .badge').dataset.status === "CANCELLED"`)
	if msg := js[string](t, ctx, `document.querySelector(".notice").textContent`); msg != "The task was cancelled." {
		t.Errorf("notice %q", msg)
	}
	if tl := js[string](t, ctx, `document.getElementById("timeline").innerText`); !strings.Contains(tl, "cancel") || !strings.Contains(tl, "dashboard: cancel") {
		t.Errorf("timeline lacks the cancel:\n%s", tl)
	}
	e.waitStatus("alice", id, "CANCELLED")
}

// deletedWhileOpen: a task deleted while its page follows it stops the
// live updates and shows the server's problem, rather than a page that
// still says "Live".
func deletedWhileOpen(t *testing.T, e *env, ctx context.Context) {
	id := e.analysis("alice", "unified-profiler")
	run(t, ctx, chromedp.Navigate(e.url+"/ui/tasks/"+id))
	waitJS(t, ctx, `document.getElementById("live").dataset.state === "open"`)
	e.exec(`DELETE FROM analysis_history WHERE task_id = $1`, id)
	e.exec(`DELETE FROM analysis WHERE id = $1`, id)
	waitJS(t, ctx, `!!document.getElementById("problem") && !document.querySelector('#live[data-state="open"]')`)
	if msg := js[string](t, ctx, `document.getElementById("problem").textContent`); !strings.Contains(msg, "no such task") {
		t.Errorf("the page says %q, want that the task is gone", msg)
	}
}

func otherUser(t *testing.T, e *env, ctx context.Context) {
	id := e.analysis("alice", "unified-profiler")
	signInBrowser(t, ctx, e, "bob", "")
	if js[bool](t, ctx, fmt.Sprintf(`!!document.querySelector('tr[data-id=%q]')`, id)) {
		t.Error("bob's list shows alice's task")
	}
	run(t, ctx, chromedp.Navigate(e.url+"/ui/tasks/"+id))
	waitJS(t, ctx, `!!document.getElementById("problem")`)
	if got := js[string](t, ctx, `document.querySelector("h1").textContent + ": " + document.getElementById("problem").textContent`); got != "Not found: no such task" {
		t.Errorf("bob opening alice's task: %q", got)
	}
}

// keyboard: the skip link comes first, and filtering works with Tab,
// Space and Enter alone.
func keyboard(t *testing.T, e *env, ctx context.Context) {
	run(t, ctx, chromedp.Navigate(e.url+"/"))
	waitJS(t, ctx, `document.readyState === "complete"`)
	run(t, ctx, chromedp.KeyEvent("\t"))
	if !js[bool](t, ctx, `document.activeElement.classList.contains("skip")`) {
		t.Fatalf("the first Tab focuses %s, not the skip link", js[string](t, ctx, `document.activeElement.outerHTML`))
	}
	run(t, ctx, chromedp.KeyEvent("\r"))
	waitJS(t, ctx, `location.hash === "#main"`)
	tabTo := func(sel string) {
		t.Helper()
		for range 60 {
			if js[bool](t, ctx, fmt.Sprintf(`document.activeElement.matches(%q)`, sel)) {
				return
			}
			run(t, ctx, chromedp.KeyEvent("\t"))
		}
		t.Fatalf("Tab never reaches %s", sel)
	}
	tabTo(`input[name=status][value=F]`)
	run(t, ctx, chromedp.KeyEvent(" "))
	tabTo(`#apply`)
	run(t, ctx, chromedp.KeyEvent("\r"))
	waitJS(t, ctx, `location.search === "?status=F"`)
	if bad := js[int](t, ctx, `[...document.querySelectorAll("tbody tr")].filter(r => r.dataset.code !== "F").length`); bad != 0 {
		t.Errorf("%d rows of another status under status=F", bad)
	}
	tabTo(`tbody a`)
	run(t, ctx, chromedp.KeyEvent("\r"))
	waitJS(t, ctx, `location.pathname.startsWith("/ui/tasks/") && !!document.getElementById("timeline")`)
	if code := js[string](t, ctx, `document.querySelector("#error code").textContent`); code != "AGENT_ERROR" {
		t.Errorf("the failed task's error code: %q", code)
	}
}

// phoneDark: the tasks and task pages at phone width in dark mode, with
// no horizontal scrolling of the page.
func phoneDark(t *testing.T, e *env, ctx context.Context) {
	signInBrowser(t, ctx, e, "alice", "")
	run(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
			return err
		}),
		chromedp.Navigate(e.url+"/"))
	waitJS(t, ctx, `document.getElementById("live").dataset.state === "open"`)
	if !js[bool](t, ctx, `matchMedia("(prefers-color-scheme: dark)").matches && getComputedStyle(document.body).backgroundColor === "rgb(13, 17, 23)"`) {
		t.Error("dark mode is not applied")
	}
	if over := js[bool](t, ctx, `document.documentElement.scrollWidth > window.innerWidth + 1`); over {
		t.Error("the tasks page scrolls sideways on a phone")
	}
	shot(t, ctx, "dashboard-phone-dark.png")
	_ = base64.StdEncoding
}

// modelPage: the model page's diagram counts the user's tasks by status
// and follows them live, without reloading, as a task is created and a
// worker runs it.
func modelPage(t *testing.T, e *env, ctx context.Context, name func(string) string) {
	e.analysis("alice", "unified-profiler")
	signInBrowser(t, ctx, e, "alice", "")
	waitJS(t, ctx, `!!document.querySelector('a.type[href="/ui/models/analysis"]')`)
	run(t, ctx, chromedp.Click(chromedp.CSS(`a.type[href="/ui/models/analysis"]`)))
	waitJS(t, ctx, `location.pathname === "/ui/models/analysis" && document.getElementById("live").dataset.state === "open"`)
	run(t, ctx, chromedp.Evaluate[chromedp.Void](`window.stayed = true`))
	countOf := func(status string) string {
		return fmt.Sprintf(`Number(document.querySelector('#diagram .node[data-status=%q]').dataset.count)`, status)
	}
	created := js[int](t, ctx, countOf("CREATED"))
	completed := js[int](t, ctx, countOf("COMPLETED"))
	movesOf := func(from, to string) string {
		return fmt.Sprintf(`Number(document.querySelector('#diagram .edge[data-from=%q][data-to=%q]').dataset.moves)`, from, to)
	}
	done := js[int](t, ctx, movesOf("PROCESSING", "COMPLETED"))
	if n := js[int](t, ctx, `document.querySelectorAll("#diagram .edge").length`); n < 8 {
		t.Errorf("the diagram has %d arrows", n)
	}
	agents := make([]string, 20) // 6 s of work at 300 ms an agent: time to see it run
	for i := range agents {
		agents[i] = fmt.Sprintf("agent-%d", i)
	}
	id := e.analysis("alice", agents...)
	waitJS(t, ctx, fmt.Sprintf(`%s === %d`, countOf("CREATED"), created+1))
	e.process("alice", id)
	waitJS(t, ctx, fmt.Sprintf(`%s === %d && %s >= 1 && !!document.querySelector('#leases tr[data-id=%q]')`, countOf("CREATED"), created, countOf("PROCESSING"), id))
	if owner := js[string](t, ctx, fmt.Sprintf(`document.querySelector('#leases tr[data-id=%q] td:nth-child(2)').textContent`, id)); owner == "" || owner == "—" {
		t.Errorf("the running task's lease owner: %q", owner)
	}
	shot(t, ctx, name("dashboard-model.png"))
	waitJS(t, ctx, fmt.Sprintf(`%s === %d && %s === %d`, countOf("COMPLETED"), completed+1, movesOf("PROCESSING", "COMPLETED"), done+1))
	if !js[bool](t, ctx, `window.stayed === true`) {
		t.Error("the page reloaded")
	}
	// Another window: its link keeps it in the URL, and the live redraw
	// keeps it too.
	run(t, ctx, chromedp.Click(chromedp.CSS(`nav.windows a[href$="window=15m"]`)))
	waitJS(t, ctx, `location.search === "?window=15m" && document.getElementById("model-view").dataset.window === "15m" && document.getElementById("live").dataset.state === "open"`)
	before := js[int](t, ctx, `Number(document.getElementById("moves-total").textContent)`)
	e.analysis("alice", "a")
	waitJS(t, ctx, fmt.Sprintf(`Number(document.getElementById("moves-total").textContent) === %d && document.getElementById("model-view").dataset.window === "15m"`, before+1))
}
