package spec

import (
	"go/token"
	"regexp"
	"strings"
	"unicode"
)

var (
	reModel     = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	rePackage   = regexp.MustCompile(`^[a-z][a-z0-9]*$`)
	reLower     = regexp.MustCompile(`^[a-z][a-z0-9_]*$`) // events, sets, fields
	reStatus    = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]*$`)
	reTypeName  = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)
	reErrorCode = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)
	reEnumValue = regexp.MustCompile(`^[A-Za-z0-9_.:/-]+$`) // safe inside validator's oneof
)

// initialisms are written in upper case inside Go names, as golint asks.
var initialisms = map[string]string{
	"acl": "ACL", "api": "API", "ascii": "ASCII", "cpu": "CPU", "css": "CSS", "dns": "DNS",
	"eof": "EOF", "guid": "GUID", "html": "HTML", "http": "HTTP", "https": "HTTPS", "id": "ID",
	"ids": "IDs", "ip": "IP", "json": "JSON", "mb": "MB", "pid": "PID", "ppid": "PPID",
	"qps": "QPS", "ram": "RAM", "rpc": "RPC", "sla": "SLA", "sql": "SQL", "ssh": "SSH",
	"tcp": "TCP", "tls": "TLS", "ttl": "TTL", "udp": "UDP", "ui": "UI", "uid": "UID",
	"uuid": "UUID", "uri": "URI", "url": "URL", "urls": "URLs", "utf8": "UTF8", "vm": "VM",
	"xml": "XML",
}

// GoName turns a spec name (snake_case, SCREAMING_CASE, kebab-case) into an
// exported Go identifier: "upload_failed" → "UploadFailed", "task_id" → "TaskID".
func GoName(name string) string {
	var b strings.Builder
	for _, word := range strings.FieldsFunc(name, func(r rune) bool { return r == '_' || r == '-' || r == ' ' }) {
		lower := strings.ToLower(word)
		if up, ok := initialisms[lower]; ok {
			b.WriteString(up)
			continue
		}
		if word == lower || word == strings.ToUpper(word) {
			word = lower
		}
		r := []rune(word)
		r[0] = unicode.ToUpper(r[0])
		b.WriteString(string(r))
	}
	return b.String()
}

// isGoKeyword reports whether s is a Go keyword or a predeclared identifier
// that would make a confusing package name.
func isGoKeyword(s string) bool {
	if token.Lookup(s).IsKeyword() {
		return true
	}
	switch s {
	case "main", "bool", "string", "int", "error", "any", "nil", "true", "false", "iota",
		"len", "cap", "make", "new", "append", "copy", "delete", "panic", "recover", "print", "println":
		return true
	}
	return false
}

// GeneratedNames are the package-level Go names the generator declares in
// every model's package whatever its spec says, each with what it is. The
// loader reserves them, and declares the names that come from the spec's
// own as it reads them (the model struct and New<Struct>, StatusX, EventX,
// ErrorCodeX, <Set>Statuses, an enum's and a type's names), so that two
// declarations of one name are refused with a position instead of making a
// package that does not compile. TestGeneratedNamesDeclared checks that the
// generator declares no name but these, those the loader declared and the
// variables of its numbered migrations (migration0001SchemaPostgreSQL).
var GeneratedNames = map[string]string{
	"ModelName":        "the model name constant",
	"Status":           "the status type",
	"Statuses":         "the list of statuses",
	"ParseStatus":      "the status parser",
	"Initial":          "the initial status function",
	"StatusesWithCode": "the statuses of a short code",
	"Timeout":          "the timeout type",
	"Timeouts":         "the list of timeouts",
	"Event":            "the event type",
	"Events":           "the list of events",
	"ParseEvent":       "the event parser",
	"Fire":             "the function that fires an event",
	"CanTransition":    "the transition check",
	"Transition":       "the function that finds the event between two statuses",
	"AllowedEvents":    "the events a status allows",
	"TransitionError":  "the error type of a refused event",
	"Lifecycle":        "the lifecycle description",
	"Migrations":       "the migrations function",
	"Worker":           "the worker description",
	"API":              "the API description",
	// Unexported: the tables of the generated code.
	"statuses":       "the status table",
	"statusEnum":     "the status table",
	"events":         "the event table",
	"eventEnum":      "the event table",
	"terminalTable":  "the terminal status table",
	"codeTable":      "the short code table",
	"displayTable":   "the display table",
	"enteredAtTable": "the entry timestamp table",
	"timeouts":       "the timeout table",
	"timeoutIndex":   "the timeout table",
	"fireTable":      "the transition table",
	"moveTable":      "the transition table",
	"targetTable":    "the transition table",
	"sourcesTable":   "the transition table",
	"review":         "the review document",
	"init":           "the package initializer",
}

// lowerFirst is a Go name with its first letter in lower case, as the
// generator names a struct's or an enum's unexported tables (jobKeys).
func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}
