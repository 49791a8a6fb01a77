package auth

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/taskmodel/taskmodel/backends/mysql"
	"github.com/taskmodel/taskmodel/backends/mysql/mysqltest"
	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/backends/sqlite"
	"github.com/taskmodel/taskmodel/config"
	"github.com/taskmodel/taskmodel/tasktype"
)

// engine opens a fresh store and reads back its raw rows: every column of
// every stored token, as the engine keeps it.
type engine struct {
	name string
	open func(t *testing.T) (*store, func(t *testing.T) []map[string]any)
}

var engines = []engine{
	{"memory", func(t *testing.T) (*store, func(*testing.T) []map[string]any) {
		s := NewMemory().(*store)
		m := s.b.(*memory)
		return s, func(*testing.T) []map[string]any {
			m.mu.RLock()
			defer m.mu.RUnlock()
			var rows []map[string]any
			for _, r := range m.tokens {
				rows = append(rows, map[string]any{"id": r.ID, "user_name": r.User, "admin": r.Admin, "secret_hash": r.hash,
					"created_at": r.CreatedAt, "last_used_at": r.LastUsedAt, "revoked_at": r.RevokedAt})
			}
			return rows
		}
	}},
	{"sqlite", func(t *testing.T) (*store, func(*testing.T) []map[string]any) {
		ctx := context.Background()
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tokens.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		st, err := NewSQLite(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		return st.(*store), sqlRows(db)
	}},
	{"mysql", func(t *testing.T) (*store, func(*testing.T) []map[string]any) {
		ctx := context.Background()
		db, err := mysql.Open(ctx, mysqltest.Database(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		st, err := NewMySQL(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		return st.(*store), sqlRows(db)
	}},
	{"postgres", func(t *testing.T) (*store, func(*testing.T) []map[string]any) {
		ctx := context.Background()
		pool, err := postgres.OpenConfig(ctx, pgtest.Schema(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		st, err := NewPostgres(ctx, pool)
		if err != nil {
			t.Fatal(err)
		}
		return st.(*store), func(t *testing.T) []map[string]any {
			rows, err := pool.Query(ctx, `SELECT * FROM taskmodel_token`)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			var out []map[string]any
			for rows.Next() {
				vals, err := rows.Values()
				if err != nil {
					t.Fatal(err)
				}
				row := map[string]any{}
				for i, f := range rows.FieldDescriptions() {
					row[f.Name] = vals[i]
				}
				out = append(out, row)
			}
			if err := rows.Err(); err != nil {
				t.Fatal(err)
			}
			return out
		}
	}},
}

// sqlRows reads every column of every stored token of a database/sql database.
func sqlRows(db *sql.DB) func(t *testing.T) []map[string]any {
	return func(t *testing.T) []map[string]any {
		rows, err := db.QueryContext(context.Background(), `SELECT * FROM taskmodel_token`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		types, _ := rows.ColumnTypes()
		var out []map[string]any
		for rows.Next() {
			vals := make([]any, len(types))
			ptrs := make([]any, len(types))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			row := map[string]any{}
			for i, c := range types {
				// MySQL's driver returns text as bytes: give text columns as strings.
				if b, ok := vals[i].([]byte); ok && strings.Contains(c.DatabaseTypeName(), "CHAR") {
					vals[i] = string(b)
				}
				row[c.Name()] = vals[i]
			}
			out = append(out, row)
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return out
	}
}

// each runs f on every engine.
func each(t *testing.T, f func(t *testing.T, s *store, raw func(*testing.T) []map[string]any)) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			s, raw := e.open(t)
			f(t, s, raw)
		})
	}
}

func mustCreate(t *testing.T, s Store, user string, admin bool) (string, Token) {
	t.Helper()
	secret, tok, err := s.Create(context.Background(), user, admin)
	if err != nil {
		t.Fatalf("Create(%q, %v): %v", user, admin, err)
	}
	return secret, tok
}

// key is the random part of a secret.
func key(secret string) string { return secret[len(secretPrefix)+idLen+1:] }

func TestRoundTrip(t *testing.T) {
	each(t, func(t *testing.T, s *store, _ func(*testing.T) []map[string]any) {
		ctx := context.Background()
		before := time.Now().UTC().Add(-time.Second)
		for _, tc := range []struct {
			user  string
			admin bool
		}{{"ana", false}, {"root@example.com", true}, {"b.o_b-1", false}} {
			secret, tok, err := s.Create(ctx, tc.user, tc.admin)
			if err != nil {
				t.Fatal(err)
			}
			if len(secret) != secretLen || !strings.HasPrefix(secret, "tm_"+tok.ID+"_") {
				t.Errorf("secret %q does not have the form tm_%s_KEY (%d characters)", secret, tok.ID, secretLen)
			}
			if tok.User != tc.user || tok.Admin != tc.admin || tok.LastUsedAt != nil || tok.RevokedAt != nil ||
				tok.CreatedAt.Before(before) || tok.CreatedAt.After(time.Now().Add(time.Second)) {
				t.Errorf("token = %+v", tok)
			}
			u, err := s.Authenticate(ctx, secret)
			if err != nil || u.Name != tc.user || u.Admin != tc.admin || u.Worker() {
				t.Errorf("Authenticate = %+v, %v; want %s admin=%v", u, err, tc.user, tc.admin)
			}
		}
		// Two tokens of one user are distinct and both work.
		s1, t1 := mustCreate(t, s, "ana", false)
		s2, t2 := mustCreate(t, s, "ana", false)
		if s1 == s2 || t1.ID == t2.ID || key(s1) == key(s2) {
			t.Errorf("two tokens share a secret or id: %s %s", s1, s2)
		}
	})
}

func TestAuthenticateRejects(t *testing.T) {
	each(t, func(t *testing.T, s *store, _ func(*testing.T) []map[string]any) {
		ctx := context.Background()
		secret, tok := mustCreate(t, s, "ana", true)
		other, _ := mustCreate(t, s, "bob", false)
		flip := func(s string, i int) string {
			b := []byte(s)
			if b[i] == 'A' {
				b[i] = 'B'
			} else {
				b[i] = 'A'
			}
			return string(b)
		}
		unknownID, _, _ := newSecret()
		for _, tc := range []struct{ name, secret string }{
			{"empty", ""},
			{"prefix only", "tm_"},
			{"no prefix", secret[3:]},
			{"wrong prefix", "tk_" + secret[3:]},
			{"id only", "tm_" + tok.ID},
			{"right id, wrong key (last character)", flip(secret, secretLen-1)},
			{"right id, wrong key (first character)", flip(secret, len(secretPrefix)+idLen+1)},
			{"right id, another token's key", "tm_" + tok.ID + "_" + key(other)},
			{"unknown id, right shape", unknownID},
			{"id in upper case", "tm_" + strings.ToUpper(tok.ID) + "_" + key(secret)},
			{"separator changed", secret[:len(secretPrefix)+idLen] + "-" + key(secret)},
			{"one character short", secret[:secretLen-1]},
			{"one character long", secret + "A"},
			{"bearer scheme included", "Bearer " + secret},
			{"spaces around", " " + secret + " "},
			{"NUL inside", secret[:30] + "\x00" + secret[31:]},
			{"huge", "tm_" + tok.ID + "_" + strings.Repeat("A", 1<<20)},
			{"the dummy", dummySecret},
		} {
			t.Run(tc.name, func(t *testing.T) {
				u, err := s.Authenticate(ctx, tc.secret)
				if err != ErrUnauthorized || !reflect.DeepEqual(u, User{}) {
					t.Errorf("Authenticate = %+v, %v; want ErrUnauthorized", u, err)
				}
			})
		}
		if u, err := s.Authenticate(ctx, secret); err != nil || u.Name != "ana" {
			t.Errorf("the real secret after the rejections: %+v, %v", u, err)
		}
	})
}

func TestRevoke(t *testing.T) {
	each(t, func(t *testing.T, s *store, _ func(*testing.T) []map[string]any) {
		ctx := context.Background()
		secret, tok := mustCreate(t, s, "ana", false)
		keep, _ := mustCreate(t, s, "ana", false)
		if err := s.Revoke(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, secret); err != ErrUnauthorized {
			t.Errorf("Authenticate of a revoked token: %v; want ErrUnauthorized", err)
		}
		if _, err := s.Authenticate(ctx, keep); err != nil {
			t.Errorf("another token of the user after the revocation: %v", err)
		}
		first := revokedAt(t, s, tok.ID)
		if first == nil {
			t.Fatal("RevokedAt not set")
		}
		s.now = func() time.Time { return time.Now().Add(time.Hour) }
		if err := s.Revoke(ctx, tok.ID); err != nil {
			t.Errorf("second revoke: %v", err)
		}
		if again := revokedAt(t, s, tok.ID); again == nil || !again.Equal(*first) {
			t.Errorf("second revoke moved RevokedAt from %v to %v", first, again)
		}

		unknown, _, _ := newSecret()
		for _, id := range []string{unknown[3 : 3+idLen], "", "nope", strings.ToUpper(tok.ID), tok.ID + "a", "'; DROP TABLE taskmodel_token; --"} {
			err := s.Revoke(ctx, id)
			if !errors.Is(err, ErrNotFound) || !errors.Is(err, tasktype.ErrNotFound) {
				t.Errorf("Revoke(%q) = %v; want ErrNotFound (and tasktype.ErrNotFound)", id, err)
			}
		}
	})
}

func revokedAt(t *testing.T, s Store, id string) *time.Time {
	t.Helper()
	toks, err := s.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range toks {
		if tok.ID == id {
			return tok.RevokedAt
		}
	}
	t.Fatalf("token %s not listed", id)
	return nil
}

func TestUserValidation(t *testing.T) {
	each(t, func(t *testing.T, s *store, raw func(*testing.T) []map[string]any) {
		ctx := context.Background()
		for _, tc := range []struct{ user, rule, msg string }{
			{"", "required", "user: is required"},
			{strings.Repeat("a", 256), "max_len", "user: must be at most 255 characters (got 256)"},
			{"ana smith", "pattern", `user: must contain only letters, digits, ".", "_", "@" and "-" (got ' ' at character 4)`},
			{"ana/x", "pattern", `user: must contain only letters, digits, ".", "_", "@" and "-" (got '/' at character 4)`},
			{"josé", "pattern", `user: must contain only letters, digits, ".", "_", "@" and "-" (got 'é' at character 4)`},
			{"ana\n", "pattern", `user: must contain only letters, digits, ".", "_", "@" and "-" (got '\n' at character 4)`},
			{"\xff", "pattern", `user: must contain only letters, digits, ".", "_", "@" and "-" (got '�' at character 1)`},
		} {
			secret, tok, err := s.Create(ctx, tc.user, false)
			var fe *tasktype.FieldError
			if !errors.As(err, &fe) || fe.Field != "user" || fe.Rule != tc.rule || err.Error() != tc.msg || !errors.Is(err, tasktype.ErrValidation) {
				t.Errorf("Create(%.20q) = %v (%#v); want %q (rule %s)", tc.user, err, fe, tc.msg, tc.rule)
			}
			if secret != "" || !reflect.DeepEqual(tok, Token{}) {
				t.Errorf("Create(%.20q) returned a token with its error", tc.user)
			}
		}
		if rows := raw(t); len(rows) != 0 {
			t.Errorf("invalid users stored %d tokens", len(rows))
		}
		for _, ok := range []string{"a", strings.Repeat("z", 255), "Ana.Smith@example.com", "A_b-9"} {
			if _, _, err := s.Create(ctx, ok, false); err != nil {
				t.Errorf("Create(%.20q): %v", ok, err)
			}
		}
	})
}

func TestStoredHashNotSecret(t *testing.T) {
	each(t, func(t *testing.T, s *store, raw func(*testing.T) []map[string]any) {
		secret, tok := mustCreate(t, s, "ana", true)
		rows := raw(t)
		if len(rows) != 1 {
			t.Fatalf("%d rows", len(rows))
		}
		want := sha256.Sum256([]byte(secret))
		row := rows[0]
		if h, ok := row["secret_hash"].([]byte); !ok || string(h) != string(want[:]) {
			t.Errorf("secret_hash = %x; want SHA-256 of the secret %x", row["secret_hash"], want)
		}
		if row["id"] != tok.ID {
			t.Errorf("id = %v; want %s", row["id"], tok.ID)
		}
		for col, v := range row {
			text := fmt.Sprintf("%v %s", v, v)
			if b, ok := v.([]byte); ok {
				text = string(b)
			}
			if strings.Contains(text, key(secret)) || strings.Contains(text, secret) {
				t.Errorf("column %s holds the secret: %v", col, v)
			}
		}
	})
}

func TestListNeverSecrets(t *testing.T) {
	each(t, func(t *testing.T, s *store, _ func(*testing.T) []map[string]any) {
		ctx := context.Background()
		base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		var secrets []string
		var want []Token
		for i, u := range []string{"ana", "bob", "carol"} {
			s.now = func() time.Time { return base.Add(time.Duration(i) * time.Second) }
			sec, tok := mustCreate(t, s, u, i == 2)
			secrets, want = append(secrets, sec), append(want, tok)
		}
		toks, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(toks) != len(want) {
			t.Fatalf("List = %d tokens; want %d", len(toks), len(want))
		}
		for i := range want {
			if toks[i].ID != want[i].ID || toks[i].User != want[i].User || toks[i].Admin != want[i].Admin || !toks[i].CreatedAt.Equal(want[i].CreatedAt) {
				t.Errorf("List[%d] = %+v; want %+v", i, toks[i], want[i])
			}
		}
		b, _ := json.Marshal(toks)
		for _, sec := range secrets {
			if strings.Contains(string(b), key(sec)) {
				t.Errorf("List shows a secret: %s", b)
			}
		}
		if empty, err := NewMemory().List(ctx); err != nil || empty == nil && len(empty) != 0 {
			t.Errorf("List of an empty store = %v, %v", empty, err)
		}
	})
}

func TestLastUsedThrottled(t *testing.T) {
	each(t, func(t *testing.T, s *store, _ func(*testing.T) []map[string]any) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		now := t0
		s.now = func() time.Time { return now }
		secret, tok := mustCreate(t, s, "ana", false)
		lastUsed := func() *time.Time {
			toks, err := s.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return toks[0].LastUsedAt
		}
		if lastUsed() != nil {
			t.Fatal("LastUsedAt set before any use")
		}
		for _, step := range []struct {
			at   time.Duration
			want time.Duration
		}{
			{0, 0},
			{30 * time.Second, 0}, // within a minute: no write
			{59*time.Second + 999*time.Millisecond, 0}, // still within
			{60 * time.Second, 60 * time.Second},       // a minute old: written
			{90 * time.Second, 60 * time.Second},
			{10 * time.Minute, 10 * time.Minute},
		} {
			now = t0.Add(step.at)
			if _, err := s.Authenticate(ctx, secret); err != nil {
				t.Fatal(err)
			}
			if got := lastUsed(); got == nil || !got.Equal(t0.Add(step.want)) {
				t.Errorf("after a use at +%v: LastUsedAt = %v; want +%v", step.at, got, step.want)
			}
		}
		if err := s.Revoke(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		now = t0.Add(time.Hour)
		s.Authenticate(ctx, secret)
		if got := lastUsed(); !got.Equal(t0.Add(10 * time.Minute)) {
			t.Errorf("a refused (revoked) use moved LastUsedAt to %v", got)
		}
	})
}

func TestConcurrentAuthenticate(t *testing.T) {
	each(t, func(t *testing.T, s *store, _ func(*testing.T) []map[string]any) {
		ctx := context.Background()
		type pair struct {
			secret string
			user   User
		}
		var pairs []pair
		for i := range 4 {
			u := fmt.Sprintf("user%d", i)
			sec, _ := mustCreate(t, s, u, i == 0)
			pairs = append(pairs, pair{sec, User{Name: u, Admin: i == 0}})
		}
		revoked, rtok := mustCreate(t, s, "gone", false)
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for g := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					p := pairs[(g+i)%len(pairs)]
					if u, err := s.Authenticate(ctx, p.secret); err != nil || u.Name != p.user.Name || u.Admin != p.user.Admin {
						errs <- fmt.Errorf("Authenticate(%s) = %+v, %v", p.user.Name, u, err)
						return
					}
					if _, err := s.Authenticate(ctx, p.secret[:secretLen-1]+"!"); err != ErrUnauthorized {
						errs <- fmt.Errorf("a bad secret: %v", err)
						return
					}
					if g == 0 && i == 5 {
						if err := s.Revoke(ctx, rtok.ID); err != nil {
							errs <- err
							return
						}
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if _, err := s.Authenticate(ctx, revoked); err != ErrUnauthorized {
			t.Errorf("revoked token: %v", err)
		}
	})
}

func TestMigrationIdempotent(t *testing.T) {
	ctx := context.Background()
	t.Run("sqlite", func(t *testing.T) {
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "m.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		s1, err := NewSQLite(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		secret, _ := mustCreate(t, s1, "ana", false)
		s2, err := NewSQLite(ctx, db)
		if err != nil {
			t.Fatalf("second NewSQLite: %v", err)
		}
		if _, err := s2.Authenticate(ctx, secret); err != nil {
			t.Error(err)
		}
		var name string
		if err := db.QueryRowContext(ctx, `SELECT name FROM taskmodel_migrations WHERE name LIKE 'auth/%'`).Scan(&name); err != nil || name != "auth/0001_tokens" {
			t.Errorf("migration recorded as %q, %v", name, err)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		pool, err := postgres.OpenConfig(ctx, pgtest.Schema(t))
		if err != nil {
			t.Fatal(err)
		}
		defer pool.Close()
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs { // processes starting at once take turns on the advisory lock
			wg.Add(1)
			go func() { defer wg.Done(); _, errs[i] = NewPostgres(ctx, pool) }()
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		var name string
		if err := pool.QueryRow(ctx, `SELECT name FROM taskmodel_migrations WHERE name LIKE 'auth/%'`).Scan(&name); err != nil || name != "auth/0001_tokens" {
			t.Errorf("migration recorded as %q, %v", name, err)
		}
	})
	t.Run("mysql", func(t *testing.T) {
		db, err := mysql.Open(ctx, mysqltest.Database(t))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs { // processes starting at once take turns on the named lock
			wg.Go(func() { _, errs[i] = NewMySQL(ctx, db) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		var names []string
		rows, err := db.QueryContext(ctx, `SELECT name FROM taskmodel_migrations WHERE name LIKE 'auth/%' ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			names = append(names, n)
		}
		if want := []string{"auth/0001_tokens", "auth/0002_worker_tokens"}; !reflect.DeepEqual(names, want) {
			t.Errorf("migrations recorded %v, want %v", names, want)
		}
	})
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "new", "dir", "tokens.db")
		st, closer, err := Open(ctx, config.Database{Driver: config.SQLite, Name: path})
		if err != nil {
			t.Fatal(err)
		}
		secret, _ := mustCreate(t, st, "ana", false)
		if err := closer(); err != nil {
			t.Fatal(err)
		}
		st, closer, err = Open(ctx, config.Database{Driver: config.SQLite, Name: path})
		if err != nil {
			t.Fatal(err)
		}
		defer closer()
		if u, err := st.Authenticate(ctx, secret); err != nil || u.Name != "ana" {
			t.Errorf("after reopening: %+v, %v", u, err)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		schema := pgtest.Schema(t).ConnConfig.RuntimeParams["search_path"] + "_tokens"
		st, closer, err := Open(ctx, config.Database{URL: pgtest.URL(), Driver: config.PostgreSQL, Schema: schema})
		if err != nil {
			t.Fatal(err)
		}
		defer closer()
		t.Cleanup(func() {
			pool, err := postgres.Open(ctx, pgtest.URL())
			if err == nil {
				pool.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
				pool.Close()
			}
		})
		secret, _ := mustCreate(t, st, "ana", false)
		if u, err := st.Authenticate(ctx, secret); err != nil || u.Name != "ana" {
			t.Errorf("%+v, %v", u, err)
		}
	})
	t.Run("mysql", func(t *testing.T) {
		db := config.Database{URL: mysqltest.Database(t), Driver: config.MySQL}
		st, closer, err := Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		secret, _ := mustCreate(t, st, "ana", false)
		if err := closer(); err != nil {
			t.Fatal(err)
		}
		st, closer, err = Open(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer closer()
		if u, err := st.Authenticate(ctx, secret); err != nil || u.Name != "ana" {
			t.Errorf("after reopening: %+v, %v", u, err)
		}
	})
	t.Run("resolved as config.Load resolves", func(t *testing.T) {
		dir := t.TempDir()
		for _, db := range []config.Database{
			{URL: "sqlite:" + filepath.Join(dir, "a.db")},
			{Driver: "sqlite", URL: "sqlite:" + filepath.Join(dir, "b.db")},
		} {
			st, closer, err := Open(ctx, db)
			if err != nil {
				t.Fatalf("Open(%#v): %v", db, err)
			}
			mustCreate(t, st, "ana", false)
			closer()
		}
		for _, f := range []string{"a.db", "b.db"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Error(err)
			}
		}
	})
	t.Run("refused", func(t *testing.T) {
		for _, c := range []struct {
			db   config.Database
			want string
		}{
			{config.Database{Driver: "oracle"}, `database: Driver: unknown driver "oracle"; allowed: postgresql, mysql, sqlite`},
			{config.Database{URL: "mysql://h/db", Port: 70000}, `database: Port: "70000" is not a port number (1-65535)`},
		} {
			_, _, err := Open(ctx, c.db)
			if err == nil || err.Error() != c.want {
				t.Errorf("Open(%#v) = %v; want %q", c.db, err, c.want)
			}
		}
	})
}

// TestCacheTTL: a token revoked by another process (another Store over the
// same data) is refused once CacheTTL has passed; one revoked through this
// Store at once.
func TestCacheTTL(t *testing.T) {
	each(t, func(t *testing.T, s *store, _ func(*testing.T) []map[string]any) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		now := t0
		s.now = func() time.Time { return now }
		secret, tok := mustCreate(t, s, "ana", false)
		if _, err := s.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
		other := newStore(s.b) // another process over the same database
		other.now = s.now
		if err := other.Revoke(ctx, tok.ID); err != nil {
			t.Fatal(err)
		}
		now = t0.Add(CacheTTL / 2)
		if _, err := s.Authenticate(ctx, secret); err != nil {
			t.Errorf("within CacheTTL of a revocation elsewhere: %v; want the cached user", err)
		}
		now = t0.Add(CacheTTL)
		if _, err := s.Authenticate(ctx, secret); err != ErrUnauthorized {
			t.Errorf("CacheTTL after a revocation elsewhere: %v; want ErrUnauthorized", err)
		}
		// The cache never accepts a wrong secret for a cached id.
		good, _ := mustCreate(t, s, "bob", false)
		if _, err := s.Authenticate(ctx, good); err != nil {
			t.Fatal(err)
		}
		bad := good[:len(good)-1] + map[bool]string{true: "A", false: "B"}[good[len(good)-1] != 'A']
		if _, err := s.Authenticate(ctx, bad); err != ErrUnauthorized {
			t.Errorf("a wrong key for a cached id: %v; want ErrUnauthorized", err)
		}
		// Revoked through this store: refused at once.
		if err := s.Revoke(ctx, tokenID(good)); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(ctx, good); err != ErrUnauthorized {
			t.Errorf("revoked through this store: %v; want ErrUnauthorized", err)
		}
	})
}

func tokenID(secret string) string { return secret[len(secretPrefix) : len(secretPrefix)+idLen] }
