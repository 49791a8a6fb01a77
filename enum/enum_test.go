package enum_test

import (
	"errors"
	"testing"

	"github.com/taskmodel/taskmodel/enum"
	"github.com/taskmodel/taskmodel/tasktype"
)

type color string

const (
	red    color = "RED"
	green  color = "GREEN"
	blue   color = "BLUE"
	purple color = "PURPLE"
)

var colors = enum.New("Color", "color", red, green, blue, purple)

func TestParse(t *testing.T) {
	tests := []struct {
		text    string
		want    color
		wantErr string
		rule    string
	}{
		{text: "RED", want: red},
		{text: "BLUE", want: blue},
		{text: "PURPLE", want: purple},
		{text: "", wantErr: "color: missing; allowed: RED, GREEN, BLUE, PURPLE", rule: "required"},
		{text: "red", wantErr: `color: unknown value "red"; allowed: RED, GREEN, BLUE, PURPLE`, rule: "one_of"},
		{text: "BLUES", wantErr: `color: unknown value "BLUES"; allowed: RED, GREEN, BLUE, PURPLE`, rule: "one_of"},
		{text: "A VERY LONG VALUE", wantErr: `color: unknown value "A VERY LONG VALUE"; allowed: RED, GREEN, BLUE, PURPLE`, rule: "one_of"},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			for name, parse := range map[string]func(string) (color, error){
				"Parse": colors.Parse,
				"UnmarshalText": func(s string) (color, error) {
					c := color("unchanged")
					err := colors.UnmarshalText(&c, []byte(s))
					if err != nil && c != "unchanged" {
						t.Errorf("UnmarshalText(%q) changed its destination to %q on error", s, c)
					}
					return c, err
				},
				"Scan string": func(s string) (color, error) {
					var c color
					err := colors.Scan(&c, s)
					return c, err
				},
				"Scan bytes": func(s string) (color, error) {
					var c color
					err := colors.Scan(&c, []byte(s))
					return c, err
				},
			} {
				got, err := parse(tt.text)
				if tt.wantErr == "" {
					if err != nil || got != tt.want {
						t.Errorf("%s(%q) = %q, %v; want %q", name, tt.text, got, err, tt.want)
					}
					if i := colors.Index(tt.text); i < 0 || colors.Values()[i] != tt.want {
						t.Errorf("Index(%q) = %d", tt.text, i)
					}
					continue
				}
				var fe *tasktype.FieldError
				if !errors.As(err, &fe) || err.Error() != tt.wantErr || fe.Rule != tt.rule || fe.Field != "color" {
					t.Fatalf("%s(%q) error = %v (%#v); want %q, rule %s", name, tt.text, err, fe, tt.wantErr, tt.rule)
				}
				if tt.text != "" && fe.Value != tt.text {
					t.Errorf("%s(%q): FieldError.Value = %q", name, tt.text, fe.Value)
				}
				if !errors.Is(err, tasktype.ErrValidation) {
					t.Errorf("%s(%q): error does not match tasktype.ErrValidation", name, tt.text)
				}
				if i := colors.Index(tt.text); i != -1 {
					t.Errorf("Index(%q) = %d; want -1", tt.text, i)
				}
			}
		})
	}
}

func TestScanOtherTypes(t *testing.T) {
	tests := []struct {
		src  any
		want string
	}{
		{src: nil, want: "cannot scan <nil> into Color"},
		{src: 7, want: "cannot scan int into Color"},
		{src: int64(7), want: "cannot scan int64 into Color"},
	}
	for _, tt := range tests {
		c := red
		if err := colors.Scan(&c, tt.src); err == nil || err.Error() != tt.want || c != red {
			t.Errorf("Scan(%#v) = %v, left %q; want %q and RED", tt.src, err, c, tt.want)
		}
	}
}

func TestFieldless(t *testing.T) {
	// A spec enumeration's errors name no field: the message stands alone,
	// and a value may hold what fmt would read as a verb.
	sizes := enum.New("Size", "", "S", "M", "100%")
	_, err := sizes.Parse("XL")
	if err == nil || err.Error() != `unknown value "XL"; allowed: S, M, 100%` {
		t.Errorf("Parse(XL) error = %v", err)
	}
}

func TestValues(t *testing.T) {
	got := colors.Values()
	want := []color{red, green, blue, purple}
	if len(got) != len(want) {
		t.Fatalf("Values() = %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Values() = %q; want %q", got, want)
		}
	}
	got[0] = "CHANGED"
	if colors.Values()[0] != red {
		t.Error("changing the slice Values returned changed the table")
	}
}

func TestNewRefuses(t *testing.T) {
	tests := []struct {
		name   string
		values []color
		want   string
	}{
		{name: "repeated", values: []color{red, blue, red}, want: `enum: Color: value "RED" is empty or repeated`},
		{name: "empty", values: []color{red, ""}, want: `enum: Color: value "" is empty or repeated`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); r != tt.want {
					t.Errorf("New panicked with %v; want %q", r, tt.want)
				}
			}()
			enum.New("Color", "color", tt.values...)
		})
	}
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	b := []byte("PURPLE")
	var src any = []byte("GREEN") // boxed once: database/sql hands Scan an any
	var c color
	if n := testing.AllocsPerRun(100, func() {
		if err := colors.UnmarshalText(&c, b); err != nil {
			t.Fatal(err)
		}
		if err := colors.Scan(&c, src); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("UnmarshalText and Scan of a declared value allocate %v times; want 0", n)
	}
}

func TestAt(t *testing.T) {
	table := []string{"zero", "one"}
	tests := []struct {
		i    int
		want string
	}{{0, "zero"}, {1, "one"}, {-1, ""}}
	for _, tt := range tests {
		if got := enum.At(table, tt.i); got != tt.want {
			t.Errorf("At(%d) = %q; want %q", tt.i, got, tt.want)
		}
	}
}
