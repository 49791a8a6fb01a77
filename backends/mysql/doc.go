// Package mysql opens the MySQL and MariaDB backend: a database/sql pool
// through github.com/go-sql-driver/mysql (pure Go, no cgo), with the
// models' migrations applied under a named lock (GET_LOCK) so that any
// number of processes may start at once. It needs MariaDB 10.6 or later,
// or MySQL 8.0.19 or later (CHECK constraints enforced, and dropped by
// name in migrations), and
// refuses older servers naming the version required.
//
//	db, err := mysql.Open(ctx, "mysql://app:secret@127.0.0.1:3306/tasks")
//
// Open takes a mysql:// URL or the driver's own DSN, and sets on every
// connection what the schema and the drivers rely on, whatever the DSN
// says: DATETIME values read as time.Time in UTC, the connections' time zone
// UTC, the utf8mb4 character set with the utf8mb4_bin collation (code
// point order, the same name on both servers; trailing spaces are ignored
// in comparisons), and a strict sql_mode (SQLMode). The drivers send a
// batch of concurrent writes as one query of many statements, with their
// parameters interpolated by the client: Open turns on multiStatements and
// interpolateParams whatever the DSN says. Migrations still run statement
// by statement.
//
// # Migrations
//
// Migrate records applied migrations in taskmodel_migrations, with the
// SHA-256 of their SQL, as the other engines do, and refuses a database
// whose applied migration has changed (naming it) or that a newer spec
// migrated. MySQL and MariaDB commit each schema change as it runs, so a
// migration is not one transaction: Migrate runs its statements one by one
// and records after each, in taskmodel_migration_progress, how many ran, so
// that a process killed part way resumes after them. When a statement fails,
// the error (*MigrationFailedError) names the migration, the failed
// statement and the statements left applied; the next start resumes at the
// failed statement once its cause is fixed.
//
// # Drivers
//
// Every generated model has a MySQL driver (gen/<model>/mysqldb), an
// instance of this package's generic Driver over the statements taskgen
// wrote for the model (its query.sql): guarded transitions with their
// history rows, CreateMany, reservations and claims with SELECT … FOR
// UPDATE SKIP LOCKED, leases and heartbeats, retention, and the change
// listing a polling change stream reads. Each write, and each claim (lock,
// move, history rows, read back), is one transaction sent as one query of
// many statements: one round trip. Concurrent transitions are written
// together: a batch of 8 or more goes into a temporary table of the
// connection, which the lock of the tasks whose guard holds, their history
// rows and their updates read; a smaller batch, or one on a server where
// that table cannot be used (see Driver), is a guarded INSERT and UPDATE a
// transition, in the same one transaction. The catalog's Lister reads the
// unified listing across models. Leases serve named leases (one sweeper at
// a time), and auth stores tokens on the same database.
package mysql
