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

-- Migrations a failed statement stopped part way: MySQL and MariaDB commit
-- each schema change as it runs, so the statements before the failed one
-- stay applied. A start resumes the migration after them, once the cause is
-- fixed; the row goes when the migration is recorded as applied.
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
