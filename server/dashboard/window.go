package dashboard

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/taskmodel/taskmodel/server"
)

// The time window of a model page: the span its moves and its chart count
// over, chosen in the URL (?window=).

// windowView is the window selector: the span chosen and the spans offered.
type windowView struct {
	Name    string // 15m, 1h, 24h, 7d
	Label   string
	From    time.Time
	To      time.Time
	Choices []windowChoice
}

type windowChoice struct {
	Name, Label, Href string
	Current           bool
}

// windows are the spans a model page counts moves over, by their name in
// the URL (?window=).
var windows = []struct {
	name, label string
	span        time.Duration
}{
	{"15m", "15 minutes", 15 * time.Minute},
	{"1h", "1 hour", time.Hour},
	{"24h", "24 hours", 24 * time.Hour},
	{"7d", "7 days", 7 * 24 * time.Hour},
}

// defaultWindow is the span of a model page without ?window=.
const defaultWindow = "24h"

// parseWindow reads a model page's window parameter, one of windows (the
// route refuses any other parameter).
func parseWindow(r *http.Request, model string, now time.Time) (windowView, error) {
	q := r.URL.Query()
	name := defaultWindow
	if v, ok := q["window"]; ok {
		if len(v) != 1 {
			return windowView{}, &server.Problem{Status: http.StatusBadRequest, Title: "Bad request", Detail: "window is given more than once"}
		}
		name = v[0]
	}
	var w windowView
	var names []string
	var choices []windowChoice
	for _, c := range windows {
		names = append(names, c.name)
		if c.name == name {
			w = windowView{Name: c.name, Label: c.label, From: now.Add(-c.span), To: now}
		}
		choices = append(choices, windowChoice{Name: c.name, Label: c.label, Href: "/ui/models/" + url.PathEscape(model) + "?window=" + c.name, Current: c.name == name})
	}
	if w.Name == "" {
		return windowView{}, &server.Problem{Status: http.StatusBadRequest, Title: "Bad request",
			Detail: fmt.Sprintf("window must be one of %s, not %q", strings.Join(names, ", "), truncate(name, 40))}
	}
	w.Choices = choices
	return w, nil
}

// truncate shortens s to n bytes at most, at a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
