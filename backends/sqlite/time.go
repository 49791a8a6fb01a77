package sqlite

import (
	"fmt"
	"time"
)

// Time scans a time the generated listing reads through an expression
// rather than a column: the first entry time of a model's terminal statuses
// (coalesce), or a model's NULL end date. SQLite gives such a result column
// no declared type, and the driver returns a DATETIME without one as the
// text it stored, which database/sql does not turn into a time.Time.
type Time time.Time

// Scan implements sql.Scanner: a time.Time, or text as the driver writes a
// time (time.Time.String) or in one of SQLite's formats (without a zone:
// UTC).
func (t *Time) Scan(v any) error {
	switch v := v.(type) {
	case time.Time:
		*t = Time(v)
		return nil
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	case nil:
		*t = Time{}
		return nil
	}
	return fmt.Errorf("sqlite: a time column holds %v, neither a time nor text", v)
}

func (t *Time) parse(s string) error {
	if p, ok := parseTimeText(s); ok {
		*t = Time(p)
		return nil
	}
	return fmt.Errorf("sqlite: a time column holds %q, which is in none of SQLite's time formats", s)
}
