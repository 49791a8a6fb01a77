package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestServeRefusesBadFlags: serve refuses a negative or meaningless flag
// value as a usage error (exit 2) naming the flag, before it opens anything.
func TestServeRefusesBadFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--workers", "-1"}, "--workers must be 0 or more, not -1"},
		{[]string{"--agent-time", "-1s"}, "--agent-time must be a duration of 0 (agents finish at once) or more, such as 30s or 5m, not -1s"},
		{[]string{"--sweep-every", "-1s"}, "--sweep-every must be a positive duration, such as 30s or 5m, not -1s"},
		{[]string{"--sweep-every", "0s"}, "--sweep-every must be a positive duration, such as 30s or 5m, not 0s"},
		{[]string{"--retention", "-5m"}, "--retention must be a duration of 0 (keep finished tasks) or more, such as 30s or 5m, not -5m0s"},
		{[]string{"--shutdown-grace", "-1s"}, "--shutdown-grace must be a duration of 0 (stop at once) or more"},
		{[]string{"--body-grace", "0s"}, "--body-grace must be a positive duration"},
		{[]string{"--read-header-timeout", "-2s"}, "--read-header-timeout must be a positive duration"},
		{[]string{"--token-recheck", "0s"}, "--token-recheck must be a positive duration"},
		{[]string{"--body-min-rate", "0"}, "--body-min-rate must be 1 byte per second or more, not 0"},
		{[]string{"--addr", "nonsense"}, `--addr: must be HOST:PORT, such as 127.0.0.1:8080 or :8080, not "nonsense"`},
		{[]string{"--addr", "127.0.0.1:99999"}, `--addr: the port must be a number from 0 to 65535, not "99999"`},
		{[]string{"--public-url", "ftp://x"}, `--public-url: must be an absolute http(s) URL, such as https://tasks.example.com, not "ftp://x"`},
		{[]string{"--public-url", "/relative"}, `--public-url: must be an absolute http(s) URL, such as https://tasks.example.com, not "/relative"`},
		{[]string{"--public-url", "http://x?q=1"}, `--public-url: must be a scheme, a host and maybe a port and a path, with no user, query or fragment (such as https://tasks.example.com/api), not "http://x?q=1"`},
		{[]string{"--public-url", "http://x#f"}, `--public-url: must be a scheme, a host and maybe a port and a path, with no user, query or fragment (such as https://tasks.example.com/api), not "http://x#f"`},
		{[]string{"--public-url", "http://u:p@x"}, `--public-url: must be a scheme, a host and maybe a port and a path, with no user, query or fragment (such as https://tasks.example.com/api), not "http://u:p@x"`},
		{[]string{"--public-url", "https://x:99999"}, `--public-url: the port must be a number from 1 to 65535, not "99999"`},
		{[]string{"--cors-origin", "not a url"}, `--cors-origin: must be * or an origin, such as https://app.example.com or http://localhost:5173 (scheme, host and port only), not "not a url"`},
		{[]string{"--cors-origin", "https://App.Example.com:443"}, `--cors-origin: write "https://App.Example.com:443" as a browser sends it: "https://app.example.com"`},
		{[]string{"--cors-origin", "https://app.example.com/"}, `--cors-origin: must be * or an origin, such as https://app.example.com or http://localhost:5173 (scheme, host and port only), not "https://app.example.com/"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var out, errb bytes.Buffer
			args := append([]string{"serve", "--database-url", "sqlite:" + t.TempDir() + "/never.db"}, tt.args...)
			code := Main(context.Background(), args, IO{In: strings.NewReader(""), Out: &out, Err: &errb})
			if code != 2 || !strings.Contains(errb.String(), tt.want) {
				t.Fatalf("exit %d, stderr %q; want exit 2 and %q", code, errb.String(), tt.want)
			}
		})
	}
}
