package tasktype_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/taskmodel/taskmodel/tasktype"
)

func TestFillRange(t *testing.T) {
	tests := []struct {
		from, to int
		done     float64
		want     int
	}{
		{15, 95, 0, 15}, {15, 95, 0.5, 55}, {15, 95, 1, 95}, {15, 95, 2, 95}, {15, 95, -1, 15},
		{15, 95, math.NaN(), 15}, {15, 95, 1.0 / 3, 41}, {0, 100, 0.999, 99}, {50, 50, 0.5, 50},
	}
	for _, tt := range tests {
		if got := tasktype.FillRange(tt.from, tt.to, tt.done); got != tt.want {
			t.Errorf("FillRange(%d, %d, %v) = %d, want %d", tt.from, tt.to, tt.done, got, tt.want)
		}
	}
}

func TestParseCode(t *testing.T) {
	for _, c := range tasktype.Codes() {
		if got, err := tasktype.ParseCode(string(c)); err != nil || got != c {
			t.Errorf("ParseCode(%s) = %s, %v", c, got, err)
		}
	}
	for _, bad := range []string{"", "q", "X", "QR"} {
		_, err := tasktype.ParseCode(bad)
		if err == nil || err.Error() != "status: must be one of Q, R, D, F, C" || !errors.Is(err, tasktype.ErrValidation) {
			t.Errorf("ParseCode(%q) error = %v", bad, err)
		}
	}
}

func TestCodeWord(t *testing.T) {
	for _, tc := range []struct {
		code tasktype.Code
		want string
	}{
		{tasktype.CodeQueued, "waiting"},
		{tasktype.CodeRunning, "running"},
		{tasktype.CodeDone, "done"},
		{tasktype.CodeFailed, "failed"},
		{tasktype.CodeCancelled, "cancelled"},
		{"X", ""},
		{"", ""},
	} {
		if got := tc.code.Word(); got != tc.want {
			t.Errorf("Code(%q).Word() = %q, want %q", tc.code, got, tc.want)
		}
	}
}

func TestValidationError(t *testing.T) {
	err := error(&tasktype.ValidationError{Type: "Job", Fields: []*tasktype.FieldError{
		{Field: "name", Rule: "max_len", Message: "must be at most 3 characters (got 4)"},
		{Field: "n", Rule: "ge", Message: "must be ≥ 0 (got -1)"},
	}})
	if got := err.Error(); got != "invalid Job: name: must be at most 3 characters (got 4); n: must be ≥ 0 (got -1)" {
		t.Errorf("Error() = %q", got)
	}
	var fe *tasktype.FieldError
	if !errors.Is(err, tasktype.ErrValidation) || !errors.As(err, &fe) || fe.Field != "name" {
		t.Errorf("errors.Is/As failed: %v", fe)
	}
	if errors.Is(err, tasktype.ErrTransitionNotAllowed) {
		t.Error("a validation error matched ErrTransitionNotAllowed")
	}
	// Without a type, the fields alone (a model's Fire with several
	// required fields missing).
	err = &tasktype.ValidationError{Fields: []*tasktype.FieldError{
		{Field: "error_code", Rule: "required", Message: `is required by event "fail"`},
		{Field: "error_message", Rule: "required", Message: `is required by event "fail"`},
	}}
	if got := err.Error(); got != `error_code: is required by event "fail"; error_message: is required by event "fail"` {
		t.Errorf("Error() without a type = %q", got)
	}
}

func TestCutMiddle(t *testing.T) {
	long := "Traceback (most recent call last):\n" + strings.Repeat("  frame\n", 20) + "ValueError: bad row 7"
	tests := []struct {
		name string
		s    string
		n    int
		want string
	}{
		{"fits", "short", 10, "short"},
		{"exactly", "0123456789", 10, "0123456789"},
		{"no limit", "0123456789", -1, "0123456789"},
		{"too small for both ends", "0123456789abcdefghij", 12, "0123456789ab"},
		{"first quarter and end", "0123456789abcdefghijklmnopqrstuvwxyz", 20, "0123 … nopqrstuvwxyz"},
		{"runes, not bytes", "ééééééééééééééééééééé", 16, "ééé … éééééééééé"},
		{"the last line kept", long, 60, "Traceback (mos … frame\n  frame\n  frame\nValueError: bad row 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tasktype.CutMiddle(tt.s, tt.n)
			if got != tt.want {
				t.Errorf("CutMiddle(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
			}
			if n := utf8.RuneCountInString(got); tt.n >= 0 && n > tt.n {
				t.Errorf("%d characters, more than %d", n, tt.n)
			}
		})
	}
}

func TestCutMiddleBytes(t *testing.T) {
	tests := []struct {
		name string
		s    string
		n    int
		want string
	}{
		{"fits", "short", 10, "short"},
		{"exactly", "0123456789", 10, "0123456789"},
		{"no limit", "0123456789", -1, "0123456789"},
		{"too small for both ends", "0123456789abcdefghij", 12, "0123456789ab"},
		{"too small, between characters", "éééééééééé", 7, "ééé"},
		{"first quarter and end", "0123456789abcdefghijklmnopqrstuvwxyz", 20, "012 … opqrstuvwxyz"},
		{"between characters", "éééééééééééééééééééééééééééééé", 24, "éé … ééééééé"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tasktype.CutMiddleBytes(tt.s, tt.n)
			if got != tt.want {
				t.Errorf("CutMiddleBytes(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
			}
			if tt.n >= 0 && len(got) > tt.n || !utf8.ValidString(got) {
				t.Errorf("%d bytes (at most %d), valid UTF-8 %t", len(got), tt.n, utf8.ValidString(got))
			}
		})
	}
}

// FuzzCutMiddleBytes: the result fits, is valid UTF-8 when the input is,
// and keeps the input's start and end.
func FuzzCutMiddleBytes(f *testing.F) {
	f.Add("éééééééééééééééééééééé€€€€€€€€", 20)
	f.Add("0123456789", 3)
	f.Fuzz(func(t *testing.T, s string, n int) {
		n %= 1 << 12
		got := tasktype.CutMiddleBytes(s, n)
		if n >= 0 && len(got) > n {
			t.Fatalf("%d bytes, more than %d", len(got), n)
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("%q: not valid UTF-8", got)
		}
		if n >= 16 && len(s) > n {
			head, tail, ok := strings.Cut(got, " … ")
			if !ok || !strings.HasPrefix(s, head) || !strings.HasSuffix(s, tail) {
				t.Fatalf("%q does not keep the start and end of %q", got, s)
			}
		}
	})
}
