-- Bearer tokens (package auth). The secret itself is never stored: only
-- its SHA-256 hash, found through the id part of the secret.
CREATE TABLE taskmodel_token (
    id text PRIMARY KEY CHECK (char_length(id) = 16),
    user_name text NOT NULL CHECK (char_length(user_name) BETWEEN 1 AND 255),
    admin boolean NOT NULL,
    secret_hash bytea NOT NULL CHECK (octet_length(secret_hash) = 32),
    created_at timestamptz NOT NULL,
    last_used_at timestamptz,
    revoked_at timestamptz
);
