package auth

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// NewMemory returns a Store that keeps tokens in memory (tests, programs
// without persistence). It keeps hashes too, never secrets.
func NewMemory() Store { return newStore(&memory{tokens: map[string]*record{}}) }

var errDuplicateID = errors.New("token id already taken")

type memory struct {
	mu     sync.RWMutex
	tokens map[string]*record
}

func (m *memory) insert(_ context.Context, r record) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, dup := m.tokens[r.ID]; dup {
		return errDuplicateID
	}
	r.hash = slices.Clone(r.hash)
	m.tokens[r.ID] = &r
	return nil
}

func (m *memory) lookup(_ context.Context, id string) (record, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	r, ok := m.tokens[id]
	if !ok {
		return record{}, false, nil
	}
	return r.clone(), true, nil
}

func (m *memory) touch(_ context.Context, id string, at, stale time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.tokens[id]; ok && (r.LastUsedAt == nil || !r.LastUsedAt.After(stale)) {
		r.LastUsedAt = &at
	}
	return nil
}

func (m *memory) list(context.Context) ([]Token, error) {
	m.mu.RLock()
	out := make([]Token, 0, len(m.tokens))
	for _, r := range m.tokens {
		out = append(out, r.clone().Token)
	}
	m.mu.RUnlock()
	slices.SortFunc(out, func(a, b Token) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return compareStrings(a.ID, b.ID)
	})
	return out, nil
}

func (m *memory) revoke(_ context.Context, id string, at time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.tokens[id]
	if !ok {
		return false, nil
	}
	if r.RevokedAt == nil {
		r.RevokedAt = &at
	}
	return true, nil
}

// clone copies r so that callers never share its pointers with the map.
func (r *record) clone() record {
	c := *r
	c.hash = slices.Clone(r.hash)
	c.Models = slices.Clone(r.Models)
	if r.LastUsedAt != nil {
		t := *r.LastUsedAt
		c.LastUsedAt = &t
	}
	if r.RevokedAt != nil {
		t := *r.RevokedAt
		c.RevokedAt = &t
	}
	return c
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
