// Package auth keeps the bearer tokens of `taskmodel serve`: who a request
// is, and whether it is an admin. Every task belongs to the user who
// created it; admins see all (the server enforces that; this package says
// who is asking).
//
// # Tokens
//
// Store.Create makes a token for a user and returns its secret once:
//
//	tm_<id>_<key>
//
// id is 10 random bytes in lowercase base32 (16 characters): public, it
// names the token in Store.List and to Store.Revoke, and finds its record.
// key is 32 bytes from crypto/rand in unpadded base64url (43 characters).
// Clients send the whole secret as "Authorization: Bearer tm_…". On the
// command line:
//
//	TOKEN=$(taskmodel token create --user ana)      # --admin for an admin
//	taskmodel token list [--json]                   # never shows secrets
//	taskmodel token revoke ID
//
// A worker token (Store.CreateWorker; taskmodel token create --worker
// --models training,evaluation) authenticates a worker, not a user: its
// User has Models, the models whose tasks it may claim and end over the
// worker protocol of taskmodel serve, and the server lets it use those
// routes only. The models are stored with the token (migration
// auth/0002_worker_tokens).
//
// # What is stored
//
// Only a SHA-256 hash of the secret, never the secret. A slow password
// hash (bcrypt, scrypt, argon2) protects low-entropy secrets people choose
// from guessing once the hashes leak; these secrets carry 256 random bits,
// which no guessing reaches, so one SHA-256 is enough — and keeps
// authentication cheap enough for every request.
//
// Store.Authenticate parses the secret, hashes it, reads the record by its
// id and compares hashes with crypto/subtle. It does the same work whatever
// the input: a malformed or oversized secret is replaced by a dummy of the
// right length, an unknown id is compared against a dummy hash, and each
// case returns the same ErrUnauthorized as a revoked token. It never logs
// the secret, and no error carries it. A database failure is returned as
// itself, not as ErrUnauthorized, so a server can answer 503 rather than
// 401. It records when a token was last used, but writes that at
// most once per TouchInterval (a minute) per token, so a token on a hot
// path costs one read per request.
//
// # Engines
//
// NewMemory keeps tokens in memory; NewSQLite, NewPostgres and NewMySQL
// (MySQL or MariaDB) keep them in the table taskmodel_token of an open
// database, whose migrations (auth/0001_tokens, auth/0002_worker_tokens,
// embedded under sql/) they apply through the backend's Migrate:
// versioned, idempotent, and on PostgreSQL and MySQL under the
// migrations' lock. Open opens the database a configuration names, as the
// CLI does.
package auth
