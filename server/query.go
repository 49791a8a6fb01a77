package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/taskmodel/taskmodel/validation"
)

// checkQuery parses a request's query string strictly: a malformed one
// (a bad %-escape, a ';' separator) and any key or value that is not valid
// UTF-8 or holds a control character (NUL included) is a 400 naming the
// parameter, before any handler or database sees it.
func checkQuery(r *http.Request) error {
	if r.URL.RawQuery == "" {
		return nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return badRequest("query", "syntax", "the query string is malformed ("+queryErr(err)+"); parameters are name=value pairs joined by '&', with '%' followed by two hex digits")
	}
	for _, k := range sortedKeys(q) {
		if msg := badText(k); msg != "" {
			return badRequest(quoteName(k), "text", "the parameter name "+msg)
		}
		for _, v := range q[k] {
			if msg := badText(v); msg != "" {
				return badRequest(k, "text", "the value "+msg)
			}
		}
	}
	return nil
}

// queryErr says what url.ParseQuery refused without its Go wording.
func queryErr(err error) string {
	var ee url.EscapeError
	if errors.As(err, &ee) {
		return fmt.Sprintf("invalid escape %q", string(ee))
	}
	if strings.Contains(err.Error(), "semicolon") {
		return "';' is not a separator"
	}
	return "cannot be decoded"
}

// badText says what is wrong with a query key or value, or "": the
// valid-text rule of every single-line string field (validation.CheckText),
// so a filter is held to the rule of the values it matches.
func badText(s string) string {
	if err := validation.CheckText(s, false); err != nil {
		return err.Error()
	}
	return ""
}

// quoteName makes a refused parameter name printable for the error.
func quoteName(k string) string {
	q := fmt.Sprintf("%+q", k)
	return truncate(q[1:len(q)-1], 40)
}
