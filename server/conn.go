package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
)

// problemListener wraps the listener of Serve so that the few answers
// net/http writes itself, before any handler runs — a request line or
// path it cannot parse (GET /tasks/%zz), a header value with a control
// character, headers too large — are problem+json like every other error
// instead of text/plain. net/http writes each of those as one fixed-form
// Write on the connection, which problemConn recognizes and rewrites; a
// handler's response never has that form (it carries a Date header).
//
// The 417 net/http answers to an Expect header other than 100-continue is
// rewritten too: net/http sends it, empty, before any handler could see
// the request (a handler cannot answer it), and no handler of the server
// answers 417, so a 417 without a body is always that one.
type problemListener struct{ net.Listener }

func (l problemListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &problemConn{Conn: c}, nil
}

type problemConn struct{ net.Conn }

var reCanned = regexp.MustCompile(`^HTTP/1\.1 ([45][0-9][0-9]) ([^\r\n]*)\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n([^\r\n]*)$`)

// reExpect matches net/http's answer to an unsupported Expect header: a
// 417 of header lines only, with no body.
var reExpect = regexp.MustCompile(`^HTTP/1\.1 417 Expectation Failed\r\n(?:[!-9;-~]+: [^\r\n]*\r\n)*\r\n$`)

func (c *problemConn) Write(p []byte) (int, error) {
	if len(p) > 1024 || len(p) < 20 || string(p[:9]) != "HTTP/1.1 " {
		return c.Conn.Write(p)
	}
	if reExpect.Match(p) && bytes.Contains(p, []byte("\r\nContent-Length: 0\r\n")) && !bytes.Contains(p, []byte("\r\nContent-Type: ")) {
		return c.rewrite(p, http.StatusExpectationFailed, "unsupported",
			"the request's Expect header asks for what this server does not do: it takes Expect: 100-continue or no Expect header")
	}
	m := reCanned.FindSubmatch(p)
	if m == nil {
		return c.Conn.Write(p)
	}
	code, _ := strconv.Atoi(string(m[1]))
	kind := "validation"
	switch {
	case code == http.StatusRequestHeaderFieldsTooLarge:
		kind = "too-large"
	case code >= 500: // 501 unsupported transfer encoding, 505 HTTP version
		kind = "unsupported"
	}
	return c.rewrite(p, code, kind, "the HTTP request is malformed and was refused before it was read ("+string(m[3])+"); check the request line, the %-escapes of the path and the header values")
}

// rewrite writes, in place of net/http's answer p, a problem+json of the
// same status.
func (c *problemConn) rewrite(p []byte, code int, kind, detail string) (int, error) {
	body, _ := json.Marshal(Problem{Type: ProblemTypeBase + kind, Title: http.StatusText(code), Status: code, Detail: detail})
	out := fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: application/problem+json\r\nCache-Control: no-store\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", code, http.StatusText(code), len(body), body)
	if _, err := io.WriteString(c.Conn, out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// CloseWrite keeps net/http's lingering close (it half-closes a connection
// before closing it, so that the client reads the last answer).
func (c *problemConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// ReadFrom keeps sendfile for downloads.
func (c *problemConn) ReadFrom(r io.Reader) (int64, error) {
	return io.Copy(c.Conn, r)
}
