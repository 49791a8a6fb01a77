package server

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/google/uuid"
)

// TimeoutNearLimit bounds the tasks ModelTimeouts lists per status.
const TimeoutNearLimit = 5

// timeoutScan bounds the index entries a user's list reads per status: the
// oldest entries of the status, of which the user's are kept.
const timeoutScan = 1000

// NearTimeout is a task waiting in a status with a timeout.
type NearTimeout struct {
	ID string
	// EnteredAt is when the task entered the status (the status's
	// entered_at field), Due when its timeout moves it (EnteredAt plus the
	// timeout; the sweeper applies it at its next pass after Due).
	EnteredAt, Due time.Time
}

// ModelTimeouts lists, for each status of model with a timeout, the tasks
// closest to it as u may see them: the TimeoutNearLimit that entered the
// status first, read over the status's timeout index (the one the sweeper
// reads), and for a user from the oldest timeoutScan entries of it. ok is
// false on a backend that cannot (memory).
func (s *Server) ModelTimeouts(ctx context.Context, u User, model string) (near map[string][]NearTimeout, ok bool, err error) {
	b, found := s.models.byName[model]
	if !found {
		return nil, false, notFound(fmt.Sprintf("no model %q", truncate(model, 80)))
	}
	if s.models.backend.memory {
		return nil, false, nil
	}
	near = map[string][]NearTimeout{}
	owner, scoped, none := ownerScope(u, b)
	if none {
		return near, true, nil
	}
	col := ""
	if scoped {
		col = b.api().Owner
	}
	for _, st := range b.lifecycle().Timeouts() {
		tasks, err := s.models.backend.nearTimeout(ctx, model, st.Name, st.EnteredAt, col, owner)
		if err != nil {
			return nil, false, err
		}
		for i := range tasks {
			tasks[i].Due = tasks[i].EnteredAt.Add(st.Timeout.After)
		}
		near[st.Name] = tasks
	}
	return near, true, nil
}

// nearTimeout reads the tasks of status that entered it first (at their
// entered column), of one owner when col is set.
func (b *Backend) nearTimeout(ctx context.Context, model, status, entered, col, owner string) ([]NearTimeout, error) {
	if !reTable.MatchString(model) || !reTable.MatchString(entered) || (col != "" && !reTable.MatchString(col)) || !reStatus.MatchString(status) {
		return nil, fmt.Errorf("server: %q.%q.%q (status %q) is not a table and column names", model, entered, col, status)
	}
	q, err := b.nearTimeoutQuery(ctx, model, status, entered, col)
	if err != nil {
		return nil, err
	}
	var args []any
	if col != "" {
		args = append(args, owner)
	}
	var out []NearTimeout
	add := func(id any, at any) {
		n := NearTimeout{ID: fmt.Sprint(id)}
		switch v := id.(type) {
		case string:
			n.ID = v
		case []byte:
			n.ID = string(v)
		case uuid.UUID:
			n.ID = v.String()
		case [16]byte:
			n.ID = uuid.UUID(v).String()
		}
		if t, ok := anyTime(at); ok {
			n.EnteredAt = t
		}
		out = append(out, n)
	}
	switch db, stmt, params, err := b.sqlDB(q, args); {
	case err != nil:
		return nil, err
	case db != nil:
		rows, err := db.QueryContext(ctx, stmt, params...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var id, at any
			if err := rows.Scan(&id, &at); err != nil {
				return nil, err
			}
			add(id, at)
		}
		return out, rows.Err()
	case b.pg != nil:
		rows, err := b.pg.Query(ctx, q, args...)
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		for rows.Next() {
			var id uuid.UUID
			var at time.Time
			if err := rows.Scan(&id, &at); err != nil {
				return nil, err
			}
			add(id, at)
		}
		return out, rows.Err()
	}
	return nil, nil
}

// nearTimeoutQuery is nearTimeoutSQL on b's engine: on SQLite, whose
// planner without statistics prefers the (status, created_at) index and
// sorts, it names the status's timeout index, which gives the order.
func (b *Backend) nearTimeoutQuery(ctx context.Context, model, status, entered, col string) (string, error) {
	q := nearTimeoutSQL(model, status, entered, col)
	if b.sqlite == nil {
		return q, nil
	}
	name, err := b.timeoutIndex(ctx, model, status)
	if err != nil || name == "" {
		return q, err
	}
	return strings.Replace(q, `FROM "`+model+`" WHERE`, `FROM "`+model+`" INDEXED BY "`+name+`" WHERE`, 1), nil
}

// nearTimeoutSQL reads the first tasks to have entered status over its
// timeout index (on the entered column, partial: WHERE status = the
// status, which is why the status is in the statement and not a
// parameter); for one owner ($1), among the oldest timeoutScan entries.
func nearTimeoutSQL(model, status, entered, col string) string {
	inner := `SELECT id, "` + entered + `" AS entered` + ownerColumn(col) + ` FROM "` + model + `" WHERE status = '` + status + `' AND "` + entered + `" IS NOT NULL ORDER BY "` + entered + `" ASC`
	if col == "" {
		return inner + fmt.Sprintf(" LIMIT %d", TimeoutNearLimit)
	}
	return `SELECT id, entered FROM (` + inner + fmt.Sprintf(" LIMIT %d", timeoutScan) + `) w WHERE w.owner = $1 ORDER BY entered ASC` + fmt.Sprintf(" LIMIT %d", TimeoutNearLimit)
}

// reStatus is a status name the statements may hold as a literal (the spec
// language's status names are of these characters).
var reStatus = regexp.MustCompile(`^[A-Za-z0-9_-]{1,100}$`)

func ownerColumn(col string) string {
	if col == "" {
		return ""
	}
	return `, "` + col + `" AS owner`
}

// timeoutIndex finds the SQLite index of model's status timeout (partial,
// WHERE status = 'STATUS'), "" when there is none; found names are kept.
func (b *Backend) timeoutIndex(ctx context.Context, model, status string) (string, error) {
	key := model + "\x00" + status
	if v, ok := b.timeoutIndexes.Load(key); ok {
		return v.(string), nil
	}
	var name string
	err := b.sqlite.QueryRowContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ?1 AND name LIKE '%\_timeout\_idx' ESCAPE '\' AND sql LIKE ?2 ORDER BY name LIMIT 1`,
		model, "%WHERE status = '"+status+"'").Scan(&name)
	if err != nil && !isNoRows(err) {
		return "", err
	}
	if name != "" && reTable.MatchString(name) {
		b.timeoutIndexes.Store(key, name)
		return name, nil
	}
	return "", nil
}
