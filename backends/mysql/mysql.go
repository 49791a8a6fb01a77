package mysql

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	driver "github.com/go-sql-driver/mysql"

	"github.com/taskmodel/taskmodel/tasktype"
)

// Engine is the engine name generated Migrations functions take.
const Engine = "mysql"

// The oldest servers Open accepts: MariaDB 10.6 (the oldest maintained
// release with atomic DDL, JSON functions and enforced CHECK constraints)
// and MySQL 8.0.19 (CHECK constraints are enforced from 8.0.16; the
// migrations of a spec change drop them with DROP CONSTRAINT, from 8.0.19).
var (
	MinMariaDB = Version{10, 6, 0}
	MinMySQL   = Version{8, 0, 19}
)

// Charset and Collation are the connections' character set and collation,
// which the taskmodel tables also name: utf8mb4 holds any Unicode text, and
// utf8mb4_bin compares by code point (case and accents count) under the
// same name on MariaDB and MySQL. It pads: trailing spaces are ignored
// when comparing ('a' = 'a '), as with MySQL's other PAD SPACE collations.
const (
	Charset   = "utf8mb4"
	Collation = "utf8mb4_bin"
)

// SQLMode is the sql_mode of the connections Open makes: strict (a value
// that does not fit its column is an error, never truncated or replaced
// with a default), no zero dates, division by zero an error, and no silent
// change of storage engine.
const SQLMode = "STRICT_ALL_TABLES,NO_ZERO_IN_DATE,NO_ZERO_DATE,ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION,ONLY_FULL_GROUP_BY"

// Pool sizes Open sets: a server allows 151 connections by default, shared
// by every process.
const (
	MaxOpenConns    = 32
	ConnMaxLifetime = 30 * time.Minute // well under the server's wait_timeout (8 hours by default)
)

// Open connects to the database dsn names and applies migrations. dsn is a
// URL, mysql://user:password@host:port/database?param=value, or the
// driver's own form, user:password@tcp(host:port)/database?param=value
// (for a socket: user@unix(/run/mysqld/mysqld.sock)/database); params are
// the driver's (github.com/go-sql-driver/mysql). Whatever dsn says, the
// connections parse DATETIME as time.Time in UTC, use time zone UTC on the
// server, Charset and Collation, and SQLMode; an update reports the rows it
// matched (clientFoundRows), parameters are interpolated by the client
// (interpolateParams: one round trip a statement), and a query may hold
// many statements (multiStatements: a batch of writes in one round trip).
// Open refuses a server older
// than MinMariaDB or MinMySQL.
func Open(ctx context.Context, dsn string, migrations ...[]tasktype.Migration) (*sql.DB, error) {
	cfg, err := ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	return OpenConfig(ctx, cfg, migrations...)
}

// OpenConfig is Open with a configuration from ParseDSN (tests change its
// database name).
func OpenConfig(ctx context.Context, cfg *driver.Config, migrations ...[]tasktype.Migration) (*sql.DB, error) {
	cfg = cfg.Clone()
	if err := force(cfg); err != nil {
		return nil, err
	}
	conn, err := driver.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(MaxOpenConns)
	db.SetMaxIdleConns(MaxOpenConns)
	db.SetConnMaxLifetime(ConnMaxLifetime)
	var version string
	if err := db.QueryRowContext(ctx, `SELECT VERSION()`).Scan(&version); err != nil {
		db.Close()
		return nil, fmt.Errorf("mysql: %s: %w", redacted(cfg), err)
	}
	if err := CheckVersion(version); err != nil {
		db.Close()
		return nil, err
	}
	var all []tasktype.Migration
	for _, m := range migrations {
		all = append(all, m...)
	}
	if err := Migrate(ctx, db, all); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// ParseDSN parses a mysql:// URL or the driver's DSN (see Open) into the
// driver's configuration, with the settings Open forces.
func ParseDSN(dsn string) (*driver.Config, error) {
	var cfg *driver.Config
	var err error
	if strings.HasPrefix(dsn, "mysql://") {
		cfg, err = parseURL(dsn)
	} else {
		cfg, err = driver.ParseDSN(dsn)
	}
	if err != nil {
		return nil, fmt.Errorf("mysql: %w", err)
	}
	if cfg.DBName == "" {
		return nil, fmt.Errorf("mysql: %s: the DSN must name the database: user:password@tcp(host:3306)/database", redacted(cfg))
	}
	if err := force(cfg); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parseURL reads mysql://user:password@host:port/database?params.
func parseURL(dsn string) (*driver.Config, error) {
	u, err := url.Parse(dsn)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return nil, fmt.Errorf("database URL %s: the path must name the database: mysql://user:password@host:3306/database", u.Redacted())
	}
	host := u.Hostname()
	if host == "" {
		host = "127.0.0.1"
	}
	port := u.Port()
	if port == "" {
		port = "3306"
	}
	cfg, err := driver.ParseDSN("tcp(" + net.JoinHostPort(host, port) + ")/" + db + "?" + u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("database URL %s: %w", u.Redacted(), err)
	}
	cfg.User = u.User.Username()
	cfg.Passwd, _ = u.User.Password()
	return cfg, nil
}

// force sets what Open promises whatever the DSN said.
func force(cfg *driver.Config) error {
	cfg.ParseTime = true
	cfg.Loc = time.UTC
	// An update's count is of the rows it matched, not those it changed: a
	// heartbeat that writes the expiry a row has still holds the lease.
	cfg.ClientFoundRows = true
	// Parameters are written into the statement by the client: a statement
	// with parameters is one round trip, not a prepare, an execute and a
	// close. The connections' character set is utf8mb4, which the driver
	// escapes safely. Statements prepared explicitly (the listing's) still
	// bind on the server.
	cfg.InterpolateParams = true
	// The drivers send a batch of writes as one query of many statements
	// (their parameters interpolated and escaped by the client).
	cfg.MultiStatements = true
	if cfg.Params == nil {
		cfg.Params = map[string]string{}
	}
	for k := range cfg.Params {
		switch strings.ToLower(k) {
		case "time_zone", "sql_mode":
			delete(cfg.Params, k)
		}
	}
	cfg.Params["time_zone"] = "'+00:00'"
	cfg.Params["sql_mode"] = "'" + SQLMode + "'"
	// DATETIME(6) keeps microseconds: MySQL rounds finer times and MariaDB
	// truncates them; truncating before sending makes both store the same.
	return cfg.Apply(driver.Charset(Charset, Collation), driver.TimeTruncate(time.Microsecond))
}

// redacted is cfg's address and database, for messages (never the password).
func redacted(cfg *driver.Config) string {
	return cfg.Net + "(" + cfg.Addr + ")/" + cfg.DBName
}

// Version is a server version: major, minor, patch.
type Version [3]int

func (v Version) String() string { return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]) }

// less reports whether v is older than w.
func (v Version) less(w Version) bool {
	for i := range v {
		if v[i] != w[i] {
			return v[i] < w[i]
		}
	}
	return false
}

var versionRE = regexp.MustCompile(`^(\d+)\.(\d+)\.(\d+)`)

// CheckVersion checks what SELECT VERSION() returned ("10.11.6-MariaDB-…",
// "8.0.36"): it fails for MariaDB older than MinMariaDB, MySQL older than
// MinMySQL, and text that is no version.
func CheckVersion(version string) error {
	mariadb := strings.Contains(strings.ToLower(version), "mariadb")
	if mariadb {
		// The prefix older MariaDB servers send clients that expect MySQL 5.
		version = strings.TrimPrefix(version, "5.5.5-")
	}
	m := versionRE.FindStringSubmatch(version)
	if m == nil {
		return fmt.Errorf("mysql: the server's version %q is not major.minor.patch; taskmodel needs MariaDB %s or later, or MySQL %s or later", version, MinMariaDB, MinMySQL)
	}
	var v Version
	for i := range v {
		v[i], _ = strconv.Atoi(m[i+1])
	}
	server, min := "MySQL", MinMySQL
	if mariadb {
		server, min = "MariaDB", MinMariaDB
	}
	if v.less(min) {
		return fmt.Errorf("mysql: the server is %s %s; taskmodel needs %s %s or later", server, v, server, min)
	}
	return nil
}
