package dashboard

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/taskmodel/taskmodel/backends"
	"github.com/taskmodel/taskmodel/server"
	"github.com/taskmodel/taskmodel/tasktype"
)

var funcs = template.FuncMap{
	"spans": spans,
	"utc":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
	"iso":   func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) },
	// short is the end of a task id: UUIDv7s of one period share their
	// start (the time), their end is random.
	"short": func(id string) string {
		if len(id) > 8 {
			return "…" + id[len(id)-8:]
		}
		return id
	},
}

// codeName is a unified code as the filter shows it: its word,
// capitalized ("Waiting").
func codeName(c tasktype.Code) string {
	w := c.Word()
	if w == "" {
		return string(c)
	}
	return strings.ToUpper(w[:1]) + w[1:]
}

// byCode is the display of a status whose spec gives none.
var byCode = map[tasktype.Code]tasktype.Display{
	tasktype.CodeQueued:    {Color: "gray", Icon: "clock"},
	tasktype.CodeRunning:   {Color: "blue", Icon: "spinner"},
	tasktype.CodeDone:      {Color: "green", Icon: "check"},
	tasktype.CodeFailed:    {Color: "red", Icon: "error"},
	tasktype.CodeCancelled: {Color: "gray", Icon: "cancel"},
}

// colors are the spec colours the stylesheet knows; another falls back to
// its code's.
var colors = []string{"gray", "blue", "green", "red", "yellow", "orange", "purple", "teal"}

// glyphs draw the spec icons (text, so that they work offline and scale
// with the font); an unknown icon is a dot.
var glyphs = map[string]string{
	"clock": "◷", "upload": "⇪", "error": "✕", "queue": "☰", "spinner": "↻", "check": "✓", "cancel": "⊘",
	"pause": "⏸", "play": "▶", "warning": "⚠", "retry": "↺", "skip": "⇥", "download": "⇩", "info": "ℹ",
}

// badge is a status as the pages draw it: the spec's label, colour and icon.
type badge struct {
	Status  string
	Code    string
	Label   string
	Color   string
	Glyph   string
	Spin    bool
	Message string
}

func newBadge(status string, code tasktype.Code, d tasktype.Display) badge {
	fb := byCode[code]
	b := badge{Status: status, Code: string(code), Label: d.Label, Color: d.Color, Message: d.Message}
	if b.Label == "" {
		b.Label = title(status)
	}
	if !slices.Contains(colors, b.Color) {
		b.Color = fb.Color
		if b.Color == "" {
			b.Color = "gray"
		}
	}
	icon := d.Icon
	if icon == "" {
		icon = fb.Icon
	}
	b.Glyph = glyphs[icon]
	if b.Glyph == "" {
		b.Glyph = "•"
	}
	b.Spin = icon == "spinner"
	return b
}

// title turns UPLOAD_FAILED into "Upload failed".
func title(s string) string {
	s = strings.ToLower(strings.ReplaceAll(s, "_", " "))
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// rowView is one row of the tasks page.
type rowView struct {
	ID       string
	TaskType string
	Owner    string
	Badge    badge
	Tag      string
	Created  time.Time
	End      *time.Time
	Progress *int64
}

func newRow(t server.TaskState) rowView {
	r := rowView{ID: t.ID, TaskType: t.TaskType, Owner: t.Owner, Badge: newBadge(t.Status, t.Code, t.Display),
		Created: t.Row.CreatedAt, End: t.Row.EndDate, Progress: t.Progress}
	if t.Row.Tag != nil {
		r.Tag = *t.Row.Tag
	}
	return r
}

// kv is one named value shown on a page.
type kv struct {
	Name, Value string
}

// objectFields lists a JSON object's members in their order, each value as
// text: strings as they are, null as "—", anything else as compact JSON.
func objectFields(raw json.RawMessage) []kv {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil
	}
	var out []kv
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return out
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return out
		}
		out = append(out, kv{Name: key, Value: text(v)})
	}
	return out
}

func text(v json.RawMessage) string {
	if string(v) == "null" {
		return "—"
	}
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	var b bytes.Buffer
	if json.Compact(&b, v) == nil {
		return b.String()
	}
	return string(v)
}

// step is one row of a task's timeline: it entered To at At.
type step struct {
	At      time.Time
	Actor   string
	Event   string
	From    string
	To      badge
	Message string
	Attempt int
	Spent   string // how long the task stayed in To
	Current bool
}

// timeline turns the history into steps, with the time spent in each
// status: until the next change, or until now for the current status of
// an unfinished task.
func timeline(h []backends.History, statuses []server.StatusInfo, finished bool, now time.Time) []step {
	info := map[string]server.StatusInfo{}
	for _, s := range statuses {
		info[s.Name] = s
	}
	out := make([]step, len(h))
	for i, e := range h {
		si := info[e.To]
		s := step{At: e.At, Actor: e.Actor, Event: e.Event, From: e.From, To: newBadge(e.To, si.Code, si.Display), Message: e.Message, Attempt: e.Attempt}
		switch {
		case i+1 < len(h):
			s.Spent = duration(h[i+1].At.Sub(e.At))
		case !finished:
			s.Spent = duration(now.Sub(e.At)) + " so far"
			s.Current = true
		default:
			s.Current = true
		}
		out[i] = s
	}
	return out
}

// duration is a short human form: 850 ms, 12.4 s, 3 min 05 s, 2 h 07 min, 3 d 4 h.
func duration(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	switch {
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%d min %02d s", int(d.Minutes()), int(d.Seconds())%60)
	case d < 24*time.Hour:
		return fmt.Sprintf("%d h %02d min", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%d d %d h", int(d.Hours())/24, int(d.Hours())%24)
}

// taskView is the task page's content.
type taskView struct {
	ID           string
	TaskType     string
	Owner        string
	Badge        badge
	Version      int64
	Finished     bool
	Progress     *int64
	Detail       []kv
	ErrorCode    string
	ErrorMessage string
	CanCancel    bool
	Fields       []kv
	History      []step
	CSRF         string
	Notice       string
}

func (d *Dashboard) newTaskView(t server.TaskState, h []backends.History, csrf string) taskView {
	v := taskView{ID: t.ID, TaskType: t.TaskType, Owner: t.Owner, Badge: newBadge(t.Status, t.Code, t.Display), Version: t.Version,
		Finished: t.Finished, Progress: t.Progress, ErrorCode: t.ErrorCode, ErrorMessage: t.ErrorMessage, CanCancel: t.CanCancel, CSRF: csrf}
	if len(t.ProgressDetail) > 0 {
		v.Detail = objectFields(t.ProgressDetail)
	}
	v.Fields = objectFields(t.JSON)
	v.History = timeline(h, d.srv.ModelStatuses(t.TaskType), t.Finished, d.opt.Now())
	return v
}

// writeJSONLine writes v as JSON.
func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
