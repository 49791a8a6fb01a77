package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/taskmodel/taskmodel/sdk/workerhttp"
	"github.com/taskmodel/taskmodel/server"
)

// Environment of taskmodel work and of the commands it runs.
const (
	EnvURL        = "TASKMODEL_URL"
	EnvToken      = "TASKMODEL_TOKEN"
	EnvTask       = "TASKMODEL_TASK"
	EnvTaskFile   = "TASKMODEL_TASK_FILE"
	EnvTaskID     = "TASKMODEL_TASK_ID"
	EnvTaskType   = "TASKMODEL_TASK_TYPE"
	EnvLease      = "TASKMODEL_LEASE"
	EnvResultFile = "TASKMODEL_RESULT_FILE"
	EnvErrorFile  = "TASKMODEL_ERROR_FILE"
	// EnvTraceparent is the task's W3C trace context, by the name
	// OpenTelemetry's environment carriers read.
	EnvTraceparent = "TRACEPARENT"
)

// workFlags are taskmodel work's options.
type workFlags struct {
	models      []string
	concurrency int
	url, token  string
	name        string
	grace       time.Duration
	wait        int
}

func newWorkCmd(app *App) *cobra.Command {
	var f workFlags
	cmd := &cobra.Command{
		Use:   "work --model MODEL [--concurrency N] [--url URL] [--token TOKEN] -- COMMAND [ARG...]",
		Short: "Run a command for each task of a model that taskmodel serve hands out (a worker in any language)",
		Long: `work claims the queued tasks of a model from taskmodel serve, over HTTP (it
may run on another machine), and runs COMMAND once per task, at most
--concurrency at once. The command gets the task in its environment:

  TASKMODEL_TASK         the task as JSON (as GET /tasks/{id} returns it; unset over 64 KiB)
  TASKMODEL_TASK_FILE    a file holding the same JSON
  TASKMODEL_TASK_ID      the task's id;  TASKMODEL_TASK_TYPE  its model
  TASKMODEL_LEASE        the lease work holds on the task
  TASKMODEL_URL, TASKMODEL_TOKEN   the server and the worker token
  TASKMODEL_RESULT_FILE  where the command may write a JSON object of result fields
  TASKMODEL_ERROR_FILE   where it may write {"error_code": "...", "message": "..."}
  TRACEPARENT            the task's W3C trace context, when the server traces

work renews the task's lease while the command runs, and reports
"taskmodel progress PERCENT" calls made from inside the command. Exit status 0
completes the task (with the result file's fields); any other fails it, with
the error file's code when the model knows it, else the model's own code for
failures without one, and the error file's message or the exit status and the
end of the command's standard error. A task cancelled while its command runs
sends the command SIGTERM, then SIGKILL after --grace.

The server and token come from --url and --token, or TASKMODEL_URL and
TASKMODEL_TOKEN; the token must be a worker token for the model
(taskmodel token create --worker --models MODEL); prefer TASKMODEL_TOKEN (ps
shows arguments). On SIGINT or SIGTERM work
stops claiming, gives back the tasks it claimed but has not started, sends
its commands SIGTERM (SIGKILL after --grace) and exits; their tasks go back
to the queue when their leases expire. On Linux a SIGKILL of work kills
the commands it started too, but not the processes they started (exec the
last command of a script).

A complete or fail the server does not answer, or answers with a 5xx, is
sent again with backoff until the task's lease expires. A failure's
message has NUL characters replaced with U+FFFD and is cut in the middle
to the server's 100,000 bytes (the model cuts it to its error field's
length the same way, keeping its start and its last lines); one the
server still refuses is replaced by a message saying so.

work checks COMMAND before it claims anything (exit status 2 when it does
not exist or is not executable). If a command cannot start later, work
gives its task back to the queue at once (POST /worker/tasks/ID/release:
another worker may claim it, and the claim does not count as an attempt),
stops claiming, and exits 1 once the running commands end.`,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			dash := c.ArgsLenAtDash()
			if dash < 0 || len(args) == 0 || dash != 0 {
				return usagef(errors.New("work: the command to run goes after --: taskmodel work --model MODEL -- ./script.sh ARG..."))
			}
			return app.work(c.Context(), f, args)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.models, "model", nil, "the model whose tasks to run (repeatable, or comma-separated); required")
	fl.IntVar(&f.concurrency, "concurrency", 1, "how many commands run at once (1 to 100)")
	fl.StringVar(&f.url, "url", "", "the server's URL (default $"+EnvURL+", else http://127.0.0.1:8080)")
	fl.StringVar(&f.token, "token", "", "a worker token (default $"+EnvToken+")")
	fl.StringVar(&f.name, "worker", "", "this worker's name in the tasks' history (default HOST-PID)")
	fl.DurationVar(&f.grace, "grace", 10*time.Second, "how long a cancelled task's command has after SIGTERM before SIGKILL")
	fl.IntVar(&f.wait, "wait", 30, "seconds each claim waits on the server for a task (1 to 30)")
	return cmd
}

// check resolves the environment's defaults and refuses flag values work
// cannot run with, naming the flag.
func (f *workFlags) check() error {
	if len(f.models) == 0 {
		return usagef(errors.New("work: --model MODEL is required (a model with a worker section, such as training)"))
	}
	// The server says which models it has; what is wrong in the list
	// itself is said here.
	for i, m := range f.models {
		if m == "" {
			return usagef(fmt.Errorf("work: --model names an empty model in %q (separate names with single commas)", strings.Join(f.models, ",")))
		}
		if slices.Contains(f.models[:i], m) {
			return usagef(fmt.Errorf("work: --model names %q twice", m))
		}
	}
	if f.concurrency < 1 || f.concurrency > 100 {
		return usagef(fmt.Errorf("work: --concurrency must be 1 to 100, not %d", f.concurrency))
	}
	if f.wait < 1 || f.wait > 30 {
		return usagef(fmt.Errorf("work: --wait must be 1 to 30 seconds, not %d", f.wait))
	}
	if f.grace <= 0 {
		return usagef(fmt.Errorf("work: --grace must be a positive duration such as 10s, not %s", f.grace))
	}
	if f.name != "" {
		// The server's own rule for a claim's worker name.
		if err := server.CheckWorkerName(f.name); err != nil {
			return usagef(fmt.Errorf("work: --worker %v, not %q", err, f.name))
		}
	}
	f.url, f.token = serverFromEnv(f.url, f.token)
	if f.token == "" {
		return usagef(errors.New("work: a worker token is required: --token TOKEN or " + EnvToken + " (taskmodel token create --worker --models MODEL)"))
	}
	if f.name == "" {
		host, _ := os.Hostname()
		f.name = fmt.Sprintf("%s-%d", sanitizeName(host), os.Getpid())
	}
	return nil
}

// sanitizeName keeps the characters a worker name allows.
func sanitizeName(s string) string {
	var b strings.Builder
	for _, c := range s {
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("._-", c) {
			b.WriteRune(c)
		}
	}
	if b.Len() == 0 {
		return "worker"
	}
	return b.String()[:min(b.Len(), 80)]
}

func (a *App) work(ctx context.Context, f workFlags, command []string) error {
	if err := f.check(); err != nil {
		return err
	}
	client, err := workerhttp.New(f.url, f.token)
	if err != nil {
		return usagef(fmt.Errorf("work: %w", err))
	}
	if err := checkCommand(command[0]); err != nil {
		return err
	}
	r := &workRunner{app: a, client: client, f: f, command: command}
	return r.run(ctx)
}

// workRunner is one taskmodel work.
type workRunner struct {
	app     *App
	client  *workerhttp.Client
	f       workFlags
	command []string
	mu      sync.Mutex // serializes lines on standard error

	// stopClaims ends the claiming when a command could not run;
	// startErr says why (set once, under stopOnce), and keptTasks counts
	// the tasks that could not be given back (under mu).
	stopClaims context.CancelFunc
	stopOnce   sync.Once
	startErr   error
	keptTasks  int
}

// cannotRun stops the claiming after work could not run a task's command
// (it could not start, or work could not make the task's temporary
// directory or file): the task is not failed (the machine, not the task,
// is at fault) but released, so that another worker can run it at once,
// without its claim counting as an attempt; the other running commands
// finish. why says what went wrong.
func (r *workRunner) cannotRun(t workerhttp.Task, why string) {
	r.note("task %s: %s; work stops claiming", t.ID, why)
	gaveBack := r.release(t, why)
	r.stopOnce.Do(func() {
		r.startErr = fmt.Errorf("work: %s; work stopped claiming", why)
		r.stopClaims()
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if !gaveBack {
		r.keptTasks++
	}
}

// errTokenRefused ends work when the server refused its token while a
// command ran (stopRefused).
var errTokenRefused = errors.New("work: the server refused work's token (revoked, or no longer allowed the model); work stopped claiming")

// stopError is the error work returns after cannotRun: its reason, and
// what became of the tasks it could not run.
func (r *workRunner) stopError() error {
	if r.startErr == nil || r.startErr == errTokenRefused {
		return r.startErr
	}
	if r.keptTasks == 0 {
		return fmt.Errorf("%w, and gave back the tasks it could not run", r.startErr)
	}
	return fmt.Errorf("%w; %s could not be given back (the model has no requeue event, or the server did not answer): each is rescued when its lease expires, queued again while it has attempts left and failed otherwise", r.startErr, plural(r.keptTasks, "task"))
}

// releaseTimeout bounds the release of a task.
const releaseTimeout = 10 * time.Second

// release gives back a task work claimed and did not start (POST
// /worker/tasks/{id}/release): it goes back to the queue at once, and the
// claim is not counted as an attempt. When the server refuses (a model
// without a requeue event) or does not answer, the task goes back to the
// queue when its lease expires, which counts the attempt.
func (r *workRunner) release(t workerhttp.Task, reason string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), releaseTimeout)
	defer cancel()
	if _, err := r.client.Release(ctx, t.ID, t.Lease, reason); err != nil {
		r.note("task %s: giving it back failed (%v); it is rescued when its lease expires: queued again while it has attempts left, failed otherwise", t.ID, err)
		return false
	}
	r.note("task %s: given back to the queue (%s)", t.ID, reason)
	return true
}

// note prints a tracking line on standard error unless -q.
func (r *workRunner) note(format string, args ...any) {
	if r.app.Quiet {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	fmt.Fprintf(r.app.Err, "taskmodel work: "+format+"\n", args...)
}

func (r *workRunner) run(ctx context.Context) error {
	claimCtx, stopClaims := context.WithCancel(ctx)
	defer stopClaims()
	r.stopClaims = stopClaims
	slots := make(chan struct{}, r.f.concurrency)
	var wg sync.WaitGroup
	defer wg.Wait() // also when the claim is refused
	r.note("claiming %s tasks from %s as %s (at most %d at once)", strings.Join(r.f.models, ", "), r.f.url, r.f.name, r.f.concurrency)
	var b backoff
	for claimCtx.Err() == nil {
		// Wait for a free slot, then claim as many tasks as slots are free.
		select {
		case slots <- struct{}{}:
		case <-claimCtx.Done():
			continue
		}
		free := 1
		for free < cap(slots) {
			select {
			case slots <- struct{}{}:
				free++
				continue
			default:
			}
			break
		}
		tasks, err := r.client.Claim(claimCtx, workerhttp.ClaimRequest{Models: r.f.models, Limit: free, WaitSeconds: r.f.wait, Worker: r.f.name})
		for i := len(tasks); i < free; i++ {
			<-slots
		}
		if err != nil {
			if claimCtx.Err() != nil {
				break
			}
			var p *workerhttp.Problem
			if errors.As(err, &p) && p.Status >= 400 && p.Status < 500 {
				return fmt.Errorf("work: the server refused the claim: %w", err) // a bad token or model: retrying cannot help
			}
			wait := b.wait()
			r.note("claim failed (%v); retrying in %s", err, wait)
			select {
			case <-claimCtx.Done():
			case <-time.After(wait):
			}
			continue
		}
		b.reset()
		for _, t := range tasks {
			wg.Go(func() {
				defer func() { <-slots }()
				r.runTask(ctx, t)
			})
		}
	}
	r.note("stopping: waiting for the running commands")
	wg.Wait()
	return r.stopError()
}
