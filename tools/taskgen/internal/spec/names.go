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
