package dashboard

import (
	"reflect"
	"strings"
	"testing"
)

func TestMarkdown(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []mdBlock
	}{
		{"heading and paragraph", "# Model job\n\nA job\nof two lines.\n", []mdBlock{{Kind: "h", Level: 1, Text: "Model job"}, {Kind: "p", Text: "A job of two lines."}}},
		{"not a heading", "#tag\n", []mdBlock{{Kind: "p", Text: "#tag"}}},
		{"list", "- one\n  more\n* two\nafter\n", []mdBlock{{Kind: "ul", Items: []string{"one more", "two"}}, {Kind: "p", Text: "after"}}},
		{"table", "| a | b \\| c |\n|---|:-:|\n| 1 | 2 |\n", []mdBlock{{Kind: "table", Rows: [][]string{{"a", "b | c"}, {"1", "2"}}}}},
		{"code", "```sql\nSELECT 1;\n  x\n```\n", []mdBlock{{Kind: "pre", Text: "SELECT 1;\n  x"}}},
		{"unclosed code", "```\nx", []mdBlock{{Kind: "pre", Text: "x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := markdown(tt.doc); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("markdown(%q) = %#v\nwant %#v", tt.doc, got, tt.want)
			}
		})
	}
}

// TestReviewEscaped: HTML in a review document reaches the model page as
// text, in every kind of block.
func TestReviewEscaped(t *testing.T) {
	d, err := New(nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	doc := "# <script>alert(1)</script>\n\n<script>alert(2)</script>\n\n- <img src=x onerror=alert(3)>\n\n| <b>h</b> |\n|---|\n| <script>alert(4)</script> |\n\n```\n</pre><script>alert(5)</script>\n```\n"
	var buf strings.Builder
	if err := d.pages["model"].ExecuteTemplate(&buf, "modelview", modelView{Name: "job", Review: markdown(doc)}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, bad := range []string{"<script", "<img", "<b>", "</pre><"} {
		if strings.Contains(out, bad) {
			t.Errorf("the page holds %q:\n%s", bad, out)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;script&gt;alert(2)", "&lt;img src=x", "&lt;b&gt;h&lt;/b&gt;", "alert(4)", "&lt;/pre&gt;&lt;script&gt;alert(5)"} {
		if !strings.Contains(out, want) {
			t.Errorf("the page lacks %q", want)
		}
	}
}

// FuzzMarkdown: markdown never panics, gives only the kinds the template
// writes, and keeps the text of every line that is not a code fence or a
// table's delimiter row.
//
//	go test ./server/dashboard -run '^$' -fuzz FuzzMarkdown -fuzztime 60s
func FuzzMarkdown(f *testing.F) {
	f.Add("# T\n\n- a\n  b\n| x | y |\n|---|---|\n```\ncode\n```\ntext")
	f.Add("|")
	f.Add("```")
	f.Add("- ")
	f.Fuzz(func(t *testing.T, doc string) {
		var all strings.Builder
		for _, b := range markdown(doc) {
			switch {
			case b.Kind == "h" && (b.Level < 1 || b.Level > 6):
				t.Fatalf("heading of level %d", b.Level)
			case b.Kind != "h" && b.Kind != "p" && b.Kind != "ul" && b.Kind != "table" && b.Kind != "pre":
				t.Fatalf("block of kind %q", b.Kind)
			}
			all.WriteString(b.Text + "\n")
			for _, it := range b.Items {
				all.WriteString(it + "\n")
			}
			for _, r := range b.Rows {
				all.WriteString(strings.Join(r, "|") + "\n")
			}
		}
		for _, line := range strings.Split(doc, "\n") {
			if strings.Contains(line, "```") || strings.Contains(line, "\r") || delimiterRow(tableCells(strings.TrimSpace(line))) {
				continue
			}
			for _, w := range strings.Fields(strings.NewReplacer("#", " ", "|", " ", "\\", " ", "- ", " ", "* ", " ").Replace(line)) {
				if !strings.Contains(all.String(), w) {
					t.Fatalf("word %q of %q is in no block: %#v", w, doc, markdown(doc))
				}
			}
		}
	})
}
