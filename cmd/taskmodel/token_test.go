package main_test

import (
	"context"
	"encoding/json"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/taskmodel/taskmodel/auth"
	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/config"
)

var secretLine = regexp.MustCompile(`^tm_[a-z2-7]{16}_[A-Za-z0-9_-]{43}\n$`)

// tokenStore opens the database the binary uses in the sandbox, resolved
// from the sandbox's environment and directory as the binary resolves it.
func (s *sandbox) tokenStore() auth.Store {
	s.t.Helper()
	env := map[string]string{}
	for _, kv := range s.env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	cfg, err := config.Load(config.Options{Dir: s.dir, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		s.t.Fatal(err)
	}
	st, closer, err := auth.Open(context.Background(), cfg.Database)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(func() { closer() })
	return st
}

// tokenEngines are the engines the token commands run on: every engine of
// the other commands, and MySQL (MariaDB here), where only tokens run yet.
var tokenEngines = append(engines[:len(engines):len(engines)], struct {
	name string
	env  func(t *testing.T) []string
}{"mysql", func(t *testing.T) []string { return []string{"TASKMODEL_DATABASE_URL=" + mysqltest.Database(t)} }})

func TestTokenCommands(t *testing.T) {
	ctx := context.Background()
	for _, eng := range tokenEngines {
		t.Run(eng.name, func(t *testing.T) {
			s := newSandbox(t, eng.env(t)...)

			// create prints the secret alone on standard output.
			r := s.run("token", "create", "--user", "ana")
			if r.code != 0 || !secretLine.MatchString(r.stdout) {
				t.Fatalf("token create: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			anaSecret := strings.TrimSuffix(r.stdout, "\n")
			anaID := anaSecret[3:19]
			if !strings.Contains(r.stderr, anaID) || strings.Contains(r.stderr, anaSecret) {
				t.Errorf("stderr should name the id, never the secret: %q", r.stderr)
			}
			if r := s.run("token", "create", "--user", "root", "--admin", "-q"); r.code != 0 || !secretLine.MatchString(r.stdout) || r.stderr != "" {
				t.Fatalf("token create --admin -q: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			var created struct {
				Secret string     `json:"secret"`
				Token  auth.Token `json:"token"`
			}
			s.json(&created, "token", "create", "--user", "bob@example.com")
			if !secretLine.MatchString(created.Secret+"\n") || created.Token.User != "bob@example.com" || !strings.HasPrefix(created.Secret, "tm_"+created.Token.ID+"_") {
				t.Errorf("token create --json = %+v", created)
			}

			st := s.tokenStore()
			if u, err := st.Authenticate(ctx, anaSecret); err != nil || u.Name != "ana" || u.Admin || u.Worker() {
				t.Errorf("the printed secret authenticates as %+v, %v", u, err)
			}

			// list --json: every token, no secrets.
			out := s.ok("token", "list", "--json")
			var toks []struct {
				auth.Token
				Scope string `json:"scope"`
			}
			if err := json.Unmarshal([]byte(out), &toks); err != nil {
				t.Fatalf("token list --json: %v\n%s", err, out)
			}
			if len(toks) != 3 || toks[0].ID != anaID || toks[0].User != "ana" || toks[0].Admin || toks[1].User != "root" || !toks[1].Admin {
				t.Errorf("token list --json = %+v", toks)
			}
			if toks[0].Scope != "user" || toks[1].Scope != "admin" {
				t.Errorf("token list --json scopes: %q, %q; want user, admin", toks[0].Scope, toks[1].Scope)
			}
			if toks[0].LastUsedAt == nil {
				t.Error("ana's token has no last use after authenticating")
			}
			text := s.ok("token", "list")
			for _, secret := range []string{anaSecret, created.Secret} {
				if strings.Contains(out, secret[20:]) || strings.Contains(text, secret[20:]) {
					t.Errorf("token list shows a secret:\n%s\n%s", out, text)
				}
			}
			if !strings.HasPrefix(text, "ID") || !strings.Contains(text, anaID) {
				t.Errorf("token list:\n%s", text)
			}

			// revoke: the token fails from then on; an unknown id is exit 3.
			// A store that authenticated the token may accept it for
			// auth.CacheTTL more: check with a fresh one, as a new process.
			if r := s.run("token", "revoke", anaID); r.code != 0 || r.stdout != "token "+anaID+" revoked: requests with it are refused from now on\n" {
				t.Errorf("token revoke: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			st = s.tokenStore()
			if _, err := st.Authenticate(ctx, anaSecret); !errors.Is(err, auth.ErrUnauthorized) {
				t.Errorf("a revoked token authenticates: %v", err)
			}
			if _, err := st.Authenticate(ctx, created.Secret); err != nil {
				t.Errorf("another token after the revocation: %v", err)
			}
			s.json(&toks, "token", "list")
			if toks[0].RevokedAt == nil || toks[1].RevokedAt != nil {
				t.Errorf("after revoke: %+v", toks)
			}
			if r := s.run("token", "revoke", anaID); r.code != 0 || !strings.HasPrefix(r.stdout, "token "+anaID+" was revoked already, at ") || !strings.HasSuffix(r.stdout, "; nothing changed\n") {
				t.Errorf("token revoke again: exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
			}
			if r := s.run("token", "revoke", "aaaaaaaaaaaaaaaa"); r.code != 3 || !strings.Contains(r.stderr, "token not found") {
				t.Errorf("revoke of an unknown id: exit %d, stderr %q; want 3", r.code, r.stderr)
			}
		})
	}
}

func TestTokenRefusals(t *testing.T) {
	s := newSandbox(t)
	for _, c := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"user with a space", []string{"token", "create", "--user", "ana smith"}, 4,
			`taskmodel: user: must contain only letters, digits, ".", "_", "@" and "-" (got ' ' at character 4)`},
		{"empty user", []string{"token", "create", "--user", ""}, 4, "taskmodel: user: is required"},
		{"user too long", []string{"token", "create", "--user", strings.Repeat("u", 256)}, 4,
			"taskmodel: user: must be at most 255 characters (got 256)"},
		{"no --user", []string{"token", "create"}, 2, "taskmodel: token create: --user NAME is required"},
		{"an argument", []string{"token", "create", "--user", "ana", "extra"}, 2, "taskmodel: unknown command"},
		{"revoke without id", []string{"token", "revoke"}, 2, "taskmodel: token revoke needs ID, the token's id, as token list shows it"},
		{"revoke malformed id", []string{"token", "revoke", "x"}, 3, `taskmodel: token "x": token not found`},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := s.run(c.args...)
			if r.code != c.code || !strings.HasPrefix(r.stderr, c.stderr) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d, stderr %q", r.code, r.stdout, r.stderr, c.code, c.stderr)
			}
		})
	}
	var e struct {
		Error string `json:"error"`
		Code  string `json:"code"`
		Exit  int    `json:"exit"`
	}
	r := s.run("token", "create", "--user", "a/b", "--json")
	if err := json.Unmarshal([]byte(r.stderr), &e); err != nil || r.code != 4 || e.Code != "invalid" || e.Exit != 4 || !strings.HasPrefix(e.Error, "user: ") {
		t.Errorf("--json refusal: exit %d, %q (%v)", r.code, r.stderr, err)
	}
	if toks := s.tokenStore(); toks != nil {
		if list, err := toks.List(context.Background()); err != nil || len(list) != 0 {
			t.Errorf("refusals stored tokens: %v, %v", list, err)
		}
	}
}
