-- The tables every taskmodel database on MySQL or MariaDB has, created by
-- Migrate (package backends/mysql) before it applies any migration. Each
-- table names its character set and collation, so that it does not depend
-- on the database's defaults: utf8mb4_bin compares text by code point, and
-- exists under that name on every supported server.

-- Applied migrations: name, the SHA-256 of the SQL applied, and when (UTC).
CREATE TABLE IF NOT EXISTS taskmodel_migrations (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    checksum CHAR(64) NOT NULL,
    applied_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Migrations part way: MySQL and MariaDB commit each schema change as it
-- runs, so the statements a migration ran stay applied when a later one
-- fails or the process stops. statements counts them; failed_at is when the
-- row was last written and error the failed statement's error (empty while
-- the migration runs, or when its process stopped). A start resumes the
-- migration after them, once a failure's cause is fixed; the row goes when
-- the migration is recorded as applied.
CREATE TABLE IF NOT EXISTS taskmodel_migration_progress (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    checksum CHAR(64) NOT NULL,
    statements INT NOT NULL,
    failed_at DATETIME(6) NOT NULL,
    error TEXT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Leases (backends.Leases): one holder of each name until expires_at (UTC).
CREATE TABLE IF NOT EXISTS taskmodel_leases (
    name VARCHAR(255) NOT NULL PRIMARY KEY,
    owner VARCHAR(255) NOT NULL,
    expires_at DATETIME(6) NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
