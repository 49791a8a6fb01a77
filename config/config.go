package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// FileName is the configuration file Load looks for.
const FileName = ".taskmodel.yml"

// TaskerFileName is the configuration file of tasker, the R package whose
// pipeline tracking taskmodel's pipeline commands carry on. Load reads it,
// and the TASKER_DB_* variables, when there is no taskmodel configuration.
const TaskerFileName = ".tasker.yml"

// Drivers.
const (
	PostgreSQL = "postgresql"
	SQLite     = "sqlite"
	// MySQL is MySQL or MariaDB (see backends/mysql for the versions).
	MySQL = "mysql"
)

// Database says which database to use. Zero fields are unset.
type Database struct {
	// URL is a postgres:// (or postgresql://) URL, a mysql:// URL, or
	// sqlite:PATH.
	URL string `json:"url,omitempty"`
	// Driver is "postgresql" (or "postgres"), "mysql" (or "mariadb") or
	// "sqlite". Without it, a URL's scheme, or else a host (PostgreSQL),
	// says which; with none of them it is SQLite.
	Driver string `json:"driver,omitempty"`
	Host   string `json:"host,omitempty"`
	Port   int    `json:"port,omitempty"`
	// Name is the database name, or for SQLite the database file.
	Name     string `json:"name,omitempty"`
	User     string `json:"user,omitempty"`
	Password string `json:"-"`
	// Schema is the PostgreSQL schema (search_path) the tables live in,
	// named exactly as written (case included); created if missing. SQLite ignores it; on MySQL, where a schema is a
	// database, it is an error (set Name).
	Schema string `json:"schema,omitempty"`
}

// Config is the resolved configuration.
type Config struct {
	Database Database
	// File is the configuration file that was read, "" when none.
	File string
	// Sources says where each set database key came from: "flag --db-host",
	// "environment TASKMODEL_DB_HOST", "/srv/p/.taskmodel.yml:3", "default",
	// "tasker default".
	Sources map[string]string
	// Tasker is true when the configuration came from tasker's: a
	// .tasker.yml, TASKER_DB_* variables and tasker's defaults.
	Tasker bool
	// Notes are for the user (standard error): where a configuration from
	// tasker was read, and what of it was skipped.
	Notes []string
}

// Options are Load's inputs. The zero value reads the real environment and
// walks up from the working directory.
type Options struct {
	// Flags are the values given on the command line; FlagNames maps their
	// keys ("host", "url", …) to the flag names errors should show.
	Flags     Database
	FlagNames map[string]string
	// File is a configuration file to read instead of walking up.
	File string
	// Dir is where the walk up starts and relative paths from flags and the
	// environment are resolved; "" means the working directory.
	Dir string
	// LookupEnv reads the environment; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
}

// Error is a configuration error: where the value came from, the key, and
// what is wrong.
type Error struct {
	// Source is "FILE:LINE", "environment", "flag", or "database" for a
	// Database given to Resolve.
	Source string
	// Key is the key as the source names it: "database.port",
	// "TASKMODEL_DB_PORT", "--db-port", or the field ("Port").
	Key     string
	Message string
}

func (e *Error) Error() string {
	if e.Key == "" {
		return e.Source + ": " + e.Message
	}
	return e.Source + ": " + e.Key + ": " + e.Message
}

// The environment variables Load reads.
const (
	EnvURL      = "TASKMODEL_DATABASE_URL"
	EnvHost     = "TASKMODEL_DB_HOST"
	EnvPort     = "TASKMODEL_DB_PORT"
	EnvName     = "TASKMODEL_DB_NAME"
	EnvUser     = "TASKMODEL_DB_USER"
	EnvPassword = "TASKMODEL_DB_PASSWORD"
	EnvSchema   = "TASKMODEL_DB_SCHEMA"
	EnvDriver   = "TASKMODEL_DB_DRIVER"
)

// The environment variables of tasker, read when there is no taskmodel
// configuration.
const (
	EnvTaskerHost     = "TASKER_DB_HOST"
	EnvTaskerPort     = "TASKER_DB_PORT"
	EnvTaskerName     = "TASKER_DB_NAME"
	EnvTaskerUser     = "TASKER_DB_USER"
	EnvTaskerPassword = "TASKER_DB_PASSWORD"
	EnvTaskerSchema   = "TASKER_DB_SCHEMA"
	EnvTaskerDriver   = "TASKER_DB_DRIVER"
)

// taskerKeys lists tasker's database keys with their variables (tasker has
// no URL).
var taskerKeys = []struct{ key, env string }{
	{"driver", EnvTaskerDriver}, {"host", EnvTaskerHost}, {"port", EnvTaskerPort}, {"name", EnvTaskerName},
	{"user", EnvTaskerUser}, {"password", EnvTaskerPassword}, {"schema", EnvTaskerSchema},
}

// keys lists the database keys in a fixed order, with their environment
// variables.
var keys = []struct{ key, env string }{
	{"url", EnvURL}, {"driver", EnvDriver}, {"host", EnvHost}, {"port", EnvPort},
	{"name", EnvName}, {"user", EnvUser}, {"password", EnvPassword}, {"schema", EnvSchema},
}

// level is one source's settings: key → value and where it came from.
type level map[string]setting

type setting struct {
	value  string
	source string // for Sources
	err    func(msg string) *Error
}

// Load resolves the configuration.
func Load(o Options) (*Config, error) {
	if o.LookupEnv == nil {
		o.LookupEnv = os.LookupEnv
	}
	dir := o.Dir
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, err
		}
		dir = wd
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	cfg := &Config{Sources: map[string]string{}}
	path := o.File
	if path == "" {
		path, err = Find(dir)
		if err != nil {
			return nil, err
		}
	}
	var file level
	if path != "" {
		if file, err = readFile(path, o.LookupEnv); err != nil {
			return nil, err
		}
		cfg.File = path
	}
	env := envLevel(o.LookupEnv, keys)
	flags := flagLevel(o.Flags, o.FlagNames)
	levels := []level{file, env, flags}
	if path == "" && len(env) == 0 {
		tasker, err := cfg.taskerLevels(dir, o.LookupEnv)
		if err != nil {
			return nil, err
		}
		if tasker != nil {
			levels = append(tasker, flags)
			path = cfg.File
		}
	}
	merged := level{}
	for _, l := range levels {
		if u, ok := l["url"]; ok {
			merged = level{"url": u} // a URL replaces everything below it
		}
		for k, s := range l {
			merged[k] = s
		}
	}
	if cfg.Tasker {
		taskerDefaults(merged, o.LookupEnv)
		// tasker ignores its schema on SQLite; so does taskmodel, when
		// tasker's configuration gave it (a flag is still refused).
		if d, ok := merged["driver"]; ok && slices.Contains([]string{"sqlite", "sqlite3"}, strings.ToLower(d.value)) {
			if sc, ok := merged["schema"]; ok && !strings.HasPrefix(sc.source, "flag ") {
				delete(merged, "schema")
				cfg.Notes = append(cfg.Notes, "the schema of tasker's configuration ("+sc.source+") is not used with SQLite")
			}
		}
	}
	if err := cfg.apply(merged, dir, path, o.LookupEnv); err != nil {
		return nil, err
	}
	return cfg, nil
}

// taskerLevels returns tasker's configuration, lowest first: the nearest
// .tasker.yml up from dir and the TASKER_DB_* variables; nil when there is
// neither. It sets cfg.File, cfg.Tasker and cfg.Notes.
func (cfg *Config) taskerLevels(dir string, lookup func(string) (string, bool)) ([]level, error) {
	path, err := FindTasker(dir)
	if err != nil {
		return nil, err
	}
	var file level
	var skipped []string
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if file, err = parseFile(path, data, lookup, fileMode{tasker: true, skipped: &skipped}); err != nil {
			return nil, err
		}
	}
	env := envLevel(lookup, taskerKeys)
	if path == "" && len(env) == 0 {
		return nil, nil
	}
	cfg.Tasker, cfg.File = true, path
	var from []string
	if path != "" {
		from = append(from, path)
	}
	for _, k := range taskerKeys {
		if _, ok := env[k.key]; ok {
			from = append(from, k.env)
		}
	}
	note := fmt.Sprintf("no %s and no TASKMODEL_* variables: using tasker's configuration (%s)",
		FileName, strings.Join(from, ", "))
	if len(skipped) > 0 {
		note += "; not used by taskmodel: " + strings.Join(skipped, ", ")
	}
	cfg.Notes = append(cfg.Notes, note)
	return []level{file, env}, nil
}

// taskerDefaults fills in tasker's defaults for the keys nothing set:
// driver postgresql and, for PostgreSQL, host localhost, port 5432, user
// $USER and schema tasker.
func taskerDefaults(m level, lookup func(string) (string, bool)) {
	if _, ok := m["url"]; ok {
		return
	}
	if d, ok := m["driver"]; ok {
		switch strings.ToLower(d.value) {
		case "postgresql", "postgres":
		default:
			return
		}
	}
	user, _ := lookup("USER")
	for _, d := range []struct{ key, value string }{
		{"driver", PostgreSQL}, {"host", "localhost"}, {"port", "5432"}, {"user", user}, {"schema", "tasker"},
	} {
		if _, ok := m[d.key]; ok || d.value == "" {
			continue
		}
		key := d.key
		m[key] = setting{value: d.value, source: "tasker default", err: func(msg string) *Error {
			return &Error{Source: "tasker default", Key: key, Message: msg}
		}}
	}
}

func envLevel(lookup func(string) (string, bool), keys []struct{ key, env string }) level {
	l := level{}
	for _, k := range keys {
		if v, ok := lookup(k.env); ok && v != "" {
			l[k.key] = setting{value: v, source: "environment " + k.env, err: func(msg string) *Error {
				return &Error{Source: "environment", Key: k.env, Message: msg}
			}}
		}
	}
	return l
}

func flagLevel(f Database, names map[string]string) level {
	return databaseLevel(f, func(k string) (string, string, string) {
		name := names[k]
		if name == "" {
			name = "--db-" + k
		}
		return "flag " + name, "flag", name
	})
}

// fieldNames are the Database fields of the keys, for the errors of Resolve.
var fieldNames = map[string]string{"url": "URL", "driver": "Driver", "host": "Host", "port": "Port",
	"name": "Name", "user": "User", "password": "Password", "schema": "Schema"}

// fieldLevel is the level of a Database given directly (to Resolve): its
// errors name the field ("database: Port: …").
func fieldLevel(f Database) level {
	return databaseLevel(f, func(k string) (string, string, string) {
		return "field " + fieldNames[k], "database", fieldNames[k]
	})
}

// databaseLevel is the level of f's set fields; name gives a key's source
// (for Sources) and the Source and Key of its errors.
func databaseLevel(f Database, name func(key string) (source, errSource, errKey string)) level {
	l := level{}
	values := map[string]string{"url": f.URL, "driver": f.Driver, "host": f.Host, "name": f.Name,
		"user": f.User, "password": f.Password, "schema": f.Schema}
	if f.Port != 0 {
		values["port"] = strconv.Itoa(f.Port)
	}
	for k, v := range values {
		if v == "" {
			continue
		}
		source, errSource, errKey := name(k)
		l[k] = setting{value: v, source: source, err: func(msg string) *Error {
			return &Error{Source: errSource, Key: errKey, Message: msg}
		}}
	}
	return l
}

// Resolve returns the database d names, resolved by the rules Load applies
// to its settings: the driver is Driver, else the URL's scheme, else
// PostgreSQL when Host is set, else SQLite; a SQLite URL's path is the file
// when Name is unset; a relative SQLite file is made absolute against the
// working directory; with neither Name nor URL, SQLite uses the default
// file (DefaultSQLitePath). It refuses what Load refuses (an unknown driver,
// a driver the URL contradicts, a port outside 1-65535, a host or schema
// with SQLite…) with an *Error naming the field: `database: Port: "-1" is
// not a port number (1-65535)`. A Database from Load is resolved already,
// and resolving it again returns it unchanged. Open functions taking a
// Database (sdk/pipeline.Open, auth.Open) resolve it first.
func (d Database) Resolve() (Database, error) {
	dir, err := os.Getwd()
	if err != nil {
		dir = "" // relative SQLite files stay relative
	}
	cfg := &Config{Sources: map[string]string{}}
	if err := cfg.apply(fieldLevel(d), dir, "", os.LookupEnv); err != nil {
		return Database{}, err
	}
	return cfg.Database, nil
}

// apply checks the merged settings and fills cfg.Database. Relative SQLite
// paths resolve against the file's directory when they come from the file,
// else against dir.
func (cfg *Config) apply(m level, dir, file string, lookup func(string) (string, bool)) error {
	d := &cfg.Database
	for _, k := range keys {
		s, ok := m[k.key]
		if !ok {
			continue
		}
		cfg.Sources[k.key] = s.source
		switch k.key {
		case "url":
			d.URL = s.value
		case "driver":
			switch strings.ToLower(s.value) {
			case "postgresql", "postgres":
				d.Driver = PostgreSQL
			case "sqlite", "sqlite3":
				d.Driver = SQLite
			case "mysql", "mariadb":
				d.Driver = MySQL
			default:
				return s.err(fmt.Sprintf("unknown driver %q; allowed: postgresql, mysql, sqlite", s.value))
			}
		case "host":
			d.Host = s.value
		case "port":
			p, err := strconv.Atoi(s.value)
			if err != nil || p < 1 || p > 65535 {
				return s.err(fmt.Sprintf("%q is not a port number (1-65535)", s.value))
			}
			d.Port = p
		case "name":
			d.Name = s.value
		case "user":
			d.User = s.value
		case "password":
			d.Password = s.value
		case "schema":
			if !schemaName.MatchString(s.value) {
				return s.err(fmt.Sprintf("%q is not a schema name: letters, digits and _ (not first a digit), at most 63", s.value))
			}
			d.Schema = s.value
		}
	}
	if d.URL != "" {
		driver, path, err := parseURL(d.URL)
		if err != nil {
			return m["url"].err(err.Error())
		}
		if d.Driver != "" && d.Driver != driver {
			return m["driver"].err(fmt.Sprintf("%s contradicts the %s URL from %s", d.Driver, driver, m["url"].source))
		}
		d.Driver = driver
		if driver == SQLite && d.Name == "" {
			d.Name = path
			m["name"] = m["url"]
		}
	}
	if d.Driver == "" {
		d.Driver = SQLite
		if d.Host != "" {
			d.Driver = PostgreSQL
		}
	}
	if d.Driver == SQLite {
		if d.Name == "" {
			p, err := DefaultSQLitePath(lookup)
			if err != nil {
				return err
			}
			d.Name = p
			cfg.Sources["name"] = "default"
		} else if !filepath.IsAbs(d.Name) && d.Name != ":memory:" {
			base := dir
			if strings.HasPrefix(m["name"].source, file+":") && file != "" {
				base = filepath.Dir(file)
			}
			d.Name = filepath.Join(base, d.Name)
		}
		for _, k := range []string{"host", "port", "user", "password"} {
			if s, ok := m[k]; ok {
				return s.err("applies to PostgreSQL and MySQL only, and the driver is sqlite (set driver: postgresql or mysql)")
			}
		}
		if s, ok := m["schema"]; ok {
			return s.err("applies to PostgreSQL only, and the driver is sqlite (a PostgreSQL database URL or driver: postgresql uses it)")
		}
	}
	if d.Driver == MySQL {
		if s, ok := m["schema"]; ok {
			return s.err("applies to PostgreSQL only; on MySQL a schema is a database: set name instead")
		}
	}
	return nil
}

// DefaultSQLitePath returns where the embedded SQLite database lives when
// nothing is configured: $XDG_DATA_HOME/taskmodel/taskmodel.db, by default
// ~/.local/share/taskmodel/taskmodel.db.
func DefaultSQLitePath(lookup func(string) (string, bool)) (string, error) {
	if d, ok := lookup("XDG_DATA_HOME"); ok && filepath.IsAbs(d) {
		return filepath.Join(d, "taskmodel", "taskmodel.db"), nil
	}
	home, ok := lookup("HOME")
	if !ok || home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", errors.New("no database configured and no home directory for the default SQLite file; set TASKMODEL_DATABASE_URL or XDG_DATA_HOME")
		}
		home = h
	}
	return filepath.Join(home, ".local", "share", "taskmodel", "taskmodel.db"), nil
}

// schemaName is a PostgreSQL schema name taskmodel accepts. It is used
// exactly as written, case included: taskmodel quotes it wherever it names
// the schema (CREATE SCHEMA, search_path).
var schemaName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)

func parseURL(raw string) (driver, path string, err error) {
	if p, ok := strings.CutPrefix(raw, "sqlite:"); ok {
		p = strings.TrimPrefix(p, "//")
		if p == "" {
			return "", "", errors.New("sqlite URL without a path; write sqlite:PATH or sqlite:///ABSOLUTE/PATH")
		}
		return SQLite, p, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("not a URL: %v", redactErr(err))
	}
	switch u.Scheme {
	case "postgres", "postgresql":
		return PostgreSQL, "", nil
	case "mysql":
		return MySQL, "", nil
	}
	if u.Scheme == "" {
		// The value is not repeated: a connection string of another form
		// ("host=db password=…") may hold a password.
		return "", "", errors.New("not a database URL: it has no scheme; use postgres://…, mysql://… or sqlite:PATH")
	}
	return "", "", fmt.Errorf("unsupported URL scheme %q; use postgres://…, mysql://… or sqlite:PATH", u.Scheme)
}

// redactErr drops the URL (which may hold a password) from a url.Parse error.
func redactErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// PostgresURL returns the connection URL of a PostgreSQL database: URL
// refined by the keys that are set, or one built from them. Schema is not
// part of it (see Database.Schema).
func (d Database) PostgresURL() (string, error) { return d.serverURL("postgres") }

// MySQLURL returns the mysql:// URL of a MySQL or MariaDB database: URL
// refined by the keys that are set, or one built from them (host
// 127.0.0.1 when none is set, as backends/mysql reads it).
func (d Database) MySQLURL() (string, error) { return d.serverURL("mysql") }

// serverURL is the URL of a database server with scheme.
func (d Database) serverURL(scheme string) (string, error) {
	u := &url.URL{Scheme: scheme}
	if d.URL != "" {
		p, err := url.Parse(d.URL)
		if err != nil {
			return "", fmt.Errorf("database URL: %v", redactErr(err))
		}
		u = p
	}
	if d.Host != "" || d.Port != 0 {
		host, port := u.Hostname(), u.Port()
		if d.Host != "" {
			host = d.Host
		}
		if d.Port != 0 {
			port = strconv.Itoa(d.Port)
		}
		u.Host = host
		if port != "" {
			u.Host = net.JoinHostPort(host, port)
		} else if strings.Contains(host, ":") {
			u.Host = "[" + host + "]"
		}
	}
	if d.Name != "" {
		u.Path = "/" + d.Name
	}
	if d.User != "" || d.Password != "" {
		user := d.User
		if user == "" && u.User != nil {
			user = u.User.Username()
		}
		pw, set := d.Password, d.Password != ""
		if !set && u.User != nil {
			pw, set = u.User.Password()
		}
		if set {
			u.User = url.UserPassword(user, pw)
		} else {
			u.User = url.User(user)
		}
	}
	return u.String(), nil
}

// String describes the database as Resolve resolves it, without its
// password: the driver and the SQLite file ("sqlite /srv/p.db") or the
// server's URL ("postgresql postgres://u:xxxxx@db/geodb schema tasker").
// A Database Resolve refuses is described by the error.
func (d Database) String() string {
	d, err := d.Resolve()
	if err != nil {
		return "database (not valid: " + err.Error() + ")"
	}
	driver, scheme := PostgreSQL, "postgres"
	switch d.Driver {
	case SQLite:
		return "sqlite " + d.Name
	case MySQL:
		driver, scheme = MySQL, "mysql"
	}
	s, err := d.serverURL(scheme)
	if err != nil {
		return driver + " (bad URL)"
	}
	u, err := url.Parse(s)
	if err != nil {
		return driver + " (bad URL)"
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	out := driver + " " + u.Redacted()
	if strings.HasSuffix(out, ":") {
		out += "//" // no host, port, user or name: the client's defaults
	}
	if d.Schema != "" {
		out += " schema " + d.Schema
	}
	return out
}
