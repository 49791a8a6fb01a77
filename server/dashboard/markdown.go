package dashboard

import "strings"

// The review document on a model's page: its Markdown cut into blocks —
// headings, paragraphs, lists, tables and code — that the template writes
// as elements, their text escaped like any other. No HTML of the document
// reaches the page: a tag in it shows as text.

// mdBlock is one block of a Markdown document.
type mdBlock struct {
	// Kind is "h" (a heading of Level 1 to 6), "p", "ul", "table" or "pre".
	Kind  string
	Level int
	// Text is a heading's or a paragraph's text, or a code block's lines.
	Text string
	// Items are a list's items; Rows a table's cells by row (the
	// delimiter row left out), the first row the header.
	Items []string
	Rows  [][]string
}

// markdown cuts a Markdown document into blocks. It knows ATX headings,
// fenced code, "-" and "*" lists, pipe tables and paragraphs; anything else
// is a paragraph's text.
func markdown(doc string) []mdBlock {
	var out []mdBlock
	lines := strings.Split(strings.ReplaceAll(doc, "\r\n", "\n"), "\n")
	var para []string
	flush := func() {
		if len(para) > 0 {
			out = append(out, mdBlock{Kind: "p", Text: strings.Join(para, " ")})
			para = nil
		}
	}
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			flush()
		case strings.HasPrefix(trimmed, "<!--") && strings.HasSuffix(trimmed, "-->"):
			flush() // a comment: not shown
		case strings.HasPrefix(trimmed, "```"):
			flush()
			var code []string
			for i++; i < len(lines) && !strings.HasPrefix(strings.TrimSpace(lines[i]), "```"); i++ {
				code = append(code, lines[i])
			}
			out = append(out, mdBlock{Kind: "pre", Text: strings.Join(code, "\n")})
		case heading(trimmed) > 0:
			flush()
			n := heading(trimmed)
			out = append(out, mdBlock{Kind: "h", Level: n, Text: strings.TrimSpace(strings.Trim(trimmed[n:], " #"))})
		case strings.HasPrefix(trimmed, "- ") || strings.HasPrefix(trimmed, "* "):
			flush()
			b := mdBlock{Kind: "ul"}
			for ; i < len(lines); i++ {
				t := strings.TrimSpace(lines[i])
				if strings.HasPrefix(t, "- ") || strings.HasPrefix(t, "* ") {
					b.Items = append(b.Items, strings.TrimSpace(t[2:]))
				} else if t != "" && strings.HasPrefix(lines[i], "  ") && len(b.Items) > 0 {
					b.Items[len(b.Items)-1] += " " + t
				} else {
					break
				}
			}
			i--
			out = append(out, b)
		case strings.HasPrefix(trimmed, "|"):
			flush()
			b := mdBlock{Kind: "table"}
			for ; i < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[i]), "|"); i++ {
				cells := tableCells(strings.TrimSpace(lines[i]))
				if delimiterRow(cells) {
					continue
				}
				b.Rows = append(b.Rows, cells)
			}
			i--
			out = append(out, b)
		default:
			para = append(para, trimmed)
		}
	}
	flush()
	return out
}

// heading returns the level of an ATX heading line ("## Title"), or 0.
func heading(line string) int {
	n := 0
	for n < len(line) && line[n] == '#' {
		n++
	}
	if n == 0 || n > 6 || (n < len(line) && line[n] != ' ') {
		return 0
	}
	return n
}

// tableCells splits a pipe table's row into its cells; an escaped pipe
// (\|) stays in its cell.
func tableCells(row string) []string {
	row = strings.TrimSuffix(strings.TrimPrefix(row, "|"), "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '\\' && i+1 < len(row) && row[i+1] == '|':
			cur.WriteByte('|')
			i++
		case row[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(row[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// delimiterRow reports a table's |---|:--:| row.
func delimiterRow(cells []string) bool {
	for _, c := range cells {
		if strings.Trim(c, "-: ") != "" || !strings.Contains(c, "-") {
			return false
		}
	}
	return len(cells) > 0
}

// mdSpan is a run of a block's text: plain, or code (between backticks).
type mdSpan struct {
	Code bool
	Text string
}

// spans cuts text at its backticks into plain and code runs; an unpaired
// backtick is plain text.
func spans(text string) []mdSpan {
	var out []mdSpan
	for text != "" {
		i := strings.IndexByte(text, '`')
		j := -1
		if i >= 0 {
			j = strings.IndexByte(text[i+1:], '`')
		}
		if i < 0 || j < 0 {
			out = append(out, mdSpan{Text: text})
			break
		}
		if i > 0 {
			out = append(out, mdSpan{Text: text[:i]})
		}
		out = append(out, mdSpan{Code: true, Text: text[i+1 : i+1+j]})
		text = text[i+2+j:]
	}
	return out
}
