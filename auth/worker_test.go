package auth

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/taskmodel/taskmodel/tasktype"
)

// TestWorkerTokens: a worker token keeps its models through every engine's
// round trip (Authenticate, from the database and from the cache, and
// List), and a user's token has none.
func TestWorkerTokens(t *testing.T) {
	each(t, func(t *testing.T, s *store, _ func(*testing.T) []map[string]any) {
		ctx := context.Background()
		secret, tok, err := s.CreateWorker(ctx, "gpu-box", []string{"training", "evaluation"})
		if err != nil {
			t.Fatal(err)
		}
		if tok.User != "gpu-box" || tok.Admin || !slices.Equal(tok.Models, []string{"training", "evaluation"}) {
			t.Errorf("token = %+v", tok)
		}
		for range 2 { // the second from the cache
			u, err := s.Authenticate(ctx, secret)
			if err != nil || !u.Worker() || u.Admin || u.TokenID != tok.ID || !slices.Equal(u.Models, []string{"training", "evaluation"}) {
				t.Fatalf("Authenticate = %+v, %v", u, err)
			}
			u.Models[0] = "changed" // a caller's change is its own
		}
		userSecret, _, err := s.Create(ctx, "ana", false)
		if err != nil {
			t.Fatal(err)
		}
		if u, err := s.Authenticate(ctx, userSecret); err != nil || u.Worker() || u.Models != nil {
			t.Errorf("a user's token authenticates as %+v, %v", u, err)
		}
		toks, err := s.List(ctx)
		if err != nil || len(toks) != 2 || !slices.Equal(toks[0].Models, []string{"training", "evaluation"}) || toks[1].Models != nil {
			t.Errorf("List = %+v, %v", toks, err)
		}
	})
}

// TestWorkerTokenModels: bad model lists are refused naming the field.
func TestWorkerTokenModels(t *testing.T) {
	s := NewMemory()
	for _, tc := range []struct {
		name   string
		models []string
		field  string
	}{
		{"none", nil, "models"},
		{"empty name", []string{""}, "models[0]"},
		{"upper case", []string{"training", "Training"}, "models[1]"},
		{"twice", []string{"training", "training"}, "models[1]"},
		{"comma", []string{"a,b"}, "models[0]"},
		{"too many", make([]string, MaxModels+1), "models"},
	} {
		_, _, err := s.CreateWorker(context.Background(), "w", tc.models)
		var fe *tasktype.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !errors.Is(err, tasktype.ErrValidation) {
			t.Errorf("%s: %v; want a field error naming %s", tc.name, err, tc.field)
		}
	}
	if _, _, err := s.CreateWorker(context.Background(), "bad name", []string{"training"}); err == nil {
		t.Error("a bad worker name was accepted")
	}
}
