package gen

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestCheckNameAgrees: taskgen names a column's CHECK constraint as the
// programs look it up (backends.CheckName, in the main module, which this
// module does not import): both tests read the same cases.
func TestCheckNameAgrees(t *testing.T) {
	data, err := os.ReadFile("../../../../backends/testdata/checknames.txt")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		limit, err := strconv.Atoi(f[0])
		if err != nil || len(f) != 4 {
			t.Fatalf("checknames.txt: bad line %q", line)
		}
		n++
		if got := checkName(limit, f[1], f[2]); got != f[3] {
			t.Errorf("checkName(%d, %q, %q) = %q, want %q (as backends.CheckName)", limit, f[1], f[2], got, f[3])
		}
	}
	if n == 0 {
		t.Fatal("checknames.txt holds no case")
	}
}
