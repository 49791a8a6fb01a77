package postgres

import (
	"encoding/binary"
	"errors"
	"math"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"
)

// RegisterArrays makes m encode the slices a batch statement binds — one
// array per column, an element per task (CreateMany, TransitionMany) — in
// PostgreSQL's binary array format directly: []string as text[] or
// varchar[], []int64 as bigint[], []int32 as integer[], []float64 as double
// precision[], []bool as boolean[], []time.Time as timestamptz[],
// []uuid.UUID as uuid[], and [][]byte (a nil element is NULL) as jsonb[],
// json[] and bytea[]. pgx's own array codec encodes each element through an
// interface, boxing it (an allocation per element, a further one per
// time.Time) and looking up its plan by reflection: two fifths of the
// allocations of a worked task, and a share of the client's time, went
// there. The bytes sent are the same as pgx's; other values, the text
// format and scanning go through pgx's array codec. OpenConfig registers it
// on every connection of its pool; a pool configured elsewhere can call it
// from AfterConnect, with RegisterUUID.
func RegisterArrays(m *pgtype.Map) {
	for _, oid := range []uint32{
		pgtype.TextArrayOID, pgtype.VarcharArrayOID, pgtype.Int8ArrayOID, pgtype.Int4ArrayOID,
		pgtype.Float8ArrayOID, pgtype.BoolArrayOID, pgtype.TimestamptzArrayOID, pgtype.UUIDArrayOID,
		pgtype.JSONBArrayOID, pgtype.JSONArrayOID, pgtype.ByteaArrayOID,
	} {
		t, ok := m.TypeForOID(oid)
		if !ok {
			continue
		}
		ac, ok := t.Codec.(*pgtype.ArrayCodec)
		if !ok {
			continue
		}
		m.RegisterType(&pgtype.Type{Name: t.Name, OID: t.OID, Codec: arrayCodec{ac}})
	}
}

// arrayCodec is pgx's ArrayCodec with a binary plan for the flat slices
// RegisterArrays lists.
type arrayCodec struct{ *pgtype.ArrayCodec }

func (c arrayCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if format == pgtype.BinaryFormatCode {
		if p := flatPlan(c.ElementType.OID, value); p != nil {
			return p
		}
	}
	return c.ArrayCodec.PlanEncode(m, oid, format, value)
}

// flatPlan is the plan encoding value, a slice, as an array of elem; nil
// when value's type is not one of elem's.
func flatPlan(elem uint32, value any) pgtype.EncodePlan {
	switch value.(type) {
	case []string:
		if elem == pgtype.TextOID || elem == pgtype.VarcharOID {
			return flat[string]{elem, appendString}
		}
	case []int64:
		if elem == pgtype.Int8OID {
			return flat[int64]{elem, appendInt64}
		}
	case []int32:
		if elem == pgtype.Int4OID {
			return flat[int32]{elem, appendInt32}
		}
	case []float64:
		if elem == pgtype.Float8OID {
			return flat[float64]{elem, appendFloat64}
		}
	case []bool:
		if elem == pgtype.BoolOID {
			return flat[bool]{elem, appendBool}
		}
	case []time.Time:
		if elem == pgtype.TimestamptzOID {
			return flat[time.Time]{elem, appendTimestamptz}
		}
	case []uuid.UUID:
		if elem == pgtype.UUIDOID {
			return flat[uuid.UUID]{elem, appendUUID}
		}
	case [][]byte:
		switch elem {
		case pgtype.JSONBOID:
			return flat[[]byte]{elem, appendJSONB}
		case pgtype.JSONOID, pgtype.ByteaOID:
			return flat[[]byte]{elem, appendBytes}
		}
	}
	return nil
}

// flat encodes a []V as a one-dimensional array whose elements have type
// OID elem; put appends an element's value, or reports it NULL.
type flat[V any] struct {
	elem uint32
	put  func(buf []byte, v V) (out []byte, null bool)
}

// Encode writes the header (dimensions, the NULL flag, the element type,
// the length and lower bound 1), then each element's length and value. A
// nil slice is NULL, and an empty one an array without dimensions, as pgx
// encodes them.
func (p flat[V]) Encode(value any, buf []byte) ([]byte, error) {
	vs := value.([]V)
	if vs == nil {
		return nil, nil
	}
	if len(vs) > math.MaxInt32 {
		return nil, errTooLong
	}
	start := len(buf)
	buf = binary.BigEndian.AppendUint32(buf, 1)
	buf = binary.BigEndian.AppendUint32(buf, 0) // no NULL: set below if one is
	buf = binary.BigEndian.AppendUint32(buf, p.elem)
	buf = binary.BigEndian.AppendUint32(buf, uint32(len(vs)))
	buf = binary.BigEndian.AppendUint32(buf, 1)
	for _, v := range vs {
		at := len(buf)
		buf = binary.BigEndian.AppendUint32(buf, 0)
		var null bool
		buf, null = p.put(buf, v)
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
// text.
func appendJSONB(buf []byte, v []byte) ([]byte, bool) {
	if v == nil {
		return buf, true
	}
	return append(append(buf, 1), v...), false
}

func appendBytes(buf []byte, v []byte) ([]byte, bool) {
	if v == nil {
		return buf, true
	}
	return append(buf, v...), false
}
