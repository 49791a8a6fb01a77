package postgres_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/taskmodel/taskmodel/backends/postgres"
	"github.com/taskmodel/taskmodel/backends/postgres/pgtest"
)

// TestUUIDRoundTrip: with RegisterUUID (OpenConfig registers it), ids,
// nullable ids and id arrays go to the server and back unchanged, NULLs
// included, and the server reads them as the uuids they are.
func TestUUIDRoundTrip(t *testing.T) {
	ctx := context.Background()
	pool, err := postgres.OpenConfig(ctx, pgtest.Schema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	id := uuid.MustParse("01a22aa1-3f2a-7d23-8d7b-cf50cb33c418")
	ids := []uuid.UUID{id, uuid.New(), {}}
	var nilID *uuid.UUID
	cases := []struct {
		name string
		sql  string
		args []any
		text string
	}{
		{"uuid", `SELECT $1::uuid, $1::uuid::text`, []any{id}, id.String()},
		{"pointer", `SELECT $1::uuid, $1::uuid::text`, []any{&id}, id.String()},
	}
	for _, c := range cases {
		var got uuid.UUID
		var text string
		if err := pool.QueryRow(ctx, c.sql, c.args...).Scan(&got, &text); err != nil || got != id || text != c.text {
			t.Errorf("%s: %v, %q, %v; want %v", c.name, got, text, err, id)
		}
	}
	var got *uuid.UUID
	if err := pool.QueryRow(ctx, `SELECT $1::uuid`, nilID).Scan(&got); err != nil || got != nil {
		t.Errorf("NULL: %v, %v; want nil", got, err)
	}
	if err := pool.QueryRow(ctx, `SELECT $1::uuid`, id).Scan(&got); err != nil || got == nil || *got != id {
		t.Errorf("into a pointer: %v, %v; want %v", got, err, id)
	}
	ptrs := []*uuid.UUID{&id, nil}
	var backPtrs []*uuid.UUID
	if err := pool.QueryRow(ctx, `SELECT $1::uuid[]`, ptrs).Scan(&backPtrs); err != nil || len(backPtrs) != 2 || backPtrs[0] == nil || *backPtrs[0] != id || backPtrs[1] != nil {
		t.Errorf("array of pointers: %v, %v; want [%v NULL]", backPtrs, err, id)
	}
	var back []uuid.UUID
	var texts []string
	if err := pool.QueryRow(ctx, `SELECT $1::uuid[], $1::uuid[]::text[]`, ids).Scan(&back, &texts); err != nil || !slices.Equal(back, ids) {
		t.Errorf("array: %v, %v; want %v", back, err, ids)
	}
	for i, s := range texts {
		if s != ids[i].String() {
			t.Errorf("array element %d reads %q on the server, want %q", i, s, ids[i])
		}
	}
}

// TestUUIDEncodesInBinary: RegisterUUID's plan writes the 16 bytes itself
// (pgx's default plan for uuid.UUID calls its driver.Valuer, a string).
func TestUUIDEncodesInBinary(t *testing.T) {
	m := pgtype.NewMap()
	id := uuid.New()
	if plan := fmt.Sprintf("%T", m.PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, id)); !strings.Contains(plan, "DriverValuer") {
		t.Fatalf("pgx's default plan is %s: the test no longer tells the two apart", plan)
	}
	postgres.RegisterUUID(m)
	plan := m.PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, id)
	if name := fmt.Sprintf("%T", plan); strings.Contains(name, "DriverValuer") {
		t.Errorf("plan %s after RegisterUUID, want the binary one", name)
	}
	buf, err := plan.Encode(id, nil)
	if err != nil || !bytes.Equal(buf, id[:]) {
		t.Errorf("Encode = %x, %v; want %x", buf, err, id[:])
	}
	if name := fmt.Sprintf("%T", m.PlanEncode(pgtype.UUIDOID, pgtype.BinaryFormatCode, &id)); strings.Contains(name, "DriverValuer") {
		t.Errorf("plan %s for a *uuid.UUID after RegisterUUID, want the binary one", name)
	}
}
