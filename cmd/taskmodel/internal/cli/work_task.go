package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/taskmodel/taskmodel/sdk/workerhttp"
	"github.com/taskmodel/taskmodel/tasktype"
)

// stderrTail is how much of a failed command's standard error goes into the
// task's error message.
const stderrTail = 2000

// maxTaskEnv bounds the task JSON put in TASKMODEL_TASK: a larger task is
// in TASKMODEL_TASK_FILE only (Linux refuses an environment string over
// 128 KiB).
const maxTaskEnv = 64 << 10

// maxFileBytes bounds the result and error files a command writes.
const maxFileBytes = 1 << 20

// runTask runs the command on one claimed task and ends the task.
func (r *workRunner) runTask(ctx context.Context, t workerhttp.Task) {
	if ctx.Err() != nil {
		// Claimed as work was stopping: not started, given back.
		r.release(t, "taskmodel work is stopping")
		return
	}
	dir, err := os.MkdirTemp("", "taskmodel-task-")
	if err != nil {
		r.cannotRun(t, "the worker cannot make a temporary directory in "+os.TempDir()+": "+errnoText(err))
		return
	}
	defer os.RemoveAll(dir)
	taskFile := filepath.Join(dir, "task.json")
	resultFile := filepath.Join(dir, "result.json")
	errorFile := filepath.Join(dir, "error.json")
	if err := os.WriteFile(taskFile, t.Task, 0o600); err != nil {
		r.cannotRun(t, "the worker cannot write the task file: "+errnoText(err))
		return
	}
	cmd := exec.Command(r.command[0], r.command[1:]...)
	env := os.Environ()
	if len(t.Task) <= maxTaskEnv {
		env = append(env, EnvTask+"="+string(t.Task))
	}
	if t.Traceparent != "" {
		env = append(env, EnvTraceparent+"="+t.Traceparent)
	}
	cmd.Env = append(env,
		EnvTaskFile+"="+taskFile, EnvTaskID+"="+t.ID, EnvTaskType+"="+t.TaskType,
		EnvLease+"="+t.Lease, EnvURL+"="+r.client.URL, EnvToken+"="+r.client.Token,
		EnvResultFile+"="+resultFile, EnvErrorFile+"="+errorFile)
	cmd.Stdout = r.app.Out
	tail := &tailBuffer{max: stderrTail}
	cmd.Stderr = &lockedWriter{w: r.app.Err, mu: &r.mu, also: tail}
	// A process the command leaves in the background keeps its standard
	// error open: Wait does not wait for it past pipeGrace.
	cmd.WaitDelay = pipeGrace
	newProcessGroup(cmd)
	r.note("task %s (%s): running %s", t.ID, t.TaskType, strings.Join(r.command, " "))
	if err := startCommand(cmd); err != nil {
		// The command, not the task, is at fault: the task is not failed.
		r.cannotRun(t, "the command could not start: "+startProblem(r.command[0], err))
		return
	}
	done := make(chan struct{})
	var stopped stopReason
	until := t.LeaseExpiresAt // the lease's expiry, as last answered
	var wg sync.WaitGroup
	wg.Go(func() { stopped = r.watch(ctx, t, cmd, done, &until) })
	err = cmd.Wait()
	if errors.Is(err, exec.ErrWaitDelay) {
		// It exited 0; a process it started still holds its standard error.
		r.note("task %s: the command exited, and a process it left running still holds its standard error; work stopped reading it", t.ID)
		err = nil
	}
	close(done)
	wg.Wait()
	switch stopped {
	case stopCancelled:
		r.note("task %s: cancelled; the command was stopped", t.ID)
		return
	case stopLost:
		r.note("task %s: the lease was lost (another worker has the task now); the command was stopped", t.ID)
		return
	case stopRefused:
		r.note("task %s: the command was stopped, as its end could not be reported; the task is rescued when its lease expires: queued again while it has attempts left, failed otherwise", t.ID)
		r.stopOnce.Do(func() {
			r.startErr = errTokenRefused
			r.stopClaims()
		})
		return
	case stopExpired:
		r.note("task %s: its lease expired at %s with no heartbeat answered since; the command was stopped, as another worker may run the task now", t.ID, until.Local().Format(time.TimeOnly))
		return
	case stopShutdown:
		r.note("task %s: stopped by the shutdown; it is rescued when its lease expires: queued again while it has attempts left, failed otherwise", t.ID)
		return
	}
	if err == nil {
		r.complete(t, until, resultFile)
		return
	}
	code, msg, problem := readErrorFile(errorFile)
	if msg == "" {
		msg = exitMessage(err, problem, tail.String())
	}
	r.fail(t, until, code, msg)
}

// stopReason tells why watch stopped a command.
type stopReason int

const (
	stopNone stopReason = iota
	stopCancelled
	stopLost
	stopExpired // by work's clock, no heartbeat answered
	stopRefused // the server refused work's token (401, 403)
	stopShutdown
)

// pipeGrace is how long work reads a command's standard error after the
// command exits: a process it left running in the background may hold it
// open for ever, and the task would stay running meanwhile.
const pipeGrace = 2 * time.Second

// watch renews the task's lease every HeartbeatSeconds until done is
// closed, and stops the command (SIGTERM, then SIGKILL after --grace) when
// the task is cancelled, the lease is lost, the lease expires by work's
// clock with no heartbeat answered (the server cannot be reached: another
// worker may claim the task), or work shuts down. It sets *until to the
// lease's expiry each heartbeat answers.
func (r *workRunner) watch(ctx context.Context, t workerhttp.Task, cmd *exec.Cmd, done <-chan struct{}, until *time.Time) stopReason {
	every := time.Duration(max(1, t.HeartbeatSeconds)) * time.Second
	tick := time.NewTicker(every)
	defer tick.Stop()
	expiry := time.NewTimer(time.Hour)
	expiry.Stop()
	defer expiry.Stop()
	var expired <-chan time.Time // nil, never ready, without an expiry
	arm := func() {
		if !until.IsZero() {
			expiry.Reset(time.Until(*until))
			expired = expiry.C
		}
	}
	arm()
	reason := stopNone
	for reason == stopNone {
		select {
		case <-done:
			return stopNone
		case <-ctx.Done():
			reason = stopShutdown
		case <-expired:
			reason = stopExpired
		case <-tick.C:
			hctx, cancel := context.WithTimeout(context.Background(), every)
			st, err := r.client.Heartbeat(hctx, t.ID, t.Lease)
			cancel()
			switch {
			case workerhttp.IsLeaseLost(err):
				reason = stopLost
			case isRefusedToken(err):
				// Revoked, or no longer allowed this model: nothing the
				// command does can be reported.
				r.note("task %s: the server refused work's token (%v)", t.ID, err)
				reason = stopRefused
			case err != nil:
				r.note("task %s: heartbeat failed (%v); retrying", t.ID, err)
			case st.Cancelled:
				reason = stopCancelled
			case st.LeaseExpiresAt != nil:
				*until = *st.LeaseExpiresAt
				arm()
			}
		}
	}
	terminate(cmd)
	select {
	case <-done:
	case <-time.After(r.f.grace):
		kill(cmd)
		<-done
	}
	return reason
}

func (r *workRunner) complete(t workerhttp.Task, until time.Time, resultFile string) {
	var result json.RawMessage
	if data, err := readSmall(resultFile); err == nil {
		if !json.Valid(data) || len(bytes.TrimSpace(data)) == 0 || bytes.TrimSpace(data)[0] != '{' {
			r.fail(t, until, "", "the command exited 0 but its result file ("+EnvResultFile+") is not a JSON object")
			return
		}
		result = data
	} else if !errors.Is(err, os.ErrNotExist) {
		r.fail(t, until, "", fmt.Sprintf("the command exited 0 but its result file could not be read: %v", err))
		return
	}
	err, gaveUp := r.endReport(t, until, "completing", func(ctx context.Context) error {
		_, err := r.client.Complete(ctx, t.ID, t.Lease, result)
		return err
	})
	switch {
	case workerhttp.HasField(err, "result"):
		r.note("task %s: the server refused the result: %v", t.ID, err)
		r.fail(t, until, "", "the command exited 0 but the server refused its result: "+err.Error())
	case isCancelledEnd(err):
		r.note("task %s: cancelled; its result is dropped", t.ID)
	case gaveUp:
	case workerhttp.IsLeaseLost(err):
		r.note("task %s: completing failed: the lease no longer holds the task (it expired and the task was rescued, or the task ended); its result is dropped: %v", t.ID, err)
	case err != nil:
		r.note("task %s: completing failed: %v", t.ID, err)
	default:
		r.note("task %s: done", t.ID)
	}
}

// fail reports a failure. The message is made text the server takes
// (reportable). A code the model does not know is dropped (the model's own
// code for failures without one is used) and said in the message; a
// message the server still refuses is replaced by one saying so, so that
// the task does not stay running.
func (r *workRunner) fail(t workerhttp.Task, until time.Time, code, msg string) {
	msg = reportable(msg)
	replaced := 0 // how many times the server refused the message
	var err error
	var gaveUp bool
	for {
		err, gaveUp = r.endReport(t, until, "failing", func(ctx context.Context) error {
			_, err := r.client.Fail(ctx, t.ID, t.Lease, code, msg)
			return err
		})
		if code != "" && workerhttp.HasField(err, "error_code") {
			r.note("task %s: the model has no error code %q; failing without it", t.ID, code)
			msg = reportable(fmt.Sprintf("[error code %s is not one of the model's] %s", code, msg))
			code = ""
			continue
		}
		if replaced < 2 && isBadRequest(err) {
			// Replaced by a message saying why, then, if that is refused
			// too (the server's reason may quote what it refused), by one
			// that does not.
			r.note("task %s: the server refused the failure (%v); failing with a message saying so", t.ID, err)
			if replaced++; replaced == 1 {
				msg = refusedMessage(err)
			} else {
				msg = refusedPlain
			}
			continue
		}
		break
	}
	switch {
	case isCancelledEnd(err):
		r.note("task %s: cancelled; the command's failure is dropped", t.ID)
	case gaveUp:
	case workerhttp.IsLeaseLost(err):
		r.note("task %s: failing failed: the lease no longer holds the task (it expired and the task was rescued, or the task ended): %v", t.ID, err)
	case err != nil:
		r.note("task %s: failing failed: %v", t.ID, err)
	default:
		r.note("task %s: failed: %s", t.ID, logSummary(msg))
	}
}

// isRefusedToken reports whether err is the server's refusal of work's
// token: 401 (unknown or revoked) or 403 (not allowed the model).
func isRefusedToken(err error) bool {
	var p *workerhttp.Problem
	return errors.As(err, &p) && (p.Status == 401 || p.Status == 403)
}

// isBadRequest reports whether err is the server's 400.
func isBadRequest(err error) bool {
	var p *workerhttp.Problem
	return errors.As(err, &p) && p.Status == 400
}

// isCancelledEnd reports whether err is the server's answer that the task
// was cancelled while its command ran (the command may end before a
// heartbeat sees the cancel): the cancel, not an error.
func isCancelledEnd(err error) bool {
	var p *workerhttp.Problem
	return errors.As(err, &p) && p.Status == 409 && p.Title == "Task cancelled"
}

// readErrorFile reads the command's error file, if it wrote one: its
// code and message, or what is wrong with it (problem), which the
// failure's message then says besides the exit status and standard error.
func readErrorFile(path string) (code, msg, problem string) {
	data, err := readSmall(path)
	switch {
	case errors.Is(err, errTooLarge):
		return "", "", fmt.Sprintf("its error file (%s) is larger than %d bytes and was not read", EnvErrorFile, maxFileBytes)
	case errors.Is(err, os.ErrNotExist):
		return "", "", ""
	case err != nil:
		return "", "", fmt.Sprintf("its error file (%s) could not be read: %v", EnvErrorFile, err)
	}
	var e struct {
		Code    string `json:"error_code"`
		Message string `json:"message"`
	}
	if json.Unmarshal(data, &e) != nil {
		return "", "", "its error file (" + EnvErrorFile + ") is not JSON like {\"error_code\": \"...\", \"message\": \"...\"}"
	}
	return e.Code, e.Message, ""
}

// errTooLarge: a result or error file over maxFileBytes.
var errTooLarge = fmt.Errorf("larger than %d bytes", maxFileBytes)

func readSmall(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(io.LimitReader(f, maxFileBytes+1)); err != nil {
		return nil, err
	}
	if b.Len() > maxFileBytes {
		return nil, fmt.Errorf("%s is %w", path, errTooLarge)
	}
	return b.Bytes(), nil
}

// exitMessage is a failed command's message: its exit status, what is
// wrong with its error file (problem, when it wrote one that could not be
// used), and the end of its standard error.
func exitMessage(err error, problem, stderr string) string {
	msg := "the command failed"
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ee.Exited() {
			msg = fmt.Sprintf("the command exited with status %d", ee.ExitCode())
		} else if sig, ok := killedBy(ee); ok {
			msg = "the command was killed by signal " + sig
		}
	}
	if problem != "" {
		msg += "; " + problem
	}
	if s := strings.TrimSpace(stderr); s != "" {
		msg += "; standard error ends with:\n" + s
	}
	return msg
}

// logSummary is a failure message as work's own log shows it, on one
// line: the message itself when it is one line; else its first line, and,
// when that line introduces the rest ("standard error ends with:"), the
// last line of the rest, quoted and cut to 200 characters, with how many
// lines there were. The server gets the whole message.
func logSummary(msg string) string {
	head, rest, ok := strings.Cut(strings.TrimRight(msg, "\n"), "\n")
	if !ok {
		return head
	}
	var lines []string
	for _, l := range strings.Split(rest, "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	switch n := len(lines); {
	case n == 0:
		return head
	case !strings.HasSuffix(head, ":"):
		return fmt.Sprintf("%s (+%s)", head, plural(n, "line"))
	case n == 1:
		return fmt.Sprintf("%s %q", head, tasktype.CutMiddle(lines[0], 200))
	default:
		return fmt.Sprintf("%s %d lines, the last %q", strings.TrimSuffix(head, ":"), n, tasktype.CutMiddle(lines[n-1], 200))
	}
}

// tailBuffer keeps the last max bytes written.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = t.b[len(t.b)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// lockedWriter writes to w under mu, and to also.
type lockedWriter struct {
	w    io.Writer
	mu   *sync.Mutex
	also *tailBuffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.also.Write(p)
	return l.w.Write(p)
}
