-- Bearer tokens (package auth). The secret itself is never stored: only
-- its SHA-256 hash, found through the id part of the secret.
CREATE TABLE taskmodel_token (
    id VARCHAR(16) NOT NULL PRIMARY KEY,
    user_name VARCHAR(255) NOT NULL,
    admin BOOLEAN NOT NULL,
    secret_hash VARBINARY(32) NOT NULL,
    created_at DATETIME(6) NOT NULL,
    last_used_at DATETIME(6) NULL,
    revoked_at DATETIME(6) NULL,
    CONSTRAINT taskmodel_token_id_check CHECK (CHAR_LENGTH(id) = 16),
    CONSTRAINT taskmodel_token_user_name_check CHECK (CHAR_LENGTH(user_name) BETWEEN 1 AND 255),
    CONSTRAINT taskmodel_token_admin_check CHECK (admin IN (0, 1)),
    CONSTRAINT taskmodel_token_secret_hash_check CHECK (LENGTH(secret_hash) = 32)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
