package spec

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	yaml4 "go.yaml.in/yaml/v4"
)

// yamlSyntax places a YAML syntax error the spec's parser (yaml v3) found.
// v3's message carries only a line, and that line is the start of the
// enclosing construct (a block mapping, a flow mapping), one less than its
// real number for parser errors; it has no column. The v4 parser, the same
// libyaml port, reports the error's own position (Mark) and the start of
// the construct it was reading (ContextMark): reading the same bytes again
// with it, only once v3 has failed, gives the position to report.
//
// ok is false when v4 finds no positioned error (the two parsers disagree);
// the caller then keeps v3's message and line.
func yamlSyntax(data []byte) (line, col int, msg string, ok bool) {
	dec, err := yaml4.NewLoader(bytes.NewReader(data), yaml4.WithV3Defaults())
	if err != nil {
		return 0, 0, "", false
	}
	var doc yaml4.Node
	var le *yaml4.LoadError
	if err := dec.Load(&doc); !errors.As(err, &le) || le.Mark.Line < 1 || le.Mark.Column < 1 {
		return 0, 0, "", false
	}
	mark, ctx := le.Mark, le.ContextMark
	hasCtx := le.ContextMsg != "" && ctx.Line > 0 && ctx.Column > 0 && (ctx.Line != mark.Line || ctx.Column != mark.Column)
	what := strings.TrimPrefix(strings.TrimPrefix(le.ContextMsg, "while scanning "), "while parsing ")
	if noun, ok := yamlConstructs[what]; ok {
		what = noun
	}
	lines := strings.Split(string(data), "\n")
	text := ""
	if mark.Line <= len(lines) {
		text = strings.TrimSuffix(lines[mark.Line-1], "\r")
	}
	runes := []rune(text)
	before, after := "", ""
	if c := min(mark.Column-1, len(runes)); c >= 0 {
		before, after = string(runes[:c]), string(runes[c:])
	}

	// At the end of the file the error's own position says nothing: the
	// construct left open (a quote, a brace) is where to look.
	if hasCtx && strings.TrimSpace(after) == "" && strings.TrimSpace(strings.Join(lines[min(mark.Line, len(lines)):], "\n")) == "" {
		return ctx.Line, ctx.Column, what + " starts here and is never closed; the file ends first", true
	}
	msg = le.Message
	if strings.HasPrefix(msg, "found character that cannot start any token") && strings.HasPrefix(after, "\t") && strings.Trim(before, " \t") == "" {
		return mark.Line, mark.Column, "a tab in the indentation; YAML indents with spaces", true
	}
	if hasCtx && le.ContextMsg == "while parsing a block mapping" && mark.Column != ctx.Column && strings.Trim(before, " ") == "" {
		return mark.Line, mark.Column, fmt.Sprintf("%s: this line is indented to column %d, but the mapping that starts at line %d:%d has its keys at column %d", msg, mark.Column, ctx.Line, ctx.Column, ctx.Column), true
	}
	if hasCtx {
		msg = fmt.Sprintf("%s, in %s that starts at line %d:%d", msg, what, ctx.Line, ctx.Column)
	}
	return mark.Line, mark.Column, msg, true
}

// yamlConstructs names libyaml's constructs (from its "while parsing a
// flow mapping" context) in the words a spec's author knows.
var yamlConstructs = map[string]string{
	"a quoted scalar":    "a quoted string",
	"a flow mapping":     "a mapping in braces {...}",
	"a flow sequence":    "a list in brackets [...]",
	"a block collection": "a list",
	"a block mapping":    "a mapping",
}
