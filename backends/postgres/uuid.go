package postgres

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
)

// RegisterUUID makes m encode and scan github.com/google/uuid's UUID, the
// type of every generated id, in PostgreSQL's binary format: 16 bytes
// copied. Without it pgx goes through the type's driver.Valuer and
// sql.Scanner, formatting every id as a string and parsing it back; for the
// id arrays of a batch statement (CreateMany, TransitionMany) that was most
// of the client's encoding time. OpenConfig registers it on every
// connection of its pool; a pool configured elsewhere can call it from
// AfterConnect. One difference from pgx's default: scanning a NULL into a
// uuid.UUID (not a pointer) is an error, where uuid.UUID's Scan left the
// zero UUID; nullable ids scan into *uuid.UUID, as the generated code does.
func RegisterUUID(m *pgtype.Map) {
	t := &pgtype.Type{Name: "uuid", OID: pgtype.UUIDOID, Codec: uuidCodec{}}
	m.RegisterType(t)
	m.RegisterType(&pgtype.Type{Name: "_uuid", OID: pgtype.UUIDArrayOID, Codec: &pgtype.ArrayCodec{ElementType: t}})
}

// registerTypesOnConnect chains RegisterUUID and RegisterArrays before
// cfg's AfterConnect.
func registerTypesOnConnect(cfg *pgxpool.Config) {
	next := cfg.AfterConnect
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		RegisterUUID(conn.TypeMap())
		RegisterArrays(conn.TypeMap())
		if next != nil {
			return next(ctx, conn)
		}
		return nil
	}
}

// uuidCodec is pgx's UUIDCodec with binary plans for uuid.UUID and
// *uuid.UUID (pgx's pointer wrapper skips a driver.Valuer, so a pointer
// needs its own plan); the text format and other types go through the
// UUIDCodec and pgx's wrappers.
type uuidCodec struct{ pgtype.UUIDCodec }

func (c uuidCodec) PlanEncode(m *pgtype.Map, oid uint32, format int16, value any) pgtype.EncodePlan {
	if format == pgtype.BinaryFormatCode {
		switch value.(type) {
		case uuid.UUID:
			return encodeUUID{}
		case *uuid.UUID:
			return encodeUUIDPointer{}
		}
	}
	return c.UUIDCodec.PlanEncode(m, oid, format, value)
}

func (c uuidCodec) PlanScan(m *pgtype.Map, oid uint32, format int16, target any) pgtype.ScanPlan {
	if _, ok := target.(*uuid.UUID); ok && format == pgtype.BinaryFormatCode {
		return scanUUID{}
	}
	return c.UUIDCodec.PlanScan(m, oid, format, target)
}

type encodeUUID struct{}

func (encodeUUID) Encode(value any, buf []byte) ([]byte, error) {
	u := value.(uuid.UUID)
	return append(buf, u[:]...), nil
}

type encodeUUIDPointer struct{}

func (encodeUUIDPointer) Encode(value any, buf []byte) ([]byte, error) {
	u := value.(*uuid.UUID)
	if u == nil {
		return nil, nil // NULL
	}
	return append(buf, u[:]...), nil
}

type scanUUID struct{}

func (scanUUID) Scan(src []byte, dst any) error {
	if src == nil {
		return fmt.Errorf("cannot scan NULL into *uuid.UUID")
	}
	if len(src) != 16 {
		return fmt.Errorf("invalid length for uuid: %d bytes", len(src))
	}
	copy(dst.(*uuid.UUID)[:], src)
	return nil
}
