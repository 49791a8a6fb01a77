package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/taskmodel/taskmodel/tasktype"
)

// User is who a token authenticates.
type User struct {
	Name  string `json:"name"`
	Admin bool   `json:"admin"`
	// Models is set for a worker token (Store.CreateWorker): the models
	// whose tasks it may claim and end, and nothing else. Nil for a
	// user's token.
	Models []string `json:"models,omitempty"`
	// TokenID is the id of the token that authenticated (Token.ID).
	TokenID string `json:"token_id"`
}

// Worker reports whether u is a worker token's (it has Models).
func (u User) Worker() bool { return len(u.Models) > 0 }

// Token describes a stored token (never its secret).
type Token struct {
	// ID is the id part of the secret ("tm_ID_…"): public, it names the
	// token in lists and to Revoke.
	ID    string `json:"id"`
	User  string `json:"user"`
	Admin bool   `json:"admin"`
	// Models is the scope of a worker token: the models whose tasks it may
	// claim and end over the worker protocol. Nil for a user's token.
	Models     []string   `json:"models,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// ErrUnauthorized is what Authenticate returns for an unknown, malformed or
// revoked token, whichever it was.
var ErrUnauthorized = errors.New("unauthorized: unknown, malformed or revoked token")

// ErrNotFound is what Revoke returns for an id no token has. It also
// matches tasktype.ErrNotFound, so callers that map that error (the CLI's
// exit code 3, a server's 404) need nothing more.
var ErrNotFound error = notFoundError{}

type notFoundError struct{}

func (notFoundError) Error() string        { return "token not found" }
func (notFoundError) Is(target error) bool { return target == tasktype.ErrNotFound }

// Store keeps tokens hashed. Every method is safe for concurrent use.
type Store interface {
	// Create makes a token for user (validated: 1–255 chars, letters,
	// digits, . _ @ - only; a *tasktype.FieldError naming "user" otherwise)
	// and returns the secret, shown once, and its record.
	Create(ctx context.Context, user string, admin bool) (secret string, tok Token, err error)
	// CreateWorker makes a worker token named name (validated as a user
	// name) that may only run the worker protocol for models (1 to 100
	// distinct model names, validated by ValidateModels), and returns its
	// secret, shown once, and its record.
	CreateWorker(ctx context.Context, name string, models []string) (secret string, tok Token, err error)
	// Authenticate returns the user of a secret; ErrUnauthorized for
	// anything else. Constant work regardless of input; never logs the
	// secret.
	Authenticate(ctx context.Context, secret string) (User, error)
	// List returns every token, revoked ones included, oldest first.
	List(ctx context.Context) ([]Token, error)
	// Revoke revokes the token with id; ErrNotFound when there is none.
	// Revoking a revoked token keeps its first revocation time.
	Revoke(ctx context.Context, id string) error
}

// TouchInterval is how stale a token's LastUsedAt may get: Authenticate
// writes it only when it is older than this, so a token used on every
// request costs one write a minute, not one per request.
const TouchInterval = time.Minute

// record is a token as a backend keeps it.
type record struct {
	Token
	hash []byte
}

// backend is what an engine does; store holds the logic they share.
type backend interface {
	insert(ctx context.Context, r record) error
	// lookup returns the token with id; found false when there is none.
	lookup(ctx context.Context, id string) (r record, found bool, err error)
	// touch sets last_used_at to at if it is unset or not after stale.
	touch(ctx context.Context, id string, at, stale time.Time) error
	list(ctx context.Context) ([]Token, error)
	// revoke sets revoked_at to at unless it is set; found false when no
	// token has id.
	revoke(ctx context.Context, id string, at time.Time) (found bool, err error)
}

type store struct {
	b   backend
	now func() time.Time
	// verified caches recent successful lookups by token id (see CacheTTL).
	verified sync.Map // id → verified
}

// verified is a token recently found valid.
type verified struct {
	hash  [sha256.Size]byte
	user  User
	until time.Time
}

// CacheTTL is how long a token found valid is accepted again without
// reading the database: a request carries its token every time, and the
// lookup was a quarter of a GET /tasks/{id}. A token revoked through this
// Store stops working at once; one revoked by another process stops within
// CacheTTL.
const CacheTTL = time.Second

func newStore(b backend) *store { return &store{b: b, now: time.Now} }

// clock returns the current time as every engine stores it: UTC, to the
// microsecond (PostgreSQL's precision).
func (s *store) clock() time.Time { return s.now().UTC().Truncate(time.Microsecond) }

func (s *store) Create(ctx context.Context, user string, admin bool) (string, Token, error) {
	return s.create(ctx, user, admin, nil)
}

func (s *store) CreateWorker(ctx context.Context, name string, models []string) (string, Token, error) {
	if err := ValidateModels(models); err != nil {
		return "", Token{}, err
	}
	return s.create(ctx, name, false, slices.Clone(models))
}

func (s *store) create(ctx context.Context, user string, admin bool, models []string) (string, Token, error) {
	if err := ValidateUser(user); err != nil {
		return "", Token{}, err
	}
	secret, id, err := newSecret()
	if err != nil {
		return "", Token{}, err
	}
	h := sha256.Sum256([]byte(secret))
	tok := Token{ID: id, User: user, Admin: admin, Models: models, CreatedAt: s.clock()}
	if err := s.b.insert(ctx, record{Token: tok, hash: h[:]}); err != nil {
		return "", Token{}, fmt.Errorf("auth: create token: %w", err)
	}
	return secret, tok, nil
}

// dummyHash is what a secret is compared against when its id is unknown or
// it is malformed, so that every call hashes and compares once.
var dummyHash = sha256.Sum256([]byte(dummySecret))

func (s *store) Authenticate(ctx context.Context, secret string) (User, error) {
	id, ok := parseSecret(secret)
	candidate := secret
	if !ok {
		// Hash a value of the secret's fixed length, never the input: a
		// huge input costs no more than a good one.
		candidate = dummySecret
	}
	h := sha256.Sum256([]byte(candidate))
	if ok {
		if v, hit := s.verified.Load(id); hit {
			c := v.(verified)
			if s.clock().Before(c.until) && subtle.ConstantTimeCompare(h[:], c.hash[:]) == 1 {
				u := c.user
				u.Models = slices.Clone(u.Models)
				return u, nil
			}
		}
	}
	r, found, err := s.b.lookup(ctx, id) // id is "" when malformed: found by no token
	if err != nil {
		return User{}, fmt.Errorf("auth: authenticate: %w", err)
	}
	stored := dummyHash[:]
	if found && len(r.hash) == sha256.Size {
		stored = r.hash
	}
	match := subtle.ConstantTimeCompare(h[:], stored) == 1
	if !ok || !found || !match || r.RevokedAt != nil {
		return User{}, ErrUnauthorized
	}
	now := s.clock()
	lastUsed := now
	if r.LastUsedAt == nil || now.Sub(*r.LastUsedAt) >= TouchInterval {
		// Bookkeeping only: the token is valid whether or not this write
		// succeeds, so its error does not fail the request.
		_ = s.b.touch(ctx, r.ID, now, now.Add(-TouchInterval))
	} else {
		lastUsed = *r.LastUsedAt
	}
	u := User{Name: r.User, Admin: r.Admin, Models: r.Models, TokenID: r.ID}
	// Cached until CacheTTL, or until last_used_at is due again.
	until := now.Add(CacheTTL)
	if due := lastUsed.Add(TouchInterval); due.Before(until) {
		until = due
	}
	cached := u
	cached.Models = slices.Clone(u.Models) // the caller's copy is its own
	s.verified.Store(r.ID, verified{hash: h, user: cached, until: until})
	return u, nil
}

func (s *store) List(ctx context.Context) ([]Token, error) {
	toks, err := s.b.list(ctx)
	if err != nil {
		return nil, fmt.Errorf("auth: list tokens: %w", err)
	}
	return toks, nil
}

func (s *store) Revoke(ctx context.Context, id string) error {
	if !validID(id) {
		return fmt.Errorf("token %q: %w", id, ErrNotFound)
	}
	s.verified.Delete(id)
	found, err := s.b.revoke(ctx, id, s.clock())
	if err != nil {
		return fmt.Errorf("auth: revoke token: %w", err)
	}
	if !found {
		return fmt.Errorf("token %q: %w", id, ErrNotFound)
	}
	return nil
}

// MaxUserLen is the longest user name, in characters.
const MaxUserLen = 255

// ValidateUser checks a user name: 1 to 255 characters, each an ASCII
// letter or digit or one of . _ @ -. It returns a *tasktype.FieldError
// naming "user" (matching tasktype.ErrValidation) otherwise.
func ValidateUser(user string) error {
	if user == "" {
		return &tasktype.FieldError{Field: "user", Rule: "required", Message: "is required"}
	}
	n := 0
	for _, r := range user {
		n++
		if !userChar(r) {
			fe := &tasktype.FieldError{Field: "user", Rule: "pattern",
				Message: fmt.Sprintf(`must contain only letters, digits, ".", "_", "@" and "-" (got %q at character %d)`, r, n)}
			if len(user) <= 64 {
				fe.Value = user
			}
			return fe
		}
	}
	if n > MaxUserLen {
		return &tasktype.FieldError{Field: "user", Rule: "max_len",
			Message: fmt.Sprintf("must be at most %d characters (got %d)", MaxUserLen, n)}
	}
	return nil
}

func userChar(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return true
	case r == '.', r == '_', r == '@', r == '-':
		return true
	}
	return false
}

// MaxModels bounds the models of a worker token.
const MaxModels = 100

// ValidateModels checks a worker token's models: 1 to MaxModels distinct
// names, each 1 to 63 lower-case letters, digits and _ starting with a
// letter (a model name). It returns a *tasktype.FieldError naming "models".
// Whether each names a model with a worker section is the caller's check.
func ValidateModels(models []string) error {
	if len(models) == 0 {
		return &tasktype.FieldError{Field: "models", Rule: "required", Message: "a worker token needs at least one model"}
	}
	if len(models) > MaxModels {
		return &tasktype.FieldError{Field: "models", Rule: "max_items", Message: fmt.Sprintf("must name at most %d models (got %d)", MaxModels, len(models))}
	}
	seen := map[string]bool{}
	for i, m := range models {
		if !modelName(m) {
			fe := &tasktype.FieldError{Field: fmt.Sprintf("models[%d]", i), Rule: "pattern", Message: "must be a model name: 1 to 63 lower-case letters, digits and _, starting with a letter"}
			if len(m) <= 64 {
				fe.Value = m
			}
			return fe
		}
		if seen[m] {
			return &tasktype.FieldError{Field: fmt.Sprintf("models[%d]", i), Rule: "unique", Value: m, Message: "is named twice"}
		}
		seen[m] = true
	}
	return nil
}

func modelName(m string) bool {
	if m == "" || len(m) > 63 || m[0] < 'a' || m[0] > 'z' {
		return false
	}
	for _, r := range m {
		if !('a' <= r && r <= 'z' || '0' <= r && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// joinModels and splitModels are how the SQL engines store Models: a
// comma-separated list, NULL for a user's token.
func joinModels(models []string) *string {
	if len(models) == 0 {
		return nil
	}
	s := strings.Join(models, ",")
	return &s
}

func splitModels(s *string) []string {
	if s == nil || *s == "" {
		return nil
	}
	return strings.Split(*s, ",")
}
