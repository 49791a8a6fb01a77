package dashboard_test

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestCrossSiteLinkBrowser: a dashboard link followed from a page of
// another site (a shared filtered page in a chat or a mail) opens the page
// signed in, in headless Chromium: the session cookie travels with
// top-level navigations from other sites.
func TestCrossSiteLinkBrowser(t *testing.T) {
	bctx := browser(t)
	e := newEnv(t, envOptions{backend: "sqlite"})
	ctx := tab(t, bctx)
	signInBrowser(t, ctx, e, "alice", "")

	target := e.url + "/?task_type=analysis"
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><title>chat</title><a id="shared" href="%s">the training runs</a>`, html.EscapeString(target))
	}))
	t.Cleanup(other.Close)
	// localhost and 127.0.0.1 are different sites to the browser.
	chat := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)

	run(t, ctx, chromedp.Navigate(chat))
	waitJS(t, ctx, `!!document.getElementById("shared")`)
	run(t, ctx, chromedp.Click(chromedp.ID("shared")))
	waitJS(t, ctx, `document.readyState === "complete" && location.host === `+fmt.Sprintf("%q", strings.TrimPrefix(e.url, "http://")))
	if got := js[string](t, ctx, `location.pathname + location.search`); got != "/?task_type=analysis" {
		t.Fatalf("the shared link led to %s\n%s", got, pageText(ctx))
	}
	if got := js[string](t, ctx, `document.getElementById("user") ? document.getElementById("user").textContent : ""`); got != "alice" {
		t.Fatalf("the shared link opened without the session (user %q)\n%s", got, pageText(ctx))
	}
}
