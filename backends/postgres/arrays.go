package postgres

import (
	"database/sql/driver"
	"encoding/binary"
	"errors"
	"math"
	"reflect"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// RegisterArrays makes m encode the column arrays of the batch statements
// (CreateMany, TransitionMany: one array per column, an element per task)
// in PostgreSQL's binary array format directly. pgx's array codec encodes
// each element through an interface, boxing it (an allocation per element,
// a further one per time.Time) and looking up its plan by reflection: two
// fifths of the allocations of a worked task, and a share of the client's
// time, went there. The bytes sent are the same as pgx's.
//
// It changes nothing else: only the drivers' own array arguments take the
// direct encoding, and every other value, of the caller's own statements
// included, goes through pgx's codecs as before. Without it those
// arguments are encoded by pgx's codecs too. OpenConfig registers it on
// every connection of its pool; a pool configured elsewhere can call it
// from AfterConnect.
func RegisterArrays(m *pgtype.Map) {
	if slices.ContainsFunc(m.TryWrapEncodePlanFuncs, isTryWrapBinaryArray) {
		return
	}
	m.TryWrapEncodePlanFuncs = append([]pgtype.TryWrapEncodePlanFunc{tryWrapBinaryArray}, m.TryWrapEncodePlanFuncs...)
}

// binaryArray is a driver's array argument: a slice with the element type
// the batch statements cast it to, able to write itself in the binary
// format, and a driver.Valuer whose value is the slice itself, so that a
// type map without RegisterArrays encodes it through pgx's array codec.
type binaryArray interface {
	driver.Valuer
	appendBinary(buf []byte) ([]byte, error)
	slice() any
}

// tryWrapBinaryArray is pgx's hook for values its codecs have no plan for
// (a binaryArray is not a pgtype.ArrayGetter): the plan of a binaryArray.
func tryWrapBinaryArray(value any) (pgtype.WrappedEncodePlanNextSetter, any, bool) {
	a, ok := value.(binaryArray)
	if !ok {
		return nil, nil, false
	}
	// pgx plans the slice too (the plan's next, which it does not use): a
	// plan for the wrapper is only made when the slice has one.
	return binaryArrayPlan{}, a.slice(), true
}

// isTryWrapBinaryArray tells tryWrapBinaryArray apart in a list of hooks.
func isTryWrapBinaryArray(f pgtype.TryWrapEncodePlanFunc) bool {
	return reflect.ValueOf(f).Pointer() == reflect.ValueOf(pgtype.TryWrapEncodePlanFunc(tryWrapBinaryArray)).Pointer()
}

type binaryArrayPlan struct{}

func (binaryArrayPlan) SetNext(pgtype.EncodePlan) {}

func (binaryArrayPlan) Encode(value any, buf []byte) ([]byte, error) {
	return value.(binaryArray).appendBinary(buf)
}

// arrayArg returns a batch statement's argument v as a binaryArray when it
// is one of the slices sqltable.BindMany makes, with the element type the
// generated statements cast it to (text[], bigint[], integer[], double
// precision[], boolean[], timestamptz[], uuid[], jsonb[]: a nil []byte is
// NULL), and v itself otherwise.
func arrayArg(v any) any {
	switch v := v.(type) {
	case []string:
		return flat[string]{pgtype.TextOID, v, appendString}
	case []int64:
		return flat[int64]{pgtype.Int8OID, v, appendInt64}
	case []int32:
		return flat[int32]{pgtype.Int4OID, v, appendInt32}
	case []float64:
		return flat[float64]{pgtype.Float8OID, v, appendFloat64}
	case []bool:
		return flat[bool]{pgtype.BoolOID, v, appendBool}
	case []time.Time:
		return flat[time.Time]{pgtype.TimestamptzOID, v, appendTimestamptz}
	case []uuid.UUID:
		return flat[uuid.UUID]{pgtype.UUIDOID, v, appendUUID}
	case [][]byte:
		return flat[[]byte]{pgtype.JSONBOID, v, appendJSONB}
	}
	return v
}

// arrayArgs applies arrayArg to each of args, in place.
func arrayArgs(args []any) []any {
	for i, a := range args {
		args[i] = arrayArg(a)
	}
	return args
}

// flat is a []V sent as a one-dimensional array whose elements have type
// OID elem; put appends an element's value, or reports it NULL.
type flat[V any] struct {
	elem uint32
	vs   []V
	put  func(buf []byte, v V) (out []byte, null bool)
}

func (a flat[V]) slice() any { return a.vs }

// Value implements driver.Valuer: the slice, which pgx's codecs encode.
func (a flat[V]) Value() (driver.Value, error) {
	if a.vs == nil {
		return nil, nil
	}
	return a.vs, nil
}

// appendBinary writes the header (one dimension, the NULL flag, the
// element type, the length and lower bound 1), then each element's length
// and value, as pgx's array codec writes them; a nil slice is NULL.
func (a flat[V]) appendBinary(buf []byte) ([]byte, error) {
	if a.vs == nil {
		return nil, nil
	}
	if len(a.vs) > math.MaxInt32 {
		return nil, errTooLong
	}
	start := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, 1)
	buf = binary.BigEndian.AppendUint32(buf, 0) // no NULL: set below if one is
	buf = binary.BigEndian.AppendUint32(buf, a.elem)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(a.vs)))
	buf = binary.BigEndian.AppendUint32(buf, 1)
	for _, v := range a.vs {
		at := len(buf)
		buf = binary.BigEndian.AppendUint32(buf, 0)
		var null bool
		buf, null = a.put(buf, v)
		if null {
			binary.BigEndian.PutUint32(buf[start+4:], 1)
			binary.BigEndian.PutUint32(buf[at:], math.MaxUint32) // length -1
			continue
		}
		n := len(buf) - at - 4
		if n > math.MaxInt32 {
			return nil, errTooLong
		}
		binary.BigEndian.PutUint32(buf[at:], uint32(n))
	}
	return buf, nil
}

var errTooLong = errors.New("postgres: an array or one of its elements is longer than 2 GiB")

func appendString(buf []byte, v string) ([]byte, bool) { return append(buf, v...), false }

func appendInt64(buf []byte, v int64) ([]byte, bool) {
	return binary.BigEndian.AppendUint64(buf, uint64(v)), false
}

func appendInt32(buf []byte, v int32) ([]byte, bool) {
	return binary.BigEndian.AppendUint32(buf, uint32(v)), false
}

func appendFloat64(buf []byte, v float64) ([]byte, bool) {
	return binary.BigEndian.AppendUint64(buf, math.Float64bits(v)), false
}

func appendBool(buf []byte, v bool) ([]byte, bool) {
	if v {
		return append(buf, 1), false
	}
	return append(buf, 0), false
}

// microsecondsToY2K is 2000-01-01 00:00:00 UTC, PostgreSQL's epoch, in
// microseconds since the Unix epoch.
const microsecondsToY2K = 946684800 * 1000000

func appendTimestamptz(buf []byte, v time.Time) ([]byte, bool) {
	us := v.Unix()*1000000 + int64(v.Nanosecond())/1000
	return binary.BigEndian.AppendUint64(buf, uint64(us-microsecondsToY2K)), false
}

func appendUUID(buf []byte, v uuid.UUID) ([]byte, bool) { return append(buf, v[:]...), false }

// appendJSONB writes jsonb's binary format: a version byte, 1, then the
// text; a nil element is NULL.
func appendJSONB(buf []byte, v []byte) ([]byte, bool) {
	if v == nil {
		return buf, true
	}
	return append(append(buf, 1), v...), false
}
