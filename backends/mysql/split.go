package mysql

import (
	"fmt"
	"slices"
	"strings"
)

// SplitStatements splits SQL text into its statements at the semicolons
// outside quotes ('…', "…", `…`) and comments (-- …, # …, /* … */), as the
// mysql client does with its default delimiter. Each statement keeps its
// comments (/*! … */ ones are SQL to the server) and loses its semicolon
// and surrounding blank space; a part with nothing but comments and blank
// space is dropped.
//
// Migrate runs a migration one statement at a time, so that the pool needs
// no multiStatements and an error names the statement that failed. It does
// not take what a statement-by-statement run cannot: the mysql client's
// DELIMITER command, and stored programs with BEGIN … END bodies (a
// trigger, procedure, function or event with a single-statement body is
// fine).
func SplitStatements(sql string) ([]string, error) {
	var (
		out     []string
		start   int  // where the current statement begins
		code    bool // the current statement has more than comments and space
		words   []string
		routine bool // the statement creates a stored program
	)
	end := func(i int) error {
		if code {
			stmt := strings.TrimSpace(sql[start:i])
			if routine && slices.Contains(words, "BEGIN") {
				return fmt.Errorf("statement %d (%s): stored programs with BEGIN … END bodies cannot run statement by statement; give the trigger, procedure, function or event a single-statement body", len(out)+1, excerpt(stmt))
			}
			out = append(out, stmt)
		}
		start, code, words, routine = i+1, false, words[:0], false
		return nil
	}
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			code = true
			i = closeQuote(sql, i)
		case c == '-' && strings.HasPrefix(sql[i:], "--") && (i+2 == len(sql) || sql[i+2] <= ' '),
			c == '#':
			if nl := strings.IndexByte(sql[i:], '\n'); nl >= 0 {
				i += nl
			} else {
				i = len(sql)
			}
		case c == '/' && strings.HasPrefix(sql[i:], "/*"):
			if strings.HasPrefix(sql[i:], "/*!") || strings.HasPrefix(sql[i:], "/*M!") {
				code = true // executable comment: SQL to the server
			}
			if e := strings.Index(sql[i+2:], "*/"); e >= 0 {
				i += 2 + e + 1
			} else {
				return nil, fmt.Errorf("statement %d: a comment /* is not closed", len(out)+1)
			}
		case c == ';':
			if err := end(i); err != nil {
				return nil, err
			}
		case isWordByte(c):
			j := i
			for j < len(sql) && isWordByte(sql[j]) {
				j++
			}
			w := strings.ToUpper(sql[i:j])
			if !code && w == "DELIMITER" {
				return nil, fmt.Errorf("statement %d: DELIMITER is a command of the mysql client, not SQL; end each statement with a semicolon", len(out)+1)
			}
			code = true
			words = append(words, w)
			if len(words) <= 8 && words[0] == "CREATE" && (w == "TRIGGER" || w == "PROCEDURE" || w == "FUNCTION" || w == "EVENT") {
				routine = true
			}
			i = j - 1
		case c > ' ':
			code = true
		}
	}
	if err := end(len(sql)); err != nil {
		return nil, err
	}
	return out, nil
}

// closeQuote returns the index of the quote that closes the one at i (the
// last index when none does). A backslash escapes the next character in '…'
// and "…" (not under NO_BACKSLASH_ESCAPES, which Open does not set); a
// doubled quote reopens the quote at the next step.
func closeQuote(sql string, i int) int {
	q := sql[i]
	for j := i + 1; j < len(sql); j++ {
		switch sql[j] {
		case '\\':
			if q != '`' {
				j++
			}
		case q:
			return j
		}
	}
	return len(sql) - 1
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// excerpt is a statement's first line of SQL, cut to 80 characters, for
// messages: the comment lines (-- …, # …) and blank lines before it, such
// as a migration file's header, are skipped.
func excerpt(stmt string) string {
	rest := stmt
	var line string
	for rest != "" {
		line, rest, _ = strings.Cut(rest, "\n")
		line = strings.TrimSpace(line)
		if line != "" && !commentLine(line) {
			break
		}
	}
	if line == "" || commentLine(line) { // no SQL: the first line
		line, rest, _ = strings.Cut(stmt, "\n")
		line = strings.TrimSpace(line)
	}
	more := strings.TrimSpace(rest) != ""
	if r := []rune(line); len(r) > 80 {
		line, more = string(r[:80]), true
	}
	if more {
		line += " …"
	}
	return line
}

// commentLine reports whether a trimmed line is a comment to its end, as
// SplitStatements reads them: -- followed by blank space or nothing, or #.
func commentLine(line string) bool {
	return line == "--" || strings.HasPrefix(line, "-- ") || strings.HasPrefix(line, "--\t") || strings.HasPrefix(line, "#")
}
