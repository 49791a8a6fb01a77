package mysql

// NotYetError is the error of a command or feature that needs the task
// models on MySQL, whose drivers are not generated yet: serve, the migrate
// commands, pipeline tracking. Auth tokens work on MySQL already.
type NotYetError struct {
	// What cannot run: "serve", "migrate", "pipeline tracking".
	What string
}

func (e *NotYetError) Error() string {
	return e.What + " cannot use MySQL yet: the task models' MySQL drivers are not generated yet; use PostgreSQL or SQLite for it"
}
