package mysql

import (
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/taskmodel/taskmodel/backends/sqltable"
)

// A batch of transitions is one parameter, @tm_batch: a JSON array with an
// array per transition, which the model's Transition statements read with
// JSON_TABLE. Each array holds, in this order, the task's status and
// version before the transition (the guard), its history row's event,
// time, attempt, actor and message, then the value of every column of the
// table in the order of sqltable.Table.Columns. taskgen's mysqlBatchHead
// names the same head.
//
// A value that may be null (the event, and every column's) is an array of
// one, or an empty array for null, read with the path '$[i][0]': a path
// that finds nothing gives SQL NULL on MySQL and MariaDB alike, whereas a
// JSON null read into a text column gives NULL on MariaDB and the text
// "null" on MySQL 8.
//
// One parameter for the whole batch lets the server parse and plan each
// statement once a batch, not once a transition: in the worker benchmark
// the statements of a batch of 256 cost the server about half the CPU of
// 256 pairs of guarded statements.

// batchTime is how a time is written in a batch: DATETIME(6)'s text, in
// UTC, to the microsecond (the column's precision; the rest is cut, as
// the driver's other statements cut it).
const batchTime = "2006-01-02 15:04:05.000000"

// appendBatch appends the JSON array of the calls' transitions to dst.
func appendBatch[T any](dst []byte, t *sqltable.Compiled[T], calls []sqltable.Call[T]) ([]byte, error) {
	cols := t.Cols()
	vals := make([]any, len(cols))
	dst = append(dst, '[')
	for i := range calls {
		c := &calls[i]
		if err := t.Table.Values(c.Task, vals); err != nil {
			return nil, err
		}
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '[')
		dst = appendString(dst, c.From.Status)
		dst = append(dst, ',')
		dst = strconv.AppendInt(dst, c.From.Version, 10)
		dst = append(dst, ',')
		dst = append(dst, '[')
		if c.History.Event != "" {
			dst = appendString(dst, c.History.Event)
		}
		dst = append(dst, ']')
		dst = append(dst, ',')
		dst = appendTime(dst, c.History.At)
		dst = append(dst, ',')
		dst = strconv.AppendInt(dst, int64(c.History.Attempt), 10)
		dst = append(dst, ',')
		dst = appendString(dst, c.History.Actor)
		dst = append(dst, ',')
		dst = appendString(dst, c.History.Message)
		for j, v := range vals {
			dst = append(dst, ',', '[')
			var err error
			if dst, err = appendValue(dst, v); err != nil {
				return nil, fmt.Errorf("%s: %w", cols[j].Name, err)
			}
			dst = append(dst, ']')
		}
		dst = append(dst, ']')
	}
	return append(dst, ']'), nil
}

// appendValue appends a column's parameter (the types sqltable.Table.Values
// sets) as a JSON value: nothing for nil.
func appendValue(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return dst, nil
	case string:
		return appendString(dst, v), nil
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%v is not a number MySQL stores", v)
		}
		return strconv.AppendFloat(dst, v, 'g', -1, 64), nil
	case bool:
		return strconv.AppendBool(dst, v), nil
	case time.Time:
		return appendTime(dst, v), nil
	case uuid.UUID:
		dst = append(dst, '"')
		dst = append(dst, v.String()...)
		return append(dst, '"'), nil
	}
	return nil, fmt.Errorf("a value of type %T has no form in a batch", v)
}

// appendTime appends t as a JSON string of DATETIME(6)'s text.
func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.UTC().AppendFormat(dst, batchTime)
	return append(dst, '"')
}

// appendString appends s as a JSON string. Invalid UTF-8 is kept byte for
// byte, as the driver's other statements send it, so that the server
// refuses it as it refuses them, rather than storing U+FFFD.
func appendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b >= utf8.RuneSelf || (b >= 0x20 && b != '"' && b != '\\') {
			i++
			continue
		}
		dst = append(dst, s[start:i]...)
		switch b {
		case '"', '\\':
			dst = append(dst, '\\', b)
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xf])
		}
		i++
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
