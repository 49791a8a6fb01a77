-- Bearer tokens (package auth). The secret itself is never stored: only
-- its SHA-256 hash, found through the id part of the secret.
CREATE TABLE taskmodel_token (
    id TEXT PRIMARY KEY CHECK (length(id) = 16),
    user_name TEXT NOT NULL CHECK (length(user_name) BETWEEN 1 AND 255),
    admin BOOLEAN NOT NULL CHECK (admin IN (0, 1)),
    secret_hash BLOB NOT NULL CHECK (length(secret_hash) = 32),
    created_at DATETIME NOT NULL,
    last_used_at DATETIME,
    revoked_at DATETIME
);
