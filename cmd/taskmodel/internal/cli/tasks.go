package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/spf13/cobra"

	"github.com/taskmodel/taskmodel/sdk/workerhttp"
	"github.com/taskmodel/taskmodel/tasktype"
)

// tasksFlags are the tasks group's: the server and the token.
type tasksFlags struct {
	url, token string
}

// newTasksCmd is the tasks group: the API's tasks, through a running
// taskmodel serve, as a user's token sees them.
func newTasksCmd(app *App) *cobra.Command {
	var f tasksFlags
	cmd := &cobra.Command{
		Use:   "tasks",
		Short: "List, show, follow the history of and cancel the API's tasks (through taskmodel serve)",
		Long: `The tasks of taskmodel serve's models (training, analysis, …, and the
pipeline runs and subtasks), through its HTTP API, as a user's token sees
them: a user sees their own tasks, an admin every task.

The server and token come from --url and --token, or TASKMODEL_URL and
TASKMODEL_TOKEN (taskmodel token create --user NAME [--admin]).

Statuses are listed by their code: Q waiting, R running, D done, F failed,
C cancelled; --status takes a code or its word.`,
		Args: cobra.NoArgs,
	}
	fl := cmd.PersistentFlags()
	fl.StringVar(&f.url, "url", "", "the server's URL (default $"+EnvURL+", else http://127.0.0.1:8080)")
	fl.StringVar(&f.token, "token", "", "a user's token (default $"+EnvToken+")")
	// call sends a request of c to the server and decodes its answer.
	call := func(c *cobra.Command, method, path string, out any, names map[string]string) error {
		api, err := f.client()
		if err != nil {
			return err
		}
		return api.do(c.Context(), method, path, out, names)
	}
	// callTask checks the ID argument, then sends a request of c about
	// that task (path suffix: "", "/history", "/cancel"); it returns the ID.
	callTask := func(c *cobra.Command, method, arg, suffix string, out any) (string, error) {
		id, err := taskID(arg)
		if err != nil {
			return "", err
		}
		return id, call(c, method, "/tasks/"+id+suffix, out, idName)
	}

	var lf listFlags
	list := &cobra.Command{
		Use:   "list [--type TYPE]... [--status CODE]... [--tag TAG] [--within-hours N] [--limit N] [--offset N]",
		Short: "List tasks, newest first (by default those of the last hour, and every unfinished one)",
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			q, err := lf.query(c.Flags().Changed)
			if err != nil {
				return err
			}
			var raw json.RawMessage
			if err := call(c, "GET", "/tasks?"+q.Encode(), &raw, listNames); err != nil {
				return err
			}
			var rows []listedTask
			if err := json.Unmarshal(raw, &rows); err != nil {
				return notTheAPI(err)
			}
			if len(rows) == 0 && !app.JSON {
				fmt.Fprintln(app.Err, "taskmodel: no task matches"+lf.window())
			}
			return app.Print(raw, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tTYPE\tSTATUS\tTAG\tCREATED\tENDED")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", shown(r.ID), shown(r.TaskType), codeWord(r.Status), shown(str(r.Tag)), clock(&r.CreatedAt), clock(r.EndDate))
				}
				return tw.Flush()
			})
		},
	}
	lfl := list.Flags()
	lfl.StringArrayVar(&lf.types, "type", nil, "only tasks of this type (training, analysis, pipeline_run, …); repeat for several")
	lfl.StringArrayVar(&lf.statuses, "status", nil, "only tasks in this status: Q, R, D, F, C or waiting, running, done, failed, cancelled; repeat for several")
	lfl.StringVar(&lf.tag, "tag", "", "only tasks with this tag")
	lfl.IntVar(&lf.withinHours, "within-hours", 0, "how far back finished tasks are listed, in hours (default 1, the server's; unfinished ones are listed whenever they were created)")
	lfl.IntVar(&lf.limit, "limit", 0, "at most this many rows, 1 to 100 (default 20, the server's)")
	lfl.IntVar(&lf.offset, "offset", 0, "skip this many rows (the next page)")

	show := &cobra.Command{
		Use:   "show ID",
		Short: "Show a task: its status, fields, progress and error",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var task json.RawMessage
			if _, err := callTask(c, "GET", args[0], "", &task); err != nil {
				return err
			}
			return app.Print(task, func(w io.Writer) error { return printFields(w, task) })
		},
	}

	history := &cobra.Command{
		Use:   "history ID",
		Short: "List a task's status changes, oldest first, with who made each",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var raw json.RawMessage
			if _, err := callTask(c, "GET", args[0], "/history", &raw); err != nil {
				return err
			}
			var rows []historyRow
			if err := json.Unmarshal(raw, &rows); err != nil {
				return notTheAPI(err)
			}
			return app.Print(raw, func(w io.Writer) error {
				tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "AT\tEVENT\tFROM\tTO\tATTEMPT\tACTOR\tMESSAGE")
				for _, r := range rows {
					msg := "-"
					if r.Message != "" {
						msg = oneLine(r.Message, 80)
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\n", clock(&r.At), shown(str(r.Event)), shown(str(r.From)), shown(r.To), r.Attempt, shown(str(r.Actor)), shown(msg))
				}
				return tw.Flush()
			})
		},
	}

	cancel := &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a task (exit 5 when its status allows no cancel)",
		Args:  cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			var task json.RawMessage
			id, err := callTask(c, "POST", args[0], "/cancel", &task)
			if err != nil {
				return err
			}
			return app.Print(task, func(w io.Writer) error {
				var t struct {
					Status string `json:"status"`
				}
				_ = json.Unmarshal(task, &t)
				_, err := fmt.Fprintf(w, "task %s: %s\n", id, shown(t.Status))
				return err
			})
		},
	}
	cmd.AddCommand(list, show, history, cancel)
	return cmd
}

// listNames and idName name the parameters the server refuses as the
// command line gives them.
var (
	listNames = map[string]string{"task_type": "--type", "status": "--status", "tag": "--tag", "within_hours": "--within-hours", "limit": "--limit", "offset": "--offset"}
	idName    = map[string]string{"id": "ID"}
)

// listFlags are tasks list's filters.
type listFlags struct {
	types, statuses            []string
	tag                        string
	withinHours, limit, offset int
}

// codeWord shows a status code with its word: "F failed".
func codeWord(code string) string {
	if w := tasktype.Code(code).Word(); w != "" {
		return code + " " + w
	}
	return code
}

// query is the listing's query string; a status that is neither a code nor
// its word is refused here, naming the flag.
func (lf listFlags) query(changed func(flag string) bool) (url.Values, error) {
	q := url.Values{}
	for _, t := range lf.types {
		q.Add("task_type", t)
	}
	for _, s := range lf.statuses {
		code := tasktype.Code(strings.ToUpper(s))
		for _, c := range tasktype.Codes() {
			if strings.EqualFold(s, c.Word()) {
				code = c
			}
		}
		if !code.Valid() {
			return nil, fieldError("--status", s, "must be one of Q, R, D, F, C (or waiting, running, done, failed, cancelled)")
		}
		q.Add("status", string(code))
	}
	if lf.tag != "" {
		q.Set("tag", lf.tag)
	}
	// The server checks the numbers' ranges; its refusal names the flag
	// (listNames).
	for _, p := range []struct {
		flag, param string
		v           int
	}{
		{"within-hours", "within_hours", lf.withinHours},
		{"limit", "limit", lf.limit},
		{"offset", "offset", lf.offset},
	} {
		if changed(p.flag) {
			q.Set(p.param, strconv.Itoa(p.v))
		}
	}
	return q, nil
}

// window says, after "no task matches", how far back finished tasks were
// looked for.
func (lf listFlags) window() string {
	if lf.withinHours == 0 {
		return " (finished tasks of the last hour are listed; --within-hours N looks further back)"
	}
	return fmt.Sprintf(" (finished tasks of the last %d hours are listed)", lf.withinHours)
}

func fieldError(flag, value, rule string) error {
	return &tasktype.ValidationError{Fields: []*tasktype.FieldError{{Field: flag, Value: value, Message: rule}}}
}

// listedTask is a row of the unified listing.
type listedTask struct {
	ID        string     `json:"id"`
	TaskType  string     `json:"task_type"`
	Status    string     `json:"task_status"`
	Tag       *string    `json:"tag"`
	CreatedAt time.Time  `json:"created_at"`
	EndDate   *time.Time `json:"end_date"`
}

// historyRow is a row of a task's history.
type historyRow struct {
	Seq     int64     `json:"seq"`
	From    *string   `json:"from_status,omitempty"`
	To      string    `json:"to_status"`
	Event   *string   `json:"event,omitempty"`
	At      time.Time `json:"at"`
	Attempt int       `json:"attempt"`
	Actor   *string   `json:"actor,omitempty"`
	Message string    `json:"message,omitempty"`
}

// printFields prints a task's fields one per line, in the server's order:
// null as "-", text as it is (a message's further lines indented), other
// values as JSON.
func printFields(w io.Writer, task json.RawMessage) error {
	dec := json.NewDecoder(bytes.NewReader(task))
	if _, err := dec.Token(); err != nil { // {
		return err
	}
	type field struct{ name, value string }
	var fields []field
	width := 0
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string)
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return err
		}
		var value string
		var s *string
		switch {
		case string(raw) == "null":
			value = "-"
		case json.Unmarshal(raw, &s) == nil && s != nil:
			value = *s
		default:
			value = string(raw)
		}
		fields = append(fields, field{name, value})
		width = max(width, len(name))
	}
	for _, f := range fields {
		value := strings.ReplaceAll(shownLines(strings.TrimRight(f.value, "\n")), "\n", "\n"+strings.Repeat(" ", width+2))
		if _, err := fmt.Fprintf(w, "%-*s  %s\n", width, shown(f.name), value); err != nil {
			return err
		}
	}
	return nil
}

// taskID checks a task ID argument as the server does, so that a
// mistyped one is refused naming the argument (exit 4), not sent.
func taskID(arg string) (string, error) {
	id, err := uuid.Parse(arg)
	if err != nil || strings.ContainsAny(arg, "{}:") || len(arg) != 36 {
		return "", fieldError("ID", arg, fmt.Sprintf("must be a task id (a UUID such as 123e4567-e89b-12d3-a456-426614174000), not %q", truncate(arg, 80)))
	}
	return id.String(), nil
}

// shown makes text from the server safe to print on a terminal, one line
// of a table: control characters (a tab, a newline, an escape sequence a
// task's message may hold) are written as escapes.
func shown(s string) string {
	if !strings.ContainsFunc(s, isControl) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isControl(r) {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// shownLines is shown for text whose line breaks are kept.
func shownLines(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = shown(l)
	}
	return strings.Join(lines, "\n")
}

func isControl(r rune) bool { return r < 0x20 || (r >= 0x7f && r < 0xa0) || r == 0x2028 || r == 0x2029 }

// notTheAPI is the error of an answer that is not what the API answers.
func notTheAPI(err error) error {
	return fmt.Errorf("the answer is not the API's JSON (is --url taskmodel serve?): %w", err)
}

// oneLine is s's first line cut to n characters, marking what was left.
func oneLine(s string, n int) string {
	first, _, more := strings.Cut(s, "\n")
	if more {
		return truncate(first, n-1) + "…"
	}
	return truncate(first, n)
}

// serverFromEnv completes --url and --token from the environment
// (TASKMODEL_URL, TASKMODEL_TOKEN): the URL defaults to the local serve's.
func serverFromEnv(url, token string) (string, string) {
	if url == "" {
		url = os.Getenv(EnvURL)
	}
	if url == "" {
		url = "http://127.0.0.1:8080"
	}
	if token == "" {
		token = os.Getenv(EnvToken)
	}
	return url, token
}

// client checks the flags and returns the API's client.
func (f tasksFlags) client() (*apiClient, error) {
	f.url, f.token = serverFromEnv(f.url, f.token)
	u, err := url.Parse(f.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, usagef(fmt.Errorf("--url %q: must be an http:// or https:// URL such as http://127.0.0.1:8080", f.url))
	}
	if f.token == "" {
		return nil, usagef(errors.New("a token is required: --token TOKEN or " + EnvToken + " (taskmodel token create --user NAME [--admin])"))
	}
	return &apiClient{base: strings.TrimSuffix(f.url, "/"), token: f.token}, nil
}

// apiClient calls taskmodel serve's task API with a user's token.
type apiClient struct {
	base, token string
}

// do sends a request without a body and decodes the 200 answer into out;
// an error answer is an *apiError, which names the refused parameters as
// names maps them (the command line's flags).
func (c *apiClient) do(ctx context.Context, method, path string, out any, names map[string]string) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if method == "POST" {
		req.Header.Set("Content-Type", "application/json")
		req.Body, req.ContentLength = io.NopCloser(strings.NewReader("{}")), 2
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return fmt.Errorf("%w: is taskmodel serve running there? (--url or %s)", &workerhttp.UnreachableError{URL: c.base, Err: err}, EnvURL)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode != http.StatusOK {
		p := &workerhttp.Problem{}
		if json.Unmarshal(raw, p) != nil || !strings.HasPrefix(p.Type, "urn:taskmodel:problem:") {
			// Not the server's problem document: another service, or a
			// proxy's page. Its status says nothing of the task.
			return fmt.Errorf("the server at %s answered %s, not as taskmodel serve's API does (is --url right?): %s", c.base, resp.Status, shown(truncate(strings.TrimSpace(string(raw)), 200)))
		}
		p.Detail = truncate(p.Detail, 1000)
		return &apiError{p, names}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return notTheAPI(err)
	}
	return nil
}

// apiError is the server's refusal; errors.Is maps it to the exit codes
// of the package documentation: 404 not found, 400 invalid, 409 not
// allowed (a status change) or conflict.
type apiError struct {
	p     *workerhttp.Problem
	names map[string]string
}

func (e *apiError) Error() string {
	msg := e.p.Detail
	if msg == "" {
		msg = e.p.Title
	}
	if e.p.Status == http.StatusBadRequest && len(e.p.Errors) > 0 {
		var parts []string
		for _, f := range e.p.Errors {
			name := f.Field
			if n, ok := e.names[name]; ok {
				name = n
			}
			parts = append(parts, name+": "+f.Message)
		}
		msg = strings.Join(parts, "; ")
	}
	msg = shown(msg)
	switch e.p.Status {
	case http.StatusNotFound:
		if _, ok := e.names["id"]; ok {
			return msg + " (a user's token sees that user's tasks alone; an admin's, every task)"
		}
	case http.StatusUnauthorized:
		return "the server refused the token: " + msg + " (a user's token: taskmodel token create --user NAME)"
	case http.StatusForbidden:
		return "the token may not do this: " + msg
	}
	return msg
}

func (e *apiError) Is(target error) bool {
	switch e.p.Status {
	case http.StatusNotFound:
		return target == tasktype.ErrNotFound
	case http.StatusBadRequest:
		return target == tasktype.ErrValidation
	case http.StatusConflict:
		if e.p.Type == "urn:taskmodel:problem:transition" {
			return target == tasktype.ErrTransitionNotAllowed
		}
		return target == tasktype.ErrConflict
	}
	return false
}
