package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
	"github.com/taskmodel/taskmodel/gen/training"
	trainingdb "github.com/taskmodel/taskmodel/gen/training/pgdb"
)

// arrayCases are slices a batch statement binds, with the array type the
// generated statements cast each to.
var arrayCases = []struct {
	name  string
	oid   uint32
	value any
}{
	{"text", pgtype.TextArrayOID, []string{"", "queued", "ünïcødé ✓", strings.Repeat("x", 300)}},
	{"bigint", pgtype.Int8ArrayOID, []int64{0, 1, -1, math.MaxInt64, math.MinInt64}},
	{"integer", pgtype.Int4ArrayOID, []int32{0, 7, -7, math.MaxInt32, math.MinInt32}},
	{"double", pgtype.Float8ArrayOID, []float64{0, 1.5, -2.25e-300, math.MaxFloat64, math.Inf(1)}},
	{"boolean", pgtype.BoolArrayOID, []bool{true, false, true}},
	{"timestamptz", pgtype.TimestamptzArrayOID, []time.Time{
		{}, time.Date(1999, 12, 31, 23, 59, 59, 999999000, time.UTC), time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 12, 7, 4, 5, 6, 123456789, time.FixedZone("x", 3600)), time.Date(1901, 1, 1, 0, 0, 0, 1000, time.UTC),
		time.Unix(-1, 999), time.Date(1969, 12, 31, 23, 59, 59, 500, time.FixedZone("y", -7*3600)),
	}},
	{"uuid", pgtype.UUIDArrayOID, []uuid.UUID{uuid.Nil, uuid.MustParse("0193a2b4-7c1d-7e2f-8a9b-0c1d2e3f4a5b")}},
	{"jsonb", pgtype.JSONBArrayOID, [][]byte{[]byte(`{"a": [1, 2]}`), nil, []byte(`"x"`)}},
	{"empty", pgtype.TextArrayOID, []string{}},
	{"nil", pgtype.Int8ArrayOID, []int64(nil)},
}

// TestArraysEncodeAsPgx: a driver's array argument (ArrayArg) is encoded
// by RegisterArrays's plan, not pgx's array codec, into the bytes pgx's
// codec writes for the plain slice — every element type the batch
// statements bind, NULL elements, an empty slice and a nil one — and, in a
// type map without RegisterArrays, by pgx's codec into the same bytes.
func TestArraysEncodeAsPgx(t *testing.T) {
	for _, c := range arrayCases {
		t.Run(c.name, func(t *testing.T) {
			want := encodeArray(t, pgxMap(false), c.oid, c.value)
			arg := postgres.ArrayArg(c.value)
			m := pgxMap(true)
			if plan := fmt.Sprintf("%T", m.PlanEncode(c.oid, pgtype.BinaryFormatCode, arg)); !strings.Contains(plan, "binaryArrayPlan") {
				t.Fatalf("plan %s after RegisterArrays, want its own", plan)
			}
			if got := encodeArray(t, m, c.oid, arg); !bytes.Equal(got, want) {
				t.Errorf("encoded\n%x\nwant pgx's\n%x", got, want)
			}
			if got := encodeArray(t, pgxMap(false), c.oid, arg); !bytes.Equal(got, want) {
				t.Errorf("without RegisterArrays, encoded\n%x\nwant pgx's\n%x", got, want)
			}
		})
	}
}

// TestArraysKeepOtherValues: RegisterArrays changes no value but the
// drivers' own arguments: a caller's slices, pointers, text-format
// parameters encode as pgx encodes them, and registering twice adds one
// hook.
func TestArraysKeepOtherValues(t *testing.T) {
	s := "x"
	for _, c := range []struct {
		name   string
		oid    uint32
		format int16
		value  any
	}{
		{"a caller's slice", pgtype.TextArrayOID, pgtype.BinaryFormatCode, []string{"a", "b"}},
		{"pointers", pgtype.TextArrayOID, pgtype.BinaryFormatCode, []*string{&s, nil}},
		{"a nested slice", pgtype.Int8ArrayOID, pgtype.BinaryFormatCode, [][]int64{{1, 2}, {3, 4}}},
		{"text format", pgtype.Int8ArrayOID, pgtype.TextFormatCode, []int64{1, 2}},
	} {
		t.Run(c.name, func(t *testing.T) {
			want, err := pgxMap(false).Encode(c.oid, c.format, c.value, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := pgxMap(true).Encode(c.oid, c.format, c.value, nil)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("Encode = %x, %v; want pgx's %x", got, err, want)
			}
		})
	}
	m := pgtype.NewMap()
	n := len(m.TryWrapEncodePlanFuncs)
	postgres.RegisterArrays(m)
	postgres.RegisterArrays(m)
	if got := len(m.TryWrapEncodePlanFuncs); got != n+1 {
		t.Errorf("%d encode hooks after registering twice, want %d", got, n+1)
	}
}

// TestArraysRoundTrip sends each case to PostgreSQL as a driver's argument
// through a pool OpenConfig made, and reads it back; and a caller's COPY of
// a two-dimensional array literal keeps its dimensions on such a pool.
func TestArraysRoundTrip(t *testing.T) {
	ctx := context.Background()
	pool, err := postgres.OpenConfig(ctx, pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	names := map[uint32]string{
		pgtype.TextArrayOID: "text[]", pgtype.Int8ArrayOID: "bigint[]", pgtype.Int4ArrayOID: "integer[]",
		pgtype.Float8ArrayOID: "double precision[]", pgtype.BoolArrayOID: "boolean[]",
		pgtype.TimestamptzArrayOID: "timestamptz[]", pgtype.UUIDArrayOID: "uuid[]", pgtype.JSONBArrayOID: "jsonb[]",
	}
	for _, c := range arrayCases {
		t.Run(c.name, func(t *testing.T) {
			back := reflect.New(reflect.TypeOf(c.value))
			var isNull bool
			arg := postgres.ArrayArg(c.value)
			err := pool.QueryRow(ctx, "SELECT $1::"+names[c.oid]+", $1::"+names[c.oid]+" IS NULL", arg).Scan(back.Interface(), &isNull)
			if err != nil {
				t.Fatal(err)
			}
			if want := reflect.ValueOf(c.value).IsNil(); isNull != want {
				t.Errorf("IS NULL = %v, want %v", isNull, want)
			}
			if got, want := normalize(back.Elem().Interface()), normalize(c.value); !reflect.DeepEqual(got, want) {
				t.Errorf("read back %v, want %v", got, want)
			}
		})
	}
	t.Run("copy of a literal", func(t *testing.T) {
		if _, err := pool.Exec(ctx, "CREATE TABLE copied (a text[])"); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.CopyFrom(ctx, pgx.Identifier{"copied"}, []string{"a"}, pgx.CopyFromRows([][]any{{"{{a,b},{c,d}}"}})); err != nil {
			t.Fatal(err)
		}
		var dims string
		if err := pool.QueryRow(ctx, "SELECT array_dims(a) FROM copied").Scan(&dims); err != nil || dims != "[1:2][1:2]" {
			t.Errorf("the copied array has dimensions %q (%v), want [1:2][1:2]", dims, err)
		}
	})
}

// normalize makes values comparable after a round trip: times in UTC at
// PostgreSQL's microseconds, JSON without the spaces jsonb drops.
func normalize(v any) any {
	switch v := v.(type) {
	case []time.Time:
		out := make([]time.Time, len(v))
		for i, x := range v {
			out[i] = x.UTC().Truncate(time.Microsecond)
		}
		return out
	case [][]byte:
		out := make([]string, len(v))
		for i, x := range v {
			if x == nil {
				out[i] = "NULL"
				continue
			}
			out[i] = strings.ReplaceAll(string(x), " ", "")
		}
		return out
	}
	return v
}

// FuzzArraysEncodeAsPgx compares the encoding of drivers' array arguments
// under RegisterArrays with pgx's for arbitrary texts, integers, floats,
// times and JSON texts.
func FuzzArraysEncodeAsPgx(f *testing.F) {
	f.Add("queued", int64(3), 1.5, int64(0), []byte(`{}`))
	f.Add("", int64(math.MinInt64), math.NaN(), int64(-62135596800), []byte(nil))
	f.Fuzz(func(t *testing.T, s string, n int64, x float64, unix int64, doc []byte) {
		at := time.Unix(unix%(1<<40), n%1e9)
		for _, c := range []struct {
			oid   uint32
			value any
		}{
			{pgtype.TextArrayOID, []string{s, s + s}},
			{pgtype.Int8ArrayOID, []int64{n, -n}},
			{pgtype.Int4ArrayOID, []int32{int32(n)}},
			{pgtype.Float8ArrayOID, []float64{x}},
			{pgtype.TimestamptzArrayOID, []time.Time{at}},
			{pgtype.JSONBArrayOID, [][]byte{doc, nil}},
		} {
			want := encodeArray(t, pgxMap(false), c.oid, c.value)
			if got := encodeArray(t, pgxMap(true), c.oid, postgres.ArrayArg(c.value)); !bytes.Equal(got, want) {
				t.Errorf("%T %v: encoded %x, want pgx's %x", c.value, c.value, got, want)
			}
		}
	})
}

// pgxMap is a type map as a connection of OpenConfig's pool has it: with
// RegisterUUID, and with RegisterArrays when arrays is set.
func pgxMap(arrays bool) *pgtype.Map {
	m := pgtype.NewMap()
	postgres.RegisterUUID(m)
	if arrays {
		postgres.RegisterArrays(m)
	}
	return m
}

func encodeArray(t testing.TB, m *pgtype.Map, oid uint32, value any) []byte {
	t.Helper()
	buf, err := m.Encode(oid, pgtype.BinaryFormatCode, value, nil)
	if err != nil {
		t.Fatalf("Encode %T: %v", value, err)
	}
	return buf
}

// BenchmarkTransitionArgs encodes the parameters of a batch of 512
// transitions of the training model, as pgx encodes them into a Bind
// message, with pgx's array codec and with RegisterArrays.
func BenchmarkTransitionArgs(b *testing.B) {
	xs := make([]*training.Training, 512)
	for i := range xs {
		xs[i] = training.NewTraining()
		xs[i].ID = uuid.New()
		tag := fmt.Sprint("tag-", i)
		xs[i].Tag = &tag
	}
	d := trainingdb.NewDriver(nil)
	for _, arrays := range []bool{false, true} {
		b.Run(fmt.Sprintf("RegisterArrays=%v", arrays), func(b *testing.B) {
			m := pgxMap(arrays)
			var buf []byte
			b.ReportAllocs()
			for b.Loop() {
				args, err := postgres.TransitionArgs(d.Driver, xs)
				if err != nil {
					b.Fatal(err)
				}
				buf = buf[:0]
				for _, a := range args {
					oid := arrayOIDs[reflect.TypeOf(a)]
					if arrays {
						a = postgres.ArrayArg(a)
					}
					if buf, err = m.Encode(oid, pgtype.BinaryFormatCode, a, buf); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(xs)), "ns/row")
		})
	}
}

// arrayOIDs is the array type the batch statements cast each slice type to.
var arrayOIDs = map[reflect.Type]uint32{
	reflect.TypeFor[[]string]():    pgtype.TextArrayOID,
	reflect.TypeFor[[]int64]():     pgtype.Int8ArrayOID,
	reflect.TypeFor[[]int32]():     pgtype.Int4ArrayOID,
	reflect.TypeFor[[]float64]():   pgtype.Float8ArrayOID,
	reflect.TypeFor[[]bool]():      pgtype.BoolArrayOID,
	reflect.TypeFor[[]time.Time](): pgtype.TimestamptzArrayOID,
	reflect.TypeFor[[]uuid.UUID](): pgtype.UUIDArrayOID,
	reflect.TypeFor[[][]byte]():    pgtype.JSONBArrayOID,
}
