package observe_test

import (
	"slices"
	"testing"

	"github.com/taskmodel/taskmodel/sdk/internal/observe"
)

// rec records the moves it sees under its name.
type rec struct {
	name string
	log  *[]string
}

func (r rec) Moved(m int) { *r.log = append(*r.log, r.name) }

// TestJoinEach: joined observers see every move in the order joined, and
// Each lists them flat; nil ones are left out.
func TestJoinEach(t *testing.T) {
	var log []string
	a, b, c := rec{"a", &log}, rec{"b", &log}, rec{"c", &log}
	for _, tc := range []struct {
		name string
		o    observe.Mover[int]
		want []string
	}{
		{"none", nil, nil},
		{"one", observe.Join[int](nil, a), []string{"a"}},
		{"one and nil", observe.Join[int](a, nil), []string{"a"}},
		{"two", observe.Join[int](a, b), []string{"a", "b"}},
		{"three, nested", observe.Join(observe.Join[int](a, b), c), []string{"a", "b", "c"}},
		{"three, nested right", observe.Join(a, observe.Join[int](b, c)), []string{"a", "b", "c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var names []string
			for _, o := range observe.Each(tc.o) {
				names = append(names, o.(rec).name)
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("Each = %v, want %v", names, tc.want)
			}
			log = nil
			if tc.o != nil {
				tc.o.Moved(1)
			}
			if !slices.Equal(log, tc.want) {
				t.Errorf("a move was seen by %v, want %v", log, tc.want)
			}
		})
	}
}
