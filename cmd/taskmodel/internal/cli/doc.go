// Package cli is the taskmodel command: a cobra command tree with one file
// per command group (pipeline.go, run.go, subtask.go, query.go, watch.go,
// sample.go, serve.go, token.go, migrate.go, work.go, tasks.go). A new group is a file with a constructor taking the *App,
// listed once in commands (root.go).
//
// # Exit codes
//
// Scripts can rely on them:
//
//	0  success
//	1  any other failure (the database unreachable, say)
//	2  usage: unknown command or flag, missing or malformed argument
//	3  not found: unknown run id, subtask, task or token id (a task the token cannot see)
//	4  invalid input: a value outside its limits (percent 120, negative items, a bad user name)
//	5  not allowed: an illegal status change for the run or subtask's status
//	6  conflict: already exists (a subtask started twice), or changed concurrently
//	7  configuration error (the file, line and key are named)
//
// Errors go to standard error as "taskmodel: MESSAGE", or with --json as
// {"error": MESSAGE, "code": "not_found", "exit": 3}. Tracking lines
// ("[TASK START] …") go to standard error; -q silences them. Standard
// output carries only results: the run id from run start, tables, or JSON
// with --json.
package cli
