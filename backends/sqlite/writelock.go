package sqlite

import (
	"database/sql"
	"sync"
)

var writeLocks sync.Map // *sql.DB → *sync.Mutex

// WriteLock returns the mutex that queues the writes of this process to
// db. SQLite lets one connection write at a time, and its busy handler
// waits by polling with sleeps that grow to 100 ms: under heavy contention
// a waiter that keeps sleeping while newcomers take the lock can starve
// past the busy timeout (SQLITE_BUSY). Writers of one process therefore
// queue on this mutex, which hands the lock over in turn once waiters
// queue for long; writers in other processes still wait through the busy
// timeout. A Writer holds it for each transaction it writes: the generated
// SQLite drivers write through their database's Writer.
func WriteLock(db *sql.DB) *sync.Mutex {
	if mu, ok := writeLocks.Load(db); ok {
		return mu.(*sync.Mutex)
	}
	mu, _ := writeLocks.LoadOrStore(db, &sync.Mutex{})
	return mu.(*sync.Mutex)
}
