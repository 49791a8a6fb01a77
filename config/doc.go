// Package config finds taskmodel's configuration: which database the CLI,
// the SDK's Open and the HTTP server use. tasker's rules (the R package
// whose pipeline tracking taskmodel carries on), with TASKMODEL_ names:
//
//  1. command-line flags (the caller passes them in Options.Flags);
//  2. the environment: TASKMODEL_DATABASE_URL, or TASKMODEL_DB_HOST, _PORT,
//     _NAME, _USER, _PASSWORD, _SCHEMA and _DRIVER;
//  3. the file .taskmodel.yml, found by walking up from the working
//     directory (or named by Options.File), whose values may use ${VAR},
//     ${VAR:-default} and $$ for a literal $ (see the example below);
//  4. without a .taskmodel.yml or a TASKMODEL_ variable, tasker's
//     configuration: the nearest .tasker.yml, the TASKER_DB_HOST, _PORT,
//     _NAME, _USER, _PASSWORD, _SCHEMA and _DRIVER variables over it, and
//     tasker's defaults (driver postgresql; host localhost, port 5432, user
//     $USER, schema tasker), read as tasker reads them (an unset ${VAR} is
//     empty; other sections are skipped); Config.Tasker and Config.Notes
//     say so;
//  5. with nothing configured, the embedded SQLite database in the user's
//     data directory: $XDG_DATA_HOME/taskmodel/taskmodel.db, by default
//     ~/.local/share/taskmodel/taskmodel.db.
//
// A .taskmodel.yml:
//
//	database:
//	  host: localhost
//	  port: 5432
//	  name: geodb          # or dbname, tasker's spelling
//	  user: ${USER}
//	  password: ${TASKMODEL_DB_PASSWORD}
//	  schema: tasker
//	  driver: postgresql   # or mysql (MySQL, MariaDB), or sqlite, where name is the database file
//
// Each key is taken from the highest level that sets it, with one rule for
// URLs: a URL replaces every key set below its level (a URL in the
// environment overrides the file's host), while keys set at the same or a
// higher level refine it (a URL in the file, the password from the
// environment).
//
// Why the data directory and not the working directory for the default:
// the scripts of one pipeline run from many directories, and a database per
// directory would split one pipeline's records silently. A project that
// wants its own file says so in .taskmodel.yml (driver: sqlite, name:
// pipeline.db), found from any of its subdirectories; a relative name in the
// file is relative to the file's directory.
//
// Errors name where the bad value came from: the file, line and key
// (".taskmodel.yml:4: database.port: "x" is not a port number (1-65535)"),
// the environment variable, or the flag.
package config
