package enum_test

import (
	"database/sql/driver"
	"fmt"

	"github.com/taskmodel/taskmodel/enum"
)

// Size is an enumeration written the way taskgen writes one: the type, its
// constants, a Table of them and methods that delegate to it.
type Size string

const (
	SizeSmall Size = "S"
	SizeLarge Size = "L"
)

var sizeEnum = enum.New("Size", "size", SizeSmall, SizeLarge)

func (s Size) Valid() bool                   { return sizeEnum.Index(string(s)) >= 0 }
func (s Size) MarshalText() ([]byte, error)  { return []byte(s), nil }
func (s *Size) UnmarshalText(b []byte) error { return sizeEnum.UnmarshalText(s, b) }
func (s *Size) Scan(src any) error           { return sizeEnum.Scan(s, src) }
func (s Size) Value() (driver.Value, error)  { return string(s), nil }

func Example() {
	var s Size
	fmt.Println(s.UnmarshalText([]byte("L")), s, s.Valid())
	fmt.Println(s.UnmarshalText([]byte("XL")))
	fmt.Println(s.Scan(nil))
	_, err := sizeEnum.Parse("")
	fmt.Println(err)
	fmt.Println(sizeEnum.Values())
	// Output:
	// <nil> L true
	// size: unknown value "XL"; allowed: S, L
	// cannot scan <nil> into Size
	// size: missing; allowed: S, L
	// [S L]
}
