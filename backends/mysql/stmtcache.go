package mysql

import (
	"container/list"
	"context"
	"sync"
)

// stmtCache keeps up to max prepared statements by key, closing the least
// recently used one when another needs room. A statement in use when it
// is evicted is closed when its last user releases it.
type stmtCache[S interface{ Close() error }] struct {
	max     int
	prepare func(ctx context.Context, query string) (S, error)

	mu      sync.Mutex
	entries map[string]*list.Element // of *cachedStmt[S]
	order   *list.List               // most recently used first
}

// cachedStmt is a statement of a stmtCache and its users.
type cachedStmt[S interface{ Close() error }] struct {
	key     string
	stmt    S
	users   int
	evicted bool
}

func newStmtCache[S interface{ Close() error }](max int, prepare func(ctx context.Context, query string) (S, error)) *stmtCache[S] {
	return &stmtCache[S]{max: max, prepare: prepare, entries: map[string]*list.Element{}, order: list.New()}
}

// get returns the statement of key, preparing the query that build returns
// if the cache does not hold it. The caller must release it.
func (c *stmtCache[S]) get(ctx context.Context, key string, build func() string) (*cachedStmt[S], error) {
	if e := c.acquire(key); e != nil {
		return e, nil
	}
	// Prepared without the lock: other shapes go on meanwhile. Two callers
	// preparing the same key keep the first and close the other's.
	stmt, err := c.prepare(ctx, build())
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*cachedStmt[S])
		e.users++
		c.order.MoveToFront(el)
		c.mu.Unlock()
		stmt.Close()
		return e, nil
	}
	e := &cachedStmt[S]{key: key, stmt: stmt, users: 1}
	c.entries[key] = c.order.PushFront(e)
	var closing []S
	for c.order.Len() > c.max {
		old := c.order.Remove(c.order.Back()).(*cachedStmt[S])
		delete(c.entries, old.key)
		old.evicted = true
		if old.users == 0 {
			closing = append(closing, old.stmt)
		}
	}
	c.mu.Unlock()
	for _, s := range closing {
		s.Close()
	}
	return e, nil
}

// acquire returns the cached statement of key, or nil.
func (c *stmtCache[S]) acquire(key string) *cachedStmt[S] {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil
	}
	c.order.MoveToFront(el)
	e := el.Value.(*cachedStmt[S])
	e.users++
	return e
}

// release ends a use of a statement from get, closing it if it was evicted
// meanwhile and this was its last user.
func (c *stmtCache[S]) release(e *cachedStmt[S]) {
	c.mu.Lock()
	e.users--
	last := e.evicted && e.users == 0
	c.mu.Unlock()
	if last {
		e.stmt.Close()
	}
}

// len returns how many statements the cache holds.
func (c *stmtCache[S]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
