package spec

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
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
	// A line dedented out of its mapping is valid YAML on its own; the
	// error comes on the next line, which is still indented for the mapping
	// the dedented line left. Blame the dedented line.
	indentErr := hasCtx && le.ContextMsg == "while parsing a block mapping" && mark.Column != ctx.Column && strings.Trim(before, " ") == ""
	firstColon := msg == "mapping values are not allowed in this context" && !strings.Contains(before, ": ")
	if indentErr || firstColon {
		if bad, m, ok := dedentedLine(lines, mark.Line); ok {
			return bad.line, bad.indent, fmt.Sprintf("this line is indented to column %d, but the mapping that starts at line %d:%d, which line %d continues, has its keys at column %d", bad.indent, m.line, m.indent, mark.Line, m.indent), true
		}
	}
	// A key indented deeper than the key above it, whose value is on its
	// own line, reads as more of that value.
	if firstColon {
		if cur, m, ok := overIndented(lines, mark.Line); ok {
			return cur.line, cur.indent, fmt.Sprintf("this line is indented to column %d, but the mapping that starts at line %d:%d has its keys at column %d", cur.indent, m.line, m.indent, m.indent), true
		}
	}
	if indentErr {
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

// yamlLine is a line of a spec that holds YAML structure: not blank, not
// only a comment, not the text of a block scalar (| or >). indent is the
// column of its first character; item says it is an item of a list (- x);
// opens that it ends in a key or a dash whose value is on the lines below.
type yamlLine struct {
	line, indent int
	item, opens  bool
}

// blockScalar matches a line whose value is a block scalar: its text is on
// the lines below, indented deeper than this one.
var blockScalar = regexp.MustCompile(`(^|:|-)\s*[|>][-+1-9]{0,2}\s*(#.*)?$`)

// structure returns the lines of the file that hold YAML structure, in
// order; ok is false when a tab indents one of them (columns are then not
// what an editor shows).
func structure(lines []string) (out []yamlLine, ok bool) {
	scalarAbove := 0 // while > 0: the indent of the line a block scalar hangs from
	for i, text := range lines {
		text = strings.TrimSuffix(text, "\r")
		if i == 0 {
			text = strings.TrimPrefix(text, "\ufeff")
		}
		body := strings.TrimLeft(text, " ")
		if body == "" {
			continue
		}
		indent := len(text) - len(body) + 1
		if scalarAbove > 0 && indent > scalarAbove {
			continue
		}
		scalarAbove = 0
		if strings.HasPrefix(body, "#") {
			continue
		}
		if strings.HasPrefix(body, "\t") {
			return nil, false
		}
		if blockScalar.MatchString(body) {
			scalarAbove = indent
		}
		if c := strings.Index(body, " #"); c >= 0 {
			body = body[:c]
		}
		body = strings.TrimRight(body, " ")
		out = append(out, yamlLine{
			line:   i + 1,
			indent: indent,
			item:   body == "-" || strings.HasPrefix(body, "- "),
			opens:  body == "-" || strings.HasSuffix(body, ":"),
		})
	}
	return out, true
}

// around returns the structure lines of the file, the index of errLine
// among them, and the line above it; ok is false when errLine is not one,
// is an item of a list, or has no line above.
func around(lines []string, errLine int) (ls []yamlLine, at int, ok bool) {
	ls, ok = structure(lines)
	if !ok {
		return nil, 0, false
	}
	for i, l := range ls {
		if l.line == errLine && i > 0 && !l.item {
			return ls, i, true
		}
	}
	return nil, 0, false
}

// mappingStart returns the first key of the block mapping with its keys at
// column indent that holds ls[last] (as a key or nested in a value); ok is
// false when there is none, or a list is at that column.
func mappingStart(ls []yamlLine, last, indent int) (start yamlLine, ok bool) {
	for i := last; i >= 0 && ls[i].indent >= indent; i-- {
		if ls[i].indent == indent {
			if ls[i].item {
				return start, false
			}
			start, ok = ls[i], true
		}
	}
	return start, ok
}

// dedentedLine finds the line that breaks the indentation libyaml reports
// at errLine: the line just above it, indented less than errLine and with
// its value on its own line, while the lines above that one hold a mapping
// with its keys at errLine's column. It returns that line and the start of
// that mapping.
func dedentedLine(lines []string, errLine int) (bad, mapping yamlLine, ok bool) {
	ls, at, ok := around(lines, errLine)
	if !ok || at < 2 {
		return bad, mapping, false
	}
	cur, prev := ls[at], ls[at-1]
	if prev.opens || prev.indent >= cur.indent {
		return bad, mapping, false
	}
	mapping, ok = mappingStart(ls, at-2, cur.indent)
	return prev, mapping, ok
}

// overIndented reports errLine, indented deeper than the line above it
// whose value is on its own line, and the start of the mapping that line
// above is a key of.
func overIndented(lines []string, errLine int) (cur, mapping yamlLine, ok bool) {
	ls, at, ok := around(lines, errLine)
	if !ok {
		return cur, mapping, false
	}
	cur, prev := ls[at], ls[at-1]
	if prev.opens || prev.item || prev.indent >= cur.indent {
		return cur, mapping, false
	}
	mapping, ok = mappingStart(ls, at-1, prev.indent)
	return cur, mapping, ok
}
